"""The forms: promote / archive (with the force confirmation), request a protected stage and approve or reject
a request, set and remove an alias, verify now, download an artifact. Each calls one command or use case of
the service API as the signed-in principal; the registry decides (and refuses: a conflict, a missing
permission) exactly as for the API."""

from __future__ import annotations

from modelog.application import pages
from modelog.registry.errors import ConflictError, InvalidInputError
from modelog.server.streams import streamed_artifact
from modelog.ui.access import Visit
from modelog.ui.render import html, path_part, secured
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

_STAGES = ("none", "staging", "production", "archived")


def _back(path: str, notice: str) -> Response:
    return secured(RedirectResponse(f"{path}?notice={notice}", status_code=303))


def _version_path(model: str, number: int | str) -> str:
    return f"/ui/models/{path_part(model)}/versions/{path_part(number)}"


async def set_stage(request: Request, visit: Visit) -> Response:
    """Move a version into a stage; when the stage is held, ask to confirm archiving the holder."""
    model, version = str(request.path_params["model"]), str(request.path_params["version"])
    stage = visit.form.get("stage", "")
    if stage not in _STAGES:
        raise InvalidInputError(f"stage {stage!r} is not one of {', '.join(_STAGES)}")
    force = visit.form.get("force") == "yes"
    selector: int | str = int(version) if version.isdigit() else version
    scope = visit.scope
    try:
        done = await scope.call(scope.api.set_stage, model, selector, stage, force=force)
    except ConflictError as error:
        if force or "use force" not in str(error):
            raise
        return html(request, "confirm.html", {**visit.base(None), "message": str(error), "model": model,
                                              "version": version, "stage": stage,
                                              "action": _version_path(model, version) + "/stage"}, status=409)
    return _back(_version_path(model, done.number), "stage")


async def request_stage(request: Request, visit: Visit) -> Response:
    """Ask for a move into a protected stage (another maintainer approves it); ``force`` archives the holder."""
    model, version = str(request.path_params["model"]), str(request.path_params["version"])
    scope = visit.scope
    done = await scope.call(scope.api.request_stage, model, _selector(version), visit.form.get("stage", ""),
                            force=visit.form.get("force") == "yes")
    return _back(_version_path(model, done.number), "requested")


async def approve_request(request: Request, visit: Visit) -> Response:
    """Approve the version's pending request as the signed-in principal (never one's own request)."""
    model, version = str(request.path_params["model"]), str(request.path_params["version"])
    scope = visit.scope
    done = await scope.call(scope.api.approve_stage_request, model, _selector(version),
                            stage=visit.form.get("stage") or None)
    return _back(_version_path(model, done.number), "approved" if done.status == "approved" else "approval")


async def reject_request(request: Request, visit: Visit) -> Response:
    """Reject the version's pending request (its requester: withdraw it), with an optional reason."""
    model, version = str(request.path_params["model"]), str(request.path_params["version"])
    scope = visit.scope
    done = await scope.call(scope.api.reject_stage_request, model, _selector(version),
                            stage=visit.form.get("stage") or None, reason=visit.form.get("reason") or None)
    return _back(_version_path(model, done.number), "rejected")


def _selector(version: str) -> int | str:
    return int(version) if version.isdigit() else version


async def set_alias(request: Request, visit: Visit) -> Response:
    """Point an alias at a version."""
    model, version = str(request.path_params["model"]), str(request.path_params["version"])
    selector: int | str = int(version) if version.isdigit() else version
    scope = visit.scope
    done = await scope.call(scope.api.set_alias, model, selector, visit.form.get("alias", ""))
    return _back(_version_path(model, done.to_version), "alias")


async def remove_alias(request: Request, visit: Visit) -> Response:
    """Remove an alias from whichever version holds it."""
    model, version = str(request.path_params["model"]), str(request.path_params["version"])
    scope = visit.scope
    await scope.call(scope.api.remove_alias, model, visit.form.get("alias", ""))
    return _back(_version_path(model, version), "alias-removed")


async def verify(request: Request, visit: Visit) -> Response:
    """Verify the chain, the read models and the artifacts now; the audit page shows the result."""
    scope = visit.scope
    request.app.state.modelog_ui_verification = await scope.call(pages.verify_all, scope.api)
    return _back("/ui/audit", "verified")


async def download(request: Request, visit: Visit) -> Response:
    """An artifact's bytes, as the log records them (cut short when the file does not match its hash)."""
    scope = visit.scope
    content = await scope.call(scope.api.open_artifact, str(request.path_params["artifact"]))
    found = content.artifact
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{found.name}-v{found.version}")
    # Streamed as the API's content route streams it: hashed while read, cut short if the file does not match.
    return secured(await streamed_artifact(content, {"Content-Disposition": f'attachment; filename="{name}"'}))
