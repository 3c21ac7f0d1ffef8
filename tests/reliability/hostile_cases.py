"""The table of hostile and bad inputs, shared by the CLI and SDK tests.

Name rule (decided, see docs/reliability.md): a name is stored in Unicode NFC exactly as given;
two names are the same name when their NFKC case-folded forms are equal, so ``Demo``, ``DEMO``,
``ｄｅｍｏ`` (full width) and a decomposed ``démo`` all collide with an existing ``demo``/``démo``.
"""

from __future__ import annotations

LONG_NAME = "n" * 10_000
SQL = "x'; DROP TABLE events;--"

#: (case id, CLI arguments, exit status, words the one-line error must contain)
CLI_CASES: list[tuple[str, list[str], int, str]] = [
    ("empty name", ["model", "register", "-n", ""], 1, "must not be empty"),
    ("whitespace name", ["model", "register", "-n", " \t "], 1, "must not be empty"),
    ("padded name", ["model", "register", "-n", " demo2 "], 1, "white space"),
    ("10,000-character name", ["model", "register", "-n", LONG_NAME], 1, "limit is 200"),
    ("NUL in name", ["model", "register", "-n", "a\x00b"], 1, "control or invisible character"),
    ("escape sequence in name", ["model", "register", "-n", "\x1b[31mred"], 1, "control or invisible character"),
    ("newline in name", ["model", "register", "-n", "a\nb"], 1, "control or invisible character"),
    ("right-to-left override", ["model", "register", "-n", "abc\u202egpj.exe"], 1, "control or invisible"),
    ("zero-width space", ["model", "register", "-n", "de\u200bmo"], 1, "control or invisible character"),
    ("case-only duplicate", ["model", "register", "-n", "DEMO"], 1, "already exists"),
    ("full-width duplicate", ["model", "register", "-n", "\uff44\uff45\uff4d\uff4f"], 1, "already exists"),
    ("NFD duplicate of NFC name", ["model", "register", "-n", "cafe\u0301"], 1, "already exists"),
    ("slash in model name", ["model", "register", "-n", "a/b"], 1, "path separators"),
    ("backslash in model name", ["model", "register", "-n", "a\\b"], 1, "path separators"),
    ("dot-dot model name", ["model", "register", "-n", ".."], 1, "path separators"),
    ("dot-dot in version name", ["model", "version", "update", "demo", "1", "-n", "../etc"], 1, "path separators"),
    ("dot version name", ["model", "version", "update", "demo", "1", "-n", "."], 1, "path separators"),
    ("all-digit version name", ["model", "version", "update", "demo", "1", "-n", "42"], 1, "all digits"),
    ("stage as version name", ["model", "version", "update", "demo", "1", "-n", "production"], 1, "reserved"),
    ("latest as version name", ["model", "version", "update", "demo", "1", "-n", "Latest"], 1, "reserved"),
    ("number as alias", ["model", "version", "update", "demo", "1", "--alias", "7"], 1, "reserved"),
    ("unknown stage", ["model", "version", "update", "demo", "1", "-s", "prod"], 2, "'prod' is not one of"),
    ("negative version", ["model", "version", "update", "demo", "-s", "staging", "--", "-1"], 1, "-1"),
    ("zero version", ["model", "version", "update", "demo", "0", "-s", "staging"], 1, "out of range"),
    ("huge version", ["model", "version", "update", "demo", "9" * 30, "-s", "staging"], 1, "out of range"),
    ("missing version", ["model", "version", "update", "demo", "99", "-s", "staging"], 1, "no version 99"),
    ("unknown alias", ["model", "version", "update", "demo", "@nope", "-s", "staging"], 1, "no version @nope"),
    ("SQL in model lookup", ["model", "version", "list", SQL], 1, "does not exist"),
    ("SQL in version selector", ["model", "version", "update", "demo", "1' OR '1'='1", "-s", "staging"], 1,
     "no version"),
    ("malformed --as-of", ["model", "version", "list", "demo", "--as-of", "yesterday"], 2, "not an ISO 8601"),
    ("future --as-of", ["model", "version", "list", "demo", "--as-of", "2999-01-01T00:00:00Z"], 1, "in the future"),
    ("position beyond log", ["model", "version", "list", "demo", "--at-position", "999999"], 1,
     "beyond the end of the log"),
    ("--as-of with --at-position", ["model", "list", "--as-of", "2024-01-01T00:00:00Z", "--at-position", "1"], 2,
     "not both"),
    ("--force without a stage", ["model", "version", "update", "demo", "1", "-f"], 2, "nothing to update"),
    ("stage production taken", ["model", "version", "update", "demo", "2", "-s", "production"], 1, "production"),
    ("page size zero", ["model", "list", "--size", "0"], 2, "--size"),
    ("unknown model update", ["model", "update", "ghost", "-l", "MIT"], 1, "does not exist"),
    ("delete without terminal", ["model", "version", "delete", "demo", "1"], 1, "--yes"),
]

#: (case id, SDK call on a Client, words the error must contain)
SDK_CASES: list[tuple[str, str, str]] = [
    ("empty name", "client.register_model('')", "must not be empty"),
    ("10,000-character name", "client.register_model(LONG_NAME)", "limit is 200"),
    ("NUL in name", "client.register_model('a\\x00b')", "control or invisible character"),
    ("case-only duplicate", "client.register_model('DEMO')", "already exists"),
    ("NFD duplicate", "client.register_model('cafe\\u0301')", "already exists"),
    ("path in model name", "client.register_model('../../etc/passwd')", "path separators"),
    ("path in version name", "client.create_model_version('demo', name='a/b')", "path separators"),
    ("digit version name", "client.create_model_version('demo', name='12')", "all digits"),
    ("stage version name", "client.create_model_version('demo', name='staging')", "reserved"),
    ("unknown stage", "client.get_model_version('demo', 1).set_stage('prod')", "unknown stage"),
    ("negative version", "client.get_model_version('demo', -1)", "out of range"),
    ("zero version", "client.get_model_version('demo', 0)", "out of range"),
    ("huge version", "client.get_model_version('demo', 10**30)", "out of range"),
    ("bool version", "client.get_model_version('demo', True)", "version"),
    ("SQL model name lookup", "client.get_model(SQL)", "does not exist"),
    ("future as_of", "client.get_model('demo', as_of=FUTURE)", "in the future"),
    ("unknown artifact id", "client.load_artifact('../../etc/passwd')", "artifact"),
]
