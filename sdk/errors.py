"""The SDK's exception tree.

Every SDK error derives from :class:`SDKError`, which itself derives from the core's
:class:`registry.errors.RegistryError`. Errors raised by the registry core (a model that
does not exist, an occupied stage, ...) propagate unchanged, so ``except RegistryError``
covers everything the SDK and the core can refuse, while ``except SDKError`` covers only
what the SDK itself decided. Exceptions raised by user step code are never wrapped.
"""

from __future__ import annotations

from modelog.registry.errors import ArtifactIntegrityError, InvalidInputError, NotFoundError, RegistryError


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


__all__ = [
    "ArtifactIntegrityError", "ArtifactNotFoundError", "ConfigError", "SDKError", "StepContextError",
    "StepOutputError",
]
