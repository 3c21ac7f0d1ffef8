"""Check every artifact file in the store against the content hash recorded in the log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelog.projections.queries import ReadModel
from modelog.registry.artifact_store import ArtifactStore


@dataclass
class ArtifactProblem:
    """One artifact version whose file is missing, modified or wrongly addressed."""

    artifact_id: str
    name: str
    version: int
    uri: str
    expected_hash: str
    status: str

    def describe(self) -> str:
        """One line for a report."""
        return (f"artifact {self.name!r} v{self.version} ({self.uri}): {self.status}, "
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


def verify_artifacts(reads: ReadModel, store: ArtifactStore) -> ArtifactReport:
    """Hash every artifact file the log refers to and report missing or modified ones (each file hashed once)."""
    report = ArtifactReport(root=str(store.root))
    statuses: dict[tuple[str, str], str] = {}
    for artifact in reads.list_artifacts():
        report.checked += 1
        key = (artifact.uri, artifact.content_hash)
        if key not in statuses:
            statuses[key] = store.check(*key)
        if statuses[key] != "ok":
            report.problems.append(ArtifactProblem(artifact.artifact_id, artifact.name, artifact.version,
                                                   artifact.uri, artifact.content_hash, statuses[key]))
    report.files = len(statuses)
    return report
