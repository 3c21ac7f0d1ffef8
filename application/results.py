"""Typed results of the use cases: the command outcomes, and what the composite use cases report.

Adapters import results from here (never from the command layer): every one is a frozen
dataclass with named fields.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from modelog.registry.outcomes import (
    AliasMoved,
    AliasRemoved,
    ArtifactLinkRecorded,
    ModelChanged,
    Outcome,
    PolicyChanged,
    PrincipalChanged,
    RoleChanged,
    RunFinished,
    RunStarted,
    StageChanged,
    StageRequestChanged,
    StepRecorded,
    TokenChanged,
    VersionChanged,
)
from modelog.registry.store import StoredEvent

__all__ = [
    "AliasMoved", "AliasRemoved", "ArtifactLinkRecorded", "LogVerification", "ModelChanged", "Outcome",
    "PolicyChanged", "PrincipalChanged", "RoleChanged", "RunFinished", "RunStarted", "StageChanged",
    "StageRequestChanged", "StepRecorded", "StoredEvent", "TokenChanged", "VersionChanged", "VersionUpdate",
    "event_record",
]


@dataclass(frozen=True)
class VersionUpdate:
    """What ``update_version`` changed on one version, part by part (all applied in one transaction)."""

    model_name: str
    number: int
    stage: StageChanged | None
    aliases_set: tuple[AliasMoved, ...]
    aliases_removed: tuple[AliasRemoved, ...]
    details: VersionChanged | None
    events: tuple[StoredEvent, ...]
    metadata_logged: VersionChanged | None = None


@dataclass(frozen=True)
class LogVerification:
    """The hash chain walked (and the audit anchors checked): intact, or where and why not."""

    checked: int
    first_bad_position: int | None = None
    problem: str | None = None
    anchors_checked: int = 0
    anchor_problem: str | None = None
    #: Signs of tampering besides the chain: guards missing or disabled, traces of removed events.
    tampering: tuple[str, ...] = ()
    #: With the rules check: events replayed through the domain's rules, and the first one they refuse.
    rules_checked: int | None = None
    rule_position: int | None = None
    rule_problem: str | None = None
    #: With public keys: events checked since signing began (its first validly signed position), the events
    #: before it, one line per unsigned or badly signed position (the first 1000), and why the check failed.
    signatures_checked: int | None = None
    signed_from: int | None = None
    unsigned_before: int = 0
    signature_failures: int = 0
    signature_problems: tuple[str, ...] = ()
    signature_problem: str | None = None
    signature_summary: str | None = None
    #: With signed checkpoints: how many were checked, and the first one the log contradicts.
    checkpoints_checked: int = 0
    checkpoint_problem: str | None = None

    @property
    def chain_ok(self) -> bool:
        """True when every event's link in the chain checked out."""
        return self.first_bad_position is None

    @property
    def ok(self) -> bool:
        """True when the chain is intact, no sign of tampering was found, every anchor matches and no rule is broken."""
        return (self.chain_ok and self.anchor_problem is None and not self.tampering and self.rule_problem is None
                and self.signature_problem is None and self.checkpoint_problem is None)

    def describe(self) -> str:
        """One line for people: what was verified, or the first thing that failed."""
        if not self.chain_ok:
            return (f"log broken at position {self.first_bad_position}: {self.problem} "
                    f"({self.checked} events before it are intact)")
        if self.tampering:
            return f"tampering suspected: {'; '.join(self.tampering)}"
        if self.anchor_problem:
            return self.anchor_problem
        if self.checkpoint_problem:
            return self.checkpoint_problem
        if self.signature_problem:
            return self.signature_problem
        if self.rule_problem:
            return (f"event at position {self.rule_position} breaks the domain's rules: {self.rule_problem} "
                    "(a command could never have appended it: forged or imported unchecked)")
        matched = f", {self.anchors_checked} anchor(s) match" if self.anchors_checked else ""
        rules = f", {self.rules_checked} events obey the domain's rules" if self.rules_checked is not None else ""
        checkpoints = f", {self.checkpoints_checked} signed checkpoint(s) match" if self.checkpoints_checked else ""
        signed = f", {self.signature_summary}" if self.signature_summary else ""
        return f"Log intact: {self.checked} events, hash chain verified{matched}{checkpoints}{signed}{rules}."


def event_record(event: StoredEvent) -> dict[str, Any]:
    """An event of the log as one flat JSON object: the stored fields, in the log's column order."""
    return {f.name: getattr(event, f.name) for f in fields(event)}
