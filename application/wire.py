"""The wire form of the service API's values: JSON-ready dicts out, the same typed objects back in.

The server encodes every view, outcome and report with :func:`to_wire` (a dataclass becomes
an object of its fields, a tuple a list, an enum its value); :class:`RemoteRegistry` decodes
them with :func:`from_wire`, which rebuilds the frozen dataclasses (and the pydantic step
outputs inside them) from their field types, so a remote caller gets exactly what a local one
does. Requests that carry domain values (a run's model context, a step's outputs) are built
here too, in the application layer, with the same validation as in process.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from modelog.registry.errors import InvalidInputError

T = TypeVar("T")

_HINTS: dict[type, dict[str, Any]] = {}


#: Values that are their own wire form (most leaves of an answer: checked first, by exact type).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_wire(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses by field, pydantic models dumped, tuples as lists."""
    if type(value) in _PLAIN:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_wire(item) for key, item in value.items()}
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic model (a step output inside StepRecorded)
        return to_wire(dump(mode="json"))
    return value


def _namespace(cls: type) -> dict[str, Any]:
    """Names the annotations of ``cls`` may use that its module imports only for type checking."""
    from modelog.registry.events import StepOutput
    from modelog.registry.store import StoredEvent

    return {**vars(sys.modules[cls.__module__]), "StoredEvent": StoredEvent, "StepOutput": StepOutput}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, globalns=_namespace(cls))
    return _HINTS[cls]


def from_wire(kind: Any, data: Any) -> Any:
    """Rebuild a value of type ``kind`` (a dataclass, a pydantic model, a container of them) from wire data."""
    if kind in _PLAIN:
        return data
    origin = typing.get_origin(kind)
    if kind is Any or kind is None or kind is type(None):
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return from_wire(options[0], data) if len(options) == 1 else data
    if origin is tuple:
        args = typing.get_args(kind)
        return tuple(from_wire(args[0], item) for item in data) if args else tuple(data)
    if origin is list:
        (arg,) = typing.get_args(kind) or (Any,)
        return [from_wire(arg, item) for item in data]
    if origin is dict or kind is dict:
        return dict(data)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, Mapping):
            raise TypeError(f"{kind.__name__}: expected an object, got {type(data).__name__}")
        hints = _hints(kind)
        values = {f.name: from_wire(hints[f.name], data[f.name]) for f in dataclasses.fields(kind)
                  if f.init and f.name in data}
        return kind(**values)
    validate = getattr(kind, "model_validate", None)
    if callable(validate):
        return validate(data)
    return data


def decode(kind: type[T], data: Any) -> T:
    """Typed :func:`from_wire` for one dataclass: ``decode(ModelView, {...})``."""
    value = from_wire(kind, data)
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, decoded {type(value).__name__}")
    return value


def decode_list(kind: type[T], data: Any) -> list[T]:
    """A list of ``kind`` from wire data."""
    if not isinstance(data, list):
        raise TypeError(f"expected a list of {kind.__name__}, got {type(data).__name__}")
    return [decode(kind, item) for item in data]


# --- requests that carry domain values ----------------------------------------------------


def selector_to_wire(selector: Any) -> int | str | None:
    """A version selector (raw, or parsed into a VersionSelector) as the text/number a user would type."""
    kind = getattr(selector, "kind", None)
    if kind is None:
        return typing.cast(int | str | None, selector)
    value = getattr(selector, "value", None)
    name = getattr(kind, "value", kind)
    if name == "latest":
        return None
    if name == "alias":
        return f"@{value}"
    return typing.cast(int | str, value)


def model_context_to_wire(context: Any) -> dict[str, Any] | None:
    """A run's model context (``ModelContext``) as a JSON object, or None."""
    if context is None:
        return None
    register = context.register
    return {
        "name": context.name, "version": selector_to_wire(context.version),
        "create_new_version": context.create_new_version, "version_name": context.version_name,
        "version_description": context.version_description,
        "register": None if register is None else {"fields": dict(register.fields), "tags": list(register.tags),
                                                   "implicit": register.implicit},
    }


def model_context_from_wire(data: Any) -> Any:
    """The ``ModelContext`` a JSON object describes (validated as in process), or None."""
    from modelog.registry.commands import ModelContext, RegisterModel

    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidInputError("model must be an object")
    allowed = {"name", "version", "create_new_version", "version_name", "version_description", "register"}
    _only(data, allowed, "model")
    register = data.get("register")
    made = None
    if register is not None:
        if not isinstance(register, Mapping):
            raise InvalidInputError("model.register must be an object")
        _only(register, {"fields", "tags", "implicit"}, "model.register")
        made = RegisterModel(name=data.get("name", ""), fields=dict(register.get("fields") or {}),
                             tags=tuple(register.get("tags") or ()), implicit=bool(register.get("implicit")))
    return ModelContext(name=data.get("name", ""), version=data.get("version"),
                        create_new_version=bool(data.get("create_new_version")),
                        version_name=data.get("version_name"), version_description=data.get("version_description"),
                        register=made)


def output_spec_from_wire(data: Any) -> Any:
    """A step output (``OutputSpec``) from a JSON object (validated as in process)."""
    from modelog.registry.commands import OutputSpec

    if not isinstance(data, Mapping):
        raise InvalidInputError("each output must be an object")
    allowed = set(typing.cast(Any, OutputSpec).model_fields)  # a pydantic model; typed as a plain class
    _only(data, allowed, "output")
    try:
        return OutputSpec(**dict(data))
    except TypeError as error:
        raise InvalidInputError(f"output: {error}") from None


#: The fields of a step output carried inline (``OutputBytes``): its bytes are base64 text in ``content``.
_INLINE_TEXT = ("name", "content_hash", "data_type", "materializer")


def inline_output_to_wire(output: Any) -> dict[str, Any]:
    """A step output carried with its bytes (``OutputBytes``) as a JSON object: its bytes in ``content`` (base64),
    no ``uri``."""
    wired = {f.name: getattr(output, f.name) for f in dataclasses.fields(output) if f.name != "data"}
    wired["content"] = base64.b64encode(output.data).decode("ascii")
    return wired


def step_output_from_wire(data: Any) -> Any:
    """A step output from a JSON object: an ``OutputBytes`` when it carries ``content`` (base64), else an
    ``OutputSpec`` (its bytes already in the store at ``uri``); validated as in process."""
    if not isinstance(data, Mapping) or "content" not in data:
        return output_spec_from_wire(data)
    from modelog.application.requests import OutputBytes

    _only(data, {*_INLINE_TEXT, "content", "artifact_name", "kind", "overwrite"}, "inline output")
    for name in (*_INLINE_TEXT, "content"):
        if not isinstance(data.get(name), str):
            raise InvalidInputError(f"inline output field {name!r} must be a string")
    if not isinstance(data.get("artifact_name", ""), str) or not isinstance(data.get("kind", ""), str | None) \
            or not isinstance(data.get("overwrite", False), bool):
        raise InvalidInputError("inline output: artifact_name must be a string, kind a string or null, overwrite "
                                "true or false")
    try:
        content = base64.b64decode(data["content"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInputError(f"inline output {data['name']!r}: content is not base64 ({error})") from None
    return OutputBytes(name=data["name"], data=content, content_hash=data["content_hash"],
                       data_type=data["data_type"], materializer=data["materializer"],
                       artifact_name=data.get("artifact_name", ""), kind=data.get("kind", "data"),
                       overwrite=data.get("overwrite", False))


def _only(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInputError(f"{what} has unknown field(s): {', '.join(unknown)}")
