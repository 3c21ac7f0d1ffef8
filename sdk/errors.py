"""The SDK's exception tree.

Every SDK error derives from :class:`SDKError`, which itself derives from the core's
:class:`registry.errors.RegistryError`. Errors raised by the registry core (a model that
does not exist, an occupied stage, ...) propagate unchanged, so ``except RegistryError``
covers everything the SDK and the core can refuse, while ``except SDKError`` covers only
what the SDK itself decided. Exceptions raised by user step code are never wrapped.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from modelog.registry.errors import (
    ArtifactIntegrityError,
    InvalidInputError,
    NotFoundError,
    RegistryError,
    as_registry_error,
)

C = TypeVar("C", bound=type)


class SDKError(RegistryError):
    """Base class of every error the SDK raises itself."""


class ConfigError(SDKError, InvalidInputError):
    """A ModelConfig, ArtifactConfig, step or pipeline definition is invalid (also a ValueError)."""


class StepContextError(SDKError, RuntimeError):
    """``get_step_context()`` was called outside a running step, or a pipeline was nested."""


class StepOutputError(SDKError, InvalidInputError):
    """A step returned values that do not match its declared outputs."""


class ArtifactNotFoundError(SDKError, NotFoundError):
    """No artifact with that name (or link version) is linked to the model version."""


def concise_errors(cls: C) -> C:
    """Make every public method of ``cls`` raise a registry refusal as itself, without the chain behind it.

    Inside the core a ``StorageError`` keeps the driver's exception as its cause (retries look at it);
    a user's script that does not catch it should see one line of message under a short traceback,
    not the driver's 90 lines of internals. The cause is dropped only at this boundary.
    """
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member) and not inspect.isgeneratorfunction(member):
            setattr(cls, name, _concise(member))
    return cls


def _concise(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except RegistryError as error:
            raise error.with_traceback(None) from None
        except (UnicodeEncodeError, OverflowError) as error:
            known = as_registry_error(error)
            if known is None:
                raise
            raise known from None

    return call


__all__ = [
    "ArtifactIntegrityError", "ArtifactNotFoundError", "ConfigError", "SDKError", "StepContextError",
    "StepOutputError",
]
