"""MLflow's search language for the registry, translated: filter strings, ``order_by`` and page tokens.

Pure functions over plain records (no I/O): :func:`parse_filter` turns MLflow's filter syntax
(``name = 'x' AND tags.team LIKE 'ml%'``) into typed :class:`Clause` values, :func:`matches`
checks a record against them, :func:`parse_order` / :func:`sort_records` order records and
:func:`page_of` cuts one page with MLflow's opaque ``next_page_token``. Every refusal is an
:class:`~modelog.registry.errors.InvalidInputError` (MLflow's ``INVALID_PARAMETER_VALUE``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from modelog.registry.errors import InvalidInputError

#: Attributes a registered-model filter may name (besides ``tags.<key>``).
MODEL_ATTRIBUTES = frozenset({"name"})
#: Attributes a model-version filter may name (besides ``tags.<key>``).
VERSION_ATTRIBUTES = frozenset({"name", "run_id", "source_path", "version_number"})
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    | (?P<ident>(?:[A-Za-z_][A-Za-z0-9_]*\.)?(?:`[^`]+`|[A-Za-z0-9_.\-]+))
    )""", re.VERBOSE)


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter: ``attribute`` (``name``, ``run_id``...) or ``tags.<key>``, an operator, values."""

    key: str
    op: str
    values: tuple[str, ...]
    tag: bool = False


@dataclass(frozen=True)
class Order:
    """One ``order_by`` term: a record field and its direction."""

    field: str
    descending: bool


class Searchable(Protocol):
    """What a record offers the filters and orderings."""

    @property
    def name(self) -> str:
        """The registered model's name."""

    def search_field(self, key: str) -> str | int | None:
        """The value of an attribute a filter or ordering names (None: not set)."""

    def tag_value(self, key: str) -> str | None:
        """The value of tag ``key`` (None: no such tag)."""


