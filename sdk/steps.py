"""``@step``: a function whose outputs are stored, recorded and linked when it runs inside a pipeline."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from modelog.sdk.config import ArtifactConfig
from modelog.sdk.errors import ConfigError, StepOutputError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_OUTPUT = "output"


@dataclass(frozen=True)
class OutputDecl:
    """One declared output of a step: its name and how it links to the model version."""

    name: str
    config: ArtifactConfig


def _declared(annotation: Any) -> OutputDecl:
    name, config = DEFAULT_OUTPUT, ArtifactConfig()
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, str):
                name = meta
            elif isinstance(meta, ArtifactConfig):
                config = meta
    if name == DEFAULT_OUTPUT and config.name:
        name = config.name
    return OutputDecl(name, config)


def parse_outputs(annotation: Any) -> tuple[OutputDecl, ...] | None:
    """The outputs a return annotation declares; None when there is no annotation (one ``output`` if not None)."""
    if annotation is inspect.Signature.empty:
        return None
    if annotation is None or annotation is type(None):
        return ()
    if typing.get_origin(annotation) in (tuple, typing.Tuple):  # noqa: UP006 - both spellings occur
        items = typing.get_args(annotation)
        if items and items[-1] is not Ellipsis:
            return _unique(tuple(_declared(item) for item in items))
    return (_declared(annotation),)


def _unique(outputs: tuple[OutputDecl, ...]) -> tuple[OutputDecl, ...]:
    names = [o.name for o in outputs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"step outputs must have distinct names; repeated: {', '.join(duplicated)}")
    return outputs


def _source_of(func: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        code = func.__code__
        return hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()


_MODULE_HASHES: dict[tuple[str, float, int], str] = {}


def module_source_hash(func: Callable[..., Any]) -> str | None:
    """SHA-256 of the source file of the module defining ``func`` (None when it has none, e.g. a REPL).

    A step's result depends on more than its own body: module-level constants, helpers and imports
    of its module. Hashing the whole module makes any edit to it a cache miss. Memoised per file,
    size and modification time, so many steps of one module read it once.
    """
    module = inspect.getmodule(func)
    try:
        path = inspect.getsourcefile(module) if module is not None else None
        if path is None:
            return None
        info = os.stat(path)
        key = (path, info.st_mtime, info.st_size)
        if key not in _MODULE_HASHES:
            with open(path, "rb") as handle:
                _MODULE_HASHES[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return _MODULE_HASHES[key]
    except (OSError, TypeError):
        return None


def _return_annotation(func: Callable[..., Any]) -> Any:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as error:  # noqa: BLE001 - any unresolvable annotation means "undeclared"
        raise ConfigError(f"step {func.__name__!r}: cannot resolve its type annotations ({error})") from None
    return hints.get("return", inspect.Signature.empty)


class Step:
    """A step: call it inside a ``@pipeline`` function to run and record it; outside, it is a plain call."""

    def __init__(self, func: Callable[..., Any], *, name: str | None = None, enable_cache: bool | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.enable_cache = enable_cache
        self.signature = inspect.signature(func)
        self.outputs = parse_outputs(_return_annotation(func))
        self.source = _source_of(func)
        self.module_hash = module_source_hash(func)
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from modelog.sdk.pipelines import current_run

        run = current_run()
        if run is None:
            return self.func(*args, **kwargs)
        return run.execute_step(self, args, kwargs)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        """Bind call arguments to the step's parameters (defaults applied)."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise ConfigError(f"step {self.name!r}: {error}") from None
        bound.apply_defaults()
        return bound

    def split_outputs(self, value: Any) -> list[tuple[OutputDecl, Any]]:
        """Pair the returned value(s) with the declared outputs."""
        outputs = self.outputs
        if outputs is None:
            return [] if value is None else [(OutputDecl(DEFAULT_OUTPUT, ArtifactConfig()), value)]
        if len(outputs) == 0:
            return []
        if len(outputs) == 1:
            return [(outputs[0], value)]
        if not isinstance(value, tuple) or len(value) != len(outputs):
            got = f"a tuple of {len(value)}" if isinstance(value, tuple) else type(value).__name__
            raise StepOutputError(f"step {self.name!r} declares {len(outputs)} outputs "
                                  f"({', '.join(o.name for o in outputs)}) but returned {got}")
        return list(zip(outputs, value, strict=True))


@overload
def step(func: F) -> F: ...


@overload
def step(*, name: str | None = None, enable_cache: bool | None = None) -> Callable[[F], F]: ...


def step(func: Callable[..., Any] | None = None, *, name: str | None = None,
         enable_cache: bool | None = None) -> Any:
    """Make a function a step. Works bare (``@step``) or with arguments (``@step(enable_cache=False)``).

    ``enable_cache`` None inherits the pipeline's setting.
    """
    if func is not None:
        return Step(func, name=name, enable_cache=enable_cache)
    return lambda f: Step(f, name=name, enable_cache=enable_cache)
