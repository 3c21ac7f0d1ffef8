"""Rules for user-supplied names, tags, free text and version selectors, and their limits.

Names are stored in Unicode NFC form. Two model names clash when their NFKC,
case-folded forms are equal (``Demo`` and ``demo``, or a composed and a decomposed
``é``, name the same model), and lookups by name use the same rule.

Names may not hold invisible characters (format and control characters, fillers, variation
selectors) nor mix scripts the way spoofed names do (a Cyrillic ``е`` inside a Latin ``demo``):
see :func:`script_problem`. :func:`skeleton` is the TR39-style look-alike form of a name; the
registry refuses a name whose skeleton equals another live name's.

Every limit here is the one rule for its field on every backend: the database columns are at
least this wide (``tests/unit/test_limits.py`` checks the tables against :data:`COLUMN_LIMITS`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from modelog.registry.errors import InvalidInputError
from modelog.registry.values import Stage

#: Names (models, versions, aliases, pipelines, steps, artifacts): characters, of the name and of its NFKC key.
MAX_NAME_LENGTH = 200
#: Identifiers (run ids, artifact ids): characters.
MAX_ID_LENGTH = 64
#: Free text (description, license, ... and a failed run's message): characters.
MAX_TEXT_LENGTH = 10_000
#: Tags: characters per tag, and tags per model or version.
MAX_TAG_LENGTH = 100
MAX_TAGS = 50
#: Who acted (``MODELOG_ACTOR``, the server's actor header): characters.
MAX_ACTOR_LENGTH = 200
#: Short technical labels recorded with a step output or a failure (data type, materializer, error type).
MAX_LABEL_LENGTH = 200
#: Version numbers, artifact versions and other counters: they fit a 32-bit signed column on every backend.
MAX_NUMBER = 2**31 - 1
#: Log positions: a 64-bit signed column on every backend.
MAX_POSITION = 2**63 - 1
#: Content hashes and cache keys (``sha256:`` and 64 hex digits fit easily).
MAX_HASH_LENGTH = 100

STAGE_NAMES = frozenset(stage.value for stage in Stage)
RESERVED_SELECTORS = STAGE_NAMES | {"latest"}
_DIGITS = re.compile(r"^[0-9]+$")

#: Characters that print as nothing (or as a blank) but are letters or marks, so ``isprintable`` lets them
#: through: Hangul and half-width fillers, the combining grapheme joiner, Khmer and Mongolian invisible vowels
#: and variation selectors, the Braille blank and the ideographic variation selectors.
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)


def name_key(name: str) -> str:
    """The uniqueness key of a name: NFKC normalised and case-folded."""
    if not isinstance(name, str):  # a lookup by a number or None, through the SDK
        raise InvalidInputError(f"a name must be text, got {type(name).__name__}")
    return unicodedata.normalize("NFKC", name).casefold()


def _bad_character(value: str) -> str | None:
    if value.isprintable() and value.isascii():  # the common case, checked in C
        return None
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") or char in _INVISIBLE:
            return f"U+{ord(char):04X}"
    return None


def clean_name(value: object, what: str = "name", limit: int = MAX_NAME_LENGTH, *, scripts: bool = True) -> str:
    """Validate a model, version, artifact, alias or tag name; return its NFC form.

    ``scripts=False`` skips the mixed-script rule (for names recorded before it existed).
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {type(value).__name__}")
    name = _nfc(value, what)
    if not name.strip():
        raise InvalidInputError(f"{what} must not be empty")
    if name != name.strip():
        raise InvalidInputError(f"{what} {name.strip()!r} must not start or end with white space")
    if len(name) > limit:
        raise InvalidInputError(f"{what} is {len(name)} characters long; the limit is {limit}")
    bad = _bad_character(name)
    if bad:
        raise InvalidInputError(f"{what} contains the control or invisible character {bad}")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInputError(f"{what} {name!r} must not contain path separators or be '.' or '..'")
    if not name.isascii():
        _check_unicode_name(name, what, limit, scripts)
    return name


