"""``@pipeline``: run a function of steps now, recording the run, its steps and their outputs in the log."""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from modelog.projections.views import RunView
from modelog.registry.logs import get_logger
from modelog.registry.values import RunStatus
from modelog.sdk.caching import cache_key, load_cached, record_cached
from modelog.sdk.client import Client, active_client
from modelog.sdk.config import ModelConfig
from modelog.sdk.errors import StepContextError
from modelog.sdk.model_version import ModelVersion
from modelog.sdk.outputs import StoredOutput, store_outputs
from modelog.sdk.steps import Step

log = get_logger("modelog.sdk")
F = TypeVar("F", bound=Callable[..., Any])

_RUN: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("modelog_run", default=None)
_STEP: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("modelog_step", default=None)


@dataclass(frozen=True)
class StepContext:
    """What a running step can see: its run, its name and the model version of the run's context."""

    pipeline_run: PipelineRun
    step_name: str
    model_version: ModelVersion | None


def get_step_context() -> StepContext:
    """The context of the step running now; StepContextError outside a step."""
    context = _STEP.get()
    if context is None:
        raise StepContextError("get_step_context() can only be called inside a step running in a pipeline")
    return context


@dataclass
class PipelineRun:
    """A pipeline run as the SDK sees it: id, model version, step outputs and the final status."""

    id: str
    pipeline: str
    model_version: ModelVersion | None
    client: Client = field(repr=False)
    status: str = RunStatus.RUNNING
    steps: dict[str, dict[str, StoredOutput]] = field(default_factory=dict)
    output: Any = field(default=None, repr=False)

    def view(self) -> RunView:
        """The run as recorded in the registry (live)."""
        return self.client.api.get_run(self.id)


def current_run() -> RunContext | None:
    """The pipeline run executing in this context, if any."""
    return _RUN.get()


class RunContext:
    """Executes the steps of one pipeline run and remembers which values came from which artifacts."""

    def __init__(self, client: Client, run: PipelineRun, enable_cache: bool) -> None:
        self.client, self.run, self.enable_cache = client, run, enable_cache
        self.produced: dict[int, tuple[Any, str]] = {}
        self.step_counts: Counter[str] = Counter()
        self.failed_step: str | None = None

    def _step_name(self, step: Step) -> str:
        self.step_counts[step.name] += 1
        count = self.step_counts[step.name]
        return step.name if count == 1 else f"{step.name}_{count}"

    def artifact_hash_of(self, value: Any) -> str | None:
        """The content hash of ``value`` if an earlier step of this run produced it."""
        found = self.produced.get(id(value))
        return found[1] if found is not None and found[0] is value else None

    def execute_step(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run (or serve from cache) one step, record it, and return its loaded outputs."""
        name = self._step_name(step)
        self.failed_step = name
        bound = step.bind(args, kwargs)
        key = cache_key(step, bound, self)
        use_cache = self.enable_cache if step.enable_cache is None else step.enable_cache
        outputs = load_cached(self.client, step, key) if use_cache else None
        if outputs is not None:
            record_cached(self.client, self.run.id, name, key, outputs)
        else:
            outputs = self._run_body(step, name, bound, key)
        self.failed_step = None
        return self._hand_over(step, name, outputs)

    def _run_body(self, step: Step, name: str, bound: inspect.BoundArguments, key: str) -> list[StoredOutput]:
        token = _STEP.set(StepContext(self.run, name, self.run.model_version))
        started = time.perf_counter()
        try:
            value = step.func(*bound.args, **bound.kwargs)
        finally:
            _STEP.reset(token)
        duration = (time.perf_counter() - started) * 1000
        return store_outputs(self.client, self.run.id, name, step.split_outputs(value), key, duration)

    def _hand_over(self, step: Step, name: str, outputs: list[StoredOutput]) -> Any:
        self.run.steps[name] = {o.name: o for o in outputs}
        for output in outputs:
            self.produced[id(output.value)] = (output.value, output.content_hash)
        values = [o.value for o in outputs]
        if step.outputs is not None and len(step.outputs) > 1:
            return tuple(values)
        return values[0] if values else None


class Pipeline:
    """A pipeline: calling it runs the function now, in this process, and returns the :class:`PipelineRun`."""

    def __init__(self, func: Callable[..., Any], *, name: str | None = None, enable_cache: bool = True,
                 model_config: ModelConfig | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.enable_cache = enable_cache
        self.model_config = model_config
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> PipelineRun:
        if _RUN.get() is not None:
            raise StepContextError(f"pipeline {self.name!r} cannot run inside another pipeline")
        client = active_client()
        run = self._start(client)
        context = RunContext(client, run, self.enable_cache)
        token = _RUN.set(context)
        started = time.perf_counter()
        try:
            run.output = self.func(*args, **kwargs)
        except BaseException as error:
            self._record_failure(context, error, started)
            raise
        finally:
            _RUN.reset(token)
        client.api.finish_run(run.id, duration_ms=_elapsed_ms(started))
        run.status = RunStatus.COMPLETED
        return run

    def _start(self, client: Client) -> PipelineRun:
        run_id = str(uuid.uuid4())
        model = self.model_config.to_context() if self.model_config else None
        result = client.api.start_run(run_id, self.name, model=model, enable_cache=self.enable_cache)
        version = ModelVersion(client, result.model_name, result.number) if result.model_name and result.number \
            else None
        return PipelineRun(run_id, self.name, version, client)

    def _record_failure(self, context: RunContext, error: BaseException, started: float) -> None:
        context.run.status = RunStatus.FAILED
        delete = bool(self.model_config and self.model_config.delete_new_version_on_failure)
        try:
            context.client.api.fail_run(context.run.id, error_type=type(error).__qualname__,
                                        error_message=str(error) or repr(error), failed_step=context.failed_step,
                                        delete_created_version=delete, duration_ms=_elapsed_ms(started))
        except Exception as record_error:  # noqa: BLE001 - the user's error must surface, not ours
            log.error("could not record the failed run", run_id=context.run.id, error=str(record_error))


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


@overload
def pipeline(func: F) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None, enable_cache: bool = True,
             model_config: ModelConfig | None = None) -> Callable[[F], Pipeline]: ...


def pipeline(func: Callable[..., Any] | None = None, *, name: str | None = None, enable_cache: bool = True,
             model_config: ModelConfig | None = None) -> Any:
    """Make a function a pipeline, bare (``@pipeline``) or with arguments (``@pipeline(model_config=...)``)."""
    if func is not None:
        return Pipeline(func, name=name, enable_cache=enable_cache, model_config=model_config)
    return lambda f: Pipeline(f, name=name, enable_cache=enable_cache, model_config=model_config)
