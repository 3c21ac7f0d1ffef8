"""Check every artifact file in the store against the content hash recorded in the log.

The log (``ArtifactVersionStored`` events) says which files must exist and what they hash to;
the read model is only compared with it, never trusted: a row that disagrees with the log, or
that the log does not know, is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelog.application.artifact_log import LoggedArtifact, differences, find_logged, logged_artifacts
from modelog.projections.queries import ReadModel
from modelog.projections.views import ArtifactView
from modelog.registry.artifact_store import ArtifactStore
from modelog.registry.store import EventStore


@dataclass
class ArtifactProblem:
    """One artifact version whose file is missing, modified or wrongly addressed, or whose view row is wrong."""

    artifact_id: str
    name: str
    version: int
    uri: str
    expected_hash: str
    status: str
    detail: str = ""

    def describe(self) -> str:
        """One line for a report."""
        extra = f" ({self.detail})" if self.detail else ""
        return (f"artifact {self.name!r} v{self.version} ({self.uri}): {self.status}{extra}, "
                f"expected sha256 {self.expected_hash}")


@dataclass
class ArtifactReport:
    """The outcome of verifying the store: how many artifact versions and files were checked, and problems."""

    root: str
    checked: int = 0
    files: int = 0
    problems: list[ArtifactProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every recorded artifact is present and intact."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {"root": self.root, "checked": self.checked, "files": self.files, "ok": self.ok,
                "problems": [vars(p) for p in self.problems]}


def _problem(logged: LoggedArtifact, status: str, detail: str = "") -> ArtifactProblem:
    return ArtifactProblem(logged.artifact_id, logged.name, logged.version, logged.uri, logged.content_hash,
                           status, detail)


def _view_problem(view: ArtifactView, logged: LoggedArtifact | None) -> ArtifactProblem | None:
    if logged is None:
        return ArtifactProblem(view.artifact_id, view.name, view.version, view.uri, view.content_hash,
                               "not-in-log", "the read model lists an artifact version the log does not record")
    changed = differences(view, logged)
    if not changed:
        return None
    return _problem(logged, "view-differs", f"the read model's {', '.join(changed)} differ from the log")


def verify_artifacts(store: EventStore, reads: ReadModel, files: ArtifactStore) -> ArtifactReport:
    """Hash every artifact file the log refers to (each file once), and compare the read model with the log."""
    report = ArtifactReport(root=str(files.root))
    head = store.head()
    views = {view.artifact_id: view for view in reads.list_artifacts()}
    statuses: dict[tuple[str, str], str] = {}
    for logged in logged_artifacts(store, to_position=head):
        report.checked += 1
        key = (logged.uri, logged.content_hash)
        if key not in statuses:
            statuses[key] = files.check(*key)
        if statuses[key] != "ok":
            report.problems.append(_problem(logged, statuses[key]))
        view = views.pop(logged.artifact_id, None)
        problem = None if view is None else _view_problem(view, logged)
        if problem is not None:
            report.problems.append(problem)
    for view in views.values():  # rows the log (up to ``head``) does not hold: newer, or forged
        problem = _view_problem(view, find_logged(store, view.artifact_id, view.name, view.version))
        if problem is not None:
            report.problems.append(problem)
    report.files = len(statuses)
    return report
