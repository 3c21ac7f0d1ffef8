"""Generate the CLI reference (``docs/cli.md``) from the commands' ``--help``.

Run ``python -m cli.docs`` to rewrite the file; ``python -m cli.docs --check`` exits 1 when it is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
from modelog.cli.main import cli

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
WIDTH = 100

PREAMBLE = """\
# modelog command-line reference

Generated from `modelog --help` by `python -m modelog.cli.docs`; do not edit by hand (a test fails when this
file and the commands disagree).

## Conventions

- The registry is `$MODELOG_DATABASE_URL` if set, else the SQLite file `$MODELOG_HOME/registry.db`
  (`MODELOG_HOME` defaults to `~/.modelog`); artifacts live in `$MODELOG_HOME/artifacts`.
- Exit status: 0 success; 1 an error, printed as one line `Error: ...` on stderr with nothing written;
  2 a usage error (unknown option, malformed value such as a bad `--as-of` timestamp).
- Every read command takes `--as-of TIMESTAMP` (ISO 8601; without a time zone it is local time) or
  `--at-position N`, and answers from the log as it was then; and `-o json` for machine-readable
  output with the keys listed in its help.
- Destructive commands ask for confirmation; `-y/--yes` skips it. Without a terminal and without
  `-y` they refuse (exit 1) instead of waiting for input.
- Logging goes to stderr: quiet by default, `-v` for debug (with tracebacks of unexpected errors),
  `--log-format json` for JSON lines.

## Shell completion

```bash
# bash (~/.bashrc)
eval "$(_MODELOG_COMPLETE=bash_source modelog)"
# zsh (~/.zshrc)
eval "$(_MODELOG_COMPLETE=zsh_source modelog)"
# fish (~/.config/fish/completions/modelog.fish)
_MODELOG_COMPLETE=fish_source modelog | source
```
"""


def walk(command: click.Command, parent: click.Context | None = None,
         name: str = "modelog") -> Iterator[tuple[str, click.Context]]:
    """Every command under ``command`` (itself first), with its help context, in name order."""
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None:
                yield from walk(sub, ctx, sub_name)


def render() -> str:
    """The whole reference as Markdown."""
    sections = [PREAMBLE]
    for path, ctx in walk(cli):
        sections.append(f"## `{path}`\n\n```text\n{ctx.command.get_help(ctx)}\n```\n")
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    """Write the reference, or with ``--check`` report whether it is up to date."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date; run: python -m modelog.cli.docs", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