R = TypeVar("R", bound=Searchable)


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise InvalidInputError(f"invalid filter {text!r}: cannot read it from {text[at:].strip()[:30]!r}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def parse_filter(text: str | None, attributes: frozenset[str]) -> tuple[Clause, ...]:
    """The clauses of an MLflow filter string (``AND`` only, as MLflow's registry search), or none for no filter."""
    if text is None or not text.strip():
        return ()
    tokens = _tokens(text)
    clauses: list[Clause] = []
    at = 0
    while True:
        clause, at = _clause(text, tokens, at, attributes)
        clauses.append(clause)
        if at == len(tokens):
            return tuple(clauses)
        kind, word = tokens[at]
        if kind != "ident" or word.upper() != "AND":
            raise InvalidInputError(f"invalid filter {text!r}: expected AND, got {word!r} (OR is not supported)")
        at += 1


def _clause(text: str, tokens: list[tuple[str, str]], at: int,
            attributes: frozenset[str]) -> tuple[Clause, int]:
    if at >= len(tokens):
        raise InvalidInputError(f"invalid filter {text!r}: a comparison is missing after AND")
    kind, key = tokens[at]
    if kind != "ident":
        raise InvalidInputError(f"invalid filter {text!r}: expected an attribute, got {key!r}")
    tag = key.startswith("tags.") or key.startswith("tag.")
    if tag:
        key = key.split(".", 1)[1].strip("`")
    else:
        key = key.strip("`")
        if key not in attributes:
            raise InvalidInputError(f"invalid filter {text!r}: unknown attribute {key!r} (supported: "
                                    f"{', '.join(sorted(attributes))}, tags.<key>)")
    if at + 1 >= len(tokens):
        raise InvalidInputError(f"invalid filter {text!r}: {key!r} has no comparison")
    op_kind, op = tokens[at + 1]
    op = op.upper()
    if op == "IN" and key == "run_id" and not tag:
        return _in_list(text, tokens, at + 2, key)
    allowed = _NUMBER_OPS if key == "version_number" and not tag else _TEXT_OPS
    if op_kind not in ("op", "ident") or op not in allowed:
        raise InvalidInputError(f"invalid filter {text!r}: operator {op!r} is not supported for {key!r} "
                                f"(supported: {', '.join(allowed)})")
    if at + 2 >= len(tokens):
        raise InvalidInputError(f"invalid filter {text!r}: {key!r} {op} has no value")
    value_kind, value = tokens[at + 2]
    if key == "version_number" and not tag:
        if value_kind != "ident" or not value.isdigit():
            raise InvalidInputError(f"invalid filter {text!r}: version_number takes a whole number")
        return Clause(key, op, (value,)), at + 3
    if value_kind != "string":
        raise InvalidInputError(f"invalid filter {text!r}: the value of {key!r} must be a quoted string")
    return Clause(key, op, (_unquote(value),), tag), at + 3


def _in_list(text: str, tokens: list[tuple[str, str]], at: int, key: str) -> tuple[Clause, int]:
    if at >= len(tokens) or tokens[at][1] != "(":
        raise InvalidInputError(f"invalid filter {text!r}: IN takes a parenthesised list of strings")
    values: list[str] = []
    at += 1
    while at < len(tokens):
        kind, value = tokens[at]
        if kind != "string":
            raise InvalidInputError(f"invalid filter {text!r}: IN takes a list of quoted strings")
        values.append(_unquote(value))
        if at + 1 < len(tokens) and tokens[at + 1][1] == ",":
            at += 2
            continue
        if at + 1 < len(tokens) and tokens[at + 1][1] == ")":
            return Clause(key, "IN", tuple(values)), at + 2
        break
    raise InvalidInputError(f"invalid filter {text!r}: IN's list is not closed")


def like_pattern(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """SQL ``LIKE`` as a regular expression: ``%`` any run of characters, ``_`` one character."""
    parts = (".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _compare(actual: str | int | None, clause: Clause) -> bool:
    if clause.op == "IN":
        return actual in clause.values
    if actual is None:  # as in MLflow: a missing tag or field differs from every value (the client's own
        return clause.op == "!="  # prompt filter, tag.`mlflow.prompt.is_prompt` != 'true', keeps untagged models)
    if isinstance(actual, int):
        wanted = int(clause.values[0])
        return {"=": actual == wanted, "!=": actual != wanted, "<": actual < wanted, "<=": actual <= wanted,
                ">": actual > wanted, ">=": actual >= wanted}[clause.op]
    value = clause.values[0]
    if clause.op == "=":
        return actual == value
    if clause.op == "!=":
        return actual != value
    return like_pattern(value, ignore_case=clause.op == "ILIKE").fullmatch(actual) is not None


def matches(record: Searchable, clauses: Sequence[Clause]) -> bool:
    """True when ``record`` satisfies every clause."""
    for clause in clauses:
        actual = record.tag_value(clause.key) if clause.tag else record.search_field(clause.key)
        if not _compare(actual, clause):
            return False
    return True


def exact_name(clauses: Sequence[Clause]) -> str | None:
    """The model name a filter pins with ``name = '...'`` (lets a search read one model instead of all)."""
    return next((c.values[0] for c in clauses if c.key == "name" and not c.tag and c.op == "="), None)


#: ``order_by`` names MLflow accepts, mapped to the record fields they sort by.
ORDER_FIELDS: Mapping[str, str] = {
    "name": "name", "version_number": "version_number", "creation_timestamp": "creation_timestamp",
    "timestamp": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp",
}


def parse_order(terms: Sequence[str], allowed: frozenset[str]) -> tuple[Order, ...]:
    """The ``order_by`` terms (``name ASC``, ``last_updated_timestamp DESC``), checked against ``allowed``."""
    found: list[Order] = []
    for term in terms:
        words = term.split()
        if not words or len(words) > 2:
            raise InvalidInputError(f"invalid order_by clause {term!r}")
        key = words[0].strip("`")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if key not in allowed or direction not in ("ASC", "DESC"):
            raise InvalidInputError(f"invalid order_by clause {term!r} (fields: {', '.join(sorted(allowed))}; "
                                    "direction ASC or DESC)")
        found.append(Order(ORDER_FIELDS.get(key, key), direction == "DESC"))
    return tuple(found)


def sort_records(records: list[R], orders: Sequence[Order]) -> list[R]:
    """``records`` sorted by each order, the first order most significant (stable)."""
    ordered = list(records)
    for order in reversed(orders):
        ordered.sort(key=lambda r: _sort_key(r.search_field(order.field)), reverse=order.descending)
    return ordered


def _sort_key(value: str | int | None) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def page_of(records: Sequence[R], max_results: int, page_token: str | None) -> tuple[list[R], str | None]:
    """One page from the offset ``page_token`` names, and the token of the next page (None: the last page)."""
    offset = decode_token(page_token)
    chosen = list(records[offset:offset + max_results])
    after = offset + max_results
    return chosen, encode_token(after) if after < len(records) else None


def encode_token(offset: int) -> str:
    """The opaque page token of an offset."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """The offset a page token names (0 for none); a token this server did not issue is refused."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInputError(f"invalid page_token {token!r}") from None
    offset = data.get("offset") if isinstance(data, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInputError(f"invalid page_token {token!r}")
    return offset


def check_max_results(value: int | None, default: int, maximum: int) -> int:
    """``max_results`` within 1..``maximum`` (``default`` when not given)."""
    if value is None:
        return default
    if value < 1 or value > maximum:
        raise InvalidInputError(f"invalid value {value} for parameter 'max_results': it must be between 1 and "
                                f"{maximum}")
    return value