def _nfc(value: str, what: str) -> str:
    """``value`` in NFC; refuses a lone surrogate (what undecodable bytes become in arguments and the environment)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = f"U+{ord(value[error.start]):04X}"
            raise InvalidInputError(f"{what} is not valid text: it holds {bad} (undecodable bytes?)") from None
    return unicodedata.normalize("NFC", value)


def _check_unicode_name(name: str, what: str, limit: int, scripts: bool) -> None:
    key_length = len(name_key(name))
    if key_length > limit:
        raise InvalidInputError(f"{what} is {key_length} characters long once normalised (NFKC); the limit is {limit}")
    problem = script_problem(name) if scripts else None
    if problem:
        raise InvalidInputError(f"{what} {name!r} {problem}")


# --- scripts and look-alikes (Unicode TR39) -----------------------------------------------

#: Script sets a single name may combine (TR39 "highly restrictive"): Latin with the scripts of Japanese,
#: Chinese or Korean text. Any other mix of two scripts is how a look-alike of another name is built.
_ALLOWED_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)
#: First words of character names that are not a script of their own (used by several scripts).
_COMMON_WORDS = frozenset({"MODIFIER", "KATAKANA-HIRAGANA", "COMBINING", "IDEOGRAPHIC", "HALFWIDTH", "FULLWIDTH"})


def _script(char: str) -> str | None:
    """The script of a letter, from the first word of its Unicode name (None: not a letter, or common)."""
    if not unicodedata.category(char).startswith("L"):
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return None if not word or word in _COMMON_WORDS else word


def script_problem(name: str) -> str | None:
    """Why ``name`` mixes scripts the way a spoofed name does, or None (checked on its NFKC form)."""
    scripts = {s for s in map(_script, unicodedata.normalize("NFKC", name)) if s is not None}
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in _ALLOWED_MIXES):
        return None
    listed = " and ".join(s.title() for s in sorted(scripts))
    return f"mixes the {listed} scripts, as a look-alike of another name does; use one script"


#: Letters of other scripts that look like a Latin letter (after case folding), as in Unicode's
#: confusables data: the table behind :func:`skeleton`. Full-width, mathematical and other
#: compatibility forms need no entry: NFKC folds them first.
_LOOK_ALIKES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "ь": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "ë", "һ": "h", "н": "h", "і": "i",
    "ї": "ï", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "п": "n", "о": "o", "р": "p", "ԛ": "q", "г": "r",
    "ѕ": "s", "т": "t", "ц": "u", "ѵ": "v", "ԝ": "w", "ш": "w", "х": "x", "у": "y", "ү": "y", "ӡ": "3",
    # Greek
    "α": "a", "β": "b", "ϲ": "c", "ε": "e", "η": "n", "ι": "i", "ϳ": "j", "κ": "k", "μ": "u", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ζ": "z",
    # Armenian, Latin extensions
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "զ": "q", "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ʏ": "y",
    "ɩ": "i", "ℓ": "l",
})


def skeleton(name: str) -> str:
    """The look-alike form of a name (Unicode TR39's skeleton, case-insensitive): equal skeletons look alike.

    NFKC and case folding first (so the skeleton refines the uniqueness key), then each letter that
    looks like a Latin letter becomes that letter.
    """
    folded = unicodedata.normalize("NFD", name_key(name))
    return unicodedata.normalize("NFC", folded.translate(_LOOK_ALIKES))


def clean_actor(value: str) -> str:
    """Validate who is acting (an operating-system user, ``MODELOG_ACTOR`` or the server's actor header)."""
    return clean_name(value, "actor", MAX_ACTOR_LENGTH)


def clean_label(value: object, what: str, limit: int = MAX_LABEL_LENGTH) -> str:
    """Validate a short technical label (data type, materializer, hash): text, one line, at most ``limit``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInputError(f"{what} is {len(value)} characters long; the limit is {limit}")
    bad = _bad_character(value)
    if bad:
        raise InvalidInputError(f"{what} contains the control or invisible character {bad}")
    return value


def clean_text(value: str | None, what: str = "text") -> str | None:
    """Validate a free-text field (description, license, ...); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {type(value).__name__}")
    text = _nfc(value, what)
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidInputError(f"{what} is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH}")
    if "\x00" in text:
        raise InvalidInputError(f"{what} contains a NUL character")
    return text


def clean_tags(tags: object) -> tuple[str, ...]:
    """Validate tags; duplicates collapse, order of first appearance is kept."""
    if not tags:
        return ()
    if isinstance(tags, str):
        tags = (tags,)
    if not isinstance(tags, Iterable):
        raise InvalidInputError(f"tags must be text or a list of text, got {type(tags).__name__}")
    if isinstance(tags, dict):
        raise InvalidInputError("tags must be text or a list of text, got dict")
    cleaned = tuple(dict.fromkeys(clean_name(tag, "tag", MAX_TAG_LENGTH) for tag in tags))
    check_tag_count(len(cleaned))
    return cleaned


def check_tag_count(count: int) -> None:
    """Refuse more than :data:`MAX_TAGS` tags on one model or version."""
    if count > MAX_TAGS:
        raise InvalidInputError(f"{count} tags; the limit is {MAX_TAGS} per model or version")


def clean_version_name(value: object) -> str:
    """Validate an explicit version name: not all digits, not a stage, not ``latest``, no ``@``."""
    name = clean_name(value, "version name")
    if _DIGITS.match(name):
        raise InvalidInputError(f"version name {name!r} is all digits; numbers are allocated by the registry")
    if name.casefold() in RESERVED_SELECTORS:
        raise InvalidInputError(f"version name {name!r} is reserved (a stage or 'latest')")
    if name.startswith("@"):
        raise InvalidInputError(f"version name {name!r} must not start with '@' (that marks an alias)")
    return name


def clean_alias(value: object) -> str:
    """Validate an alias; a leading ``@`` is accepted and dropped."""
    if isinstance(value, str) and value.startswith("@"):
        value = value[1:]
    alias = clean_name(value, "alias")
    if _DIGITS.match(alias) or alias.casefold() in RESERVED_SELECTORS:
        raise InvalidInputError(f"alias {alias!r} is reserved (a number, a stage or 'latest')")
    return alias


def is_number(text: str) -> bool:
    """True when ``text`` is all ASCII digits (a version number)."""
    return bool(_DIGITS.match(text))
