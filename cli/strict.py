"""Command and group classes that refuse an option given twice when it takes one value.

Without this, click keeps the last of ``-s staging -s production`` silently. Every command of
the CLI is built from these classes (a test walks the command tree to check it), so the rule
holds uniformly: a repeated single-value option is a usage error (exit 2). Options declared
``multiple=True`` (``--tag``, ``--alias``...), counters and flags may be repeated.
"""

from __future__ import annotations

import click


def refuse_repeated_options(command: click.Command, ctx: click.Context, args: list[str]) -> None:
    """Usage error when a single-value option of ``command`` occurs more than once in ``args``."""
    if ctx.resilient_parsing:  # shell completion parses partial command lines: never refuse there
        return
    _, _, order = command.make_parser(ctx).parse_args(args=list(args))
    seen: set[str] = set()
    for param in order:
        if not isinstance(param, click.Option) or param.multiple or param.count or param.is_flag:
            continue
        if param.name in seen:
            raise click.UsageError(f"option {'/'.join(param.opts)} was given more than once; it takes one value",
                                   ctx)
        seen.add(param.name or "")


class StrictCommand(click.Command):
    """A command refusing repeated single-value options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Check for repeated options, then parse as click does."""
        refuse_repeated_options(self, ctx, args)
        return super().parse_args(ctx, args)


class StrictGroup(click.Group):
    """A group refusing repeated single-value options; its commands and subgroups are strict too."""

    command_class = StrictCommand
    group_class = type  # subgroups are StrictGroups as well

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Check for repeated options (of the group itself), then parse as click does."""
        refuse_repeated_options(self, ctx, args)
        return super().parse_args(ctx, args)
