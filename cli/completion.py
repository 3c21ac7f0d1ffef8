"""Shell completion that knows the registry: model names, version selectors and run ids.

Click calls these while the shell waits, with the command line parsed so far (``ctx.params``):
each asks the registry's ``complete`` use case once and offers what starts with the word being
typed. A registry that cannot be opened completes nothing (never an error or a traceback in the
middle of a prompt). See docs/completion.md for bash, zsh and fish.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

#: Most candidates offered at once (a shell lists them all).
LIMIT = 200


def _candidates(kind: str, incomplete: str, model: str | None = None) -> list[CompletionItem]:
    from modelog.application.completion import complete  # noqa: PLC0415 - loaded only when the shell asks

    try:
        found = complete(kind, incomplete, model=model, limit=LIMIT)
    except Exception:  # noqa: BLE001 - a completion must never break the user's prompt
        return []
    return [CompletionItem(value) for value in found]


def complete_models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Names of live models starting with what is typed."""
    return _candidates("model", incomplete)


def complete_versions(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Version selectors of the model named earlier on the line: numbers, names, stages, latest, @aliases."""
    model = ctx.params.get("model") or ctx.params.get("name")
    if not isinstance(model, str) or not model:
        return []
    return _candidates("version", incomplete, model)


def complete_runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Run ids starting with what is typed, newest first."""
    return _candidates("run", incomplete)
