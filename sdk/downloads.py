"""Loading and downloading artifact versions: streamed, and checked against the logged hash before use.

Nothing here joins an artifact's bytes into one object: they stream from the store's file or the
server (:meth:`RegistryAPI.open_artifact`) into a file, hashed as they pass, and are deserialised
(or the file renamed into place) only once they matched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelog.sdk.materializers import deserialize_file

if TYPE_CHECKING:
    from modelog.application.api import RegistryAPI
    from modelog.projections.views import ArtifactView


def load_verified(api: RegistryAPI, artifact_id: str) -> tuple[ArtifactView, Any]:
    """An artifact version (as the log records it) and its value, deserialised only once its bytes matched the
    logged hash: streamed from the store's file or the server (spooled: in memory up to 8 MiB, else to an
    anonymous temporary file), never joined into one bytes object where the format reads from a file."""
    with api.open_artifact(artifact_id) as content:
        handle = content.verified_file()
        return content.artifact, deserialize_file(handle, content.artifact.materializer)


def download_verified(api: RegistryAPI, artifact_id: str, target: Path) -> ArtifactView:
    """Stream an artifact version's bytes into a temporary file beside ``target``, renamed to ``target`` once they
    matched the logged hash (the temporary file is removed if anything fails)."""
    with api.open_artifact(artifact_id) as content:
        content.save_as(target)
        return content.artifact
