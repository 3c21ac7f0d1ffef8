"""Everyday reads: version listings sorted and filtered by metadata, comparisons, completion, suggestions.

Pure functions over the read models (and the descriptions of :mod:`projections.describe`); the
read use cases (:mod:`application.reads`) call them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelog.projections import describe as d
from modelog.projections.completion_sql import KINDS, candidates
from modelog.projections.queries import ReadModel
from modelog.projections.suggest import did_you_mean
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.metadata_values import is_metric

#: What ``--sort-by`` accepts besides ``metric:KEY`` / ``metadata:KEY``.
VERSION_SORTS = ("number", "created", "updated")
_FILTER = re.compile(r"^(metric|metadata):([^<>=!]+?)\s*(>=|<=|!=|==|=|>|<)\s*(.*)$")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class VersionFilter:
    """``metric:KEY OP NUMBER`` (numeric) or ``metadata:KEY OP VALUE`` (= / != on the text of the value)."""

    kind: str
    key: str
    op: str
    value: Any

    def keeps(self, metadata: dict[str, Any]) -> bool:
        """Whether a version with this current metadata passes (a missing key never does)."""
        if self.key not in metadata:
            return False
        found = metadata[self.key]
        if self.kind == "metric":
            return is_metric(found) and _COMPARE[self.op](found, self.value)
        return _COMPARE[self.op](str(found), self.value)


def parse_filter(text: str) -> VersionFilter:
    """``metric:accuracy>0.9`` or ``metadata:framework=sklearn``; InvalidInputError otherwise."""
    match = _FILTER.match(text.strip())
    if match is None:
        raise InvalidInputError(f"filter {text!r} is not metric:KEY<op>NUMBER or metadata:KEY<op>VALUE "
                                "(op: > >= < <= = !=)")
    kind, key, op, raw = match.group(1), match.group(2).strip(), match.group(3), match.group(4).strip()
    if kind == "metric":
        try:
            return VersionFilter(kind, key, op, float(raw))
        except ValueError:
            raise InvalidInputError(f"filter {text!r}: {raw!r} is not a number") from None
    if op not in ("=", "==", "!="):
        raise InvalidInputError(f"filter {text!r}: metadata filters compare with = or != (use metric: for numbers)")
    return VersionFilter(kind, key, op, raw)


def _sort_key(sort_by: str) -> Callable[[d.VersionRow], Any]:
    if sort_by in VERSION_SORTS:
        field = {"number": "number", "created": "created_at", "updated": "updated_at"}[sort_by]
        return lambda row: getattr(row.version, field)
    kind, _, key = sort_by.partition(":")
    if kind not in ("metric", "metadata") or not key:
        raise InvalidInputError(f"cannot sort versions by {sort_by!r}; choose {', '.join(VERSION_SORTS)}, "
                                "metric:KEY or metadata:KEY")
    if kind == "metric":  # highest first; versions without the metric last
        return lambda row: (0, -row.metadata[key], row.version.number) if is_metric(row.metadata.get(key)) \
            else (1, 0, row.version.number)
    return lambda row: (0, str(row.metadata[key]), row.version.number) if key in row.metadata \
        else (1, "", row.version.number)


def search_versions(reads: ReadModel, model: str, *, stage: str | None, sort_by: str, filters: Sequence[str],
                    position: int | None) -> list[d.VersionRow]:
    """The versions of ``model`` with their current metadata, filtered, then sorted."""
    order = _sort_key(sort_by)
    wanted = [parse_filter(text) for text in filters]
    versions = reads.list_versions(model, stage=stage, at_position=position)
    logged = d.version_metadata(reads, model, None, position)
    rows = [d.VersionRow(v, d.current_values(logged.get(v.number, []))) for v in versions]
    return sorted((row for row in rows if all(f.keeps(row.metadata) for f in wanted)), key=order)


def compare_versions(reads: ReadModel, model: str, versions: Sequence[Any],
                     position: int | None) -> d.VersionComparison:
    """Two or more versions of ``model`` described side by side."""
    if len(versions) < 2:
        raise InvalidInputError("give at least two versions to compare")
    described = tuple(d.describe_version(reads, model, v, position) for v in versions)
    return d.VersionComparison(described[0].version.model_name, described)


# --- suggestions and completion ---------------------------------------------------------


def model_suggestion(reads: ReadModel, name: str) -> str:
    """What to suggest for a model name that does not exist (empty when nothing is close)."""
    return did_you_mean(name, d.all_model_names(reads))


def with_model_suggestion(error: NotFoundError, reads: ReadModel, name: str) -> NotFoundError:
    """``error`` with "did you mean ...?" added when it is about a missing model and a close name exists."""
    text = str(error)
    if "did you mean" in text or f"model {name!r} does not exist" not in text:
        return error
    hint = model_suggestion(reads, name)
    return NotFoundError(f"model {name!r} does not exist;{hint}") if hint else error


def _driver_rows(reads: ReadModel, sql: str, params: Sequence[Any]) -> list[Any]:
    with reads.engine.connect() as conn:
        return list(conn.exec_driver_sql(sql, tuple(params)).all())


def resolve_id(reads: ReadModel, kind: str, given: str) -> str:
    """The full id of a run or an artifact given its id or a unique prefix of it (as tables print, 8 characters);
    anything else is returned as it is (and found, or not, by the lookup that follows)."""
    if not isinstance(given, str) or not given:
        return given  # refused, with its own message, by the lookup that follows
    found = complete(reads, kind, given, None, 2)
    if given in found or not found:
        return given
    if len(found) > 1:
        raise InvalidInputError(f"{kind} id prefix {given!r} is ambiguous: it starts several {kind}s' ids "
                                f"({', '.join(found)}, ...); give more characters")
    return found[0]


def complete(reads: ReadModel, kind: str, prefix: str, model: str | None, limit: int) -> list[str]:
    """Completion candidates of ``kind`` starting with ``prefix`` (the statements shell completion runs)."""
    if kind not in KINDS:
        raise InvalidInputError(f"cannot complete {kind!r}; choose one of {', '.join(KINDS)}")
    placeholder = "?" if reads.engine.dialect.paramstyle == "qmark" else "%s"
    return candidates(lambda sql, params: _driver_rows(reads, sql, params), placeholder, kind, prefix, model, limit)
