"""The server's command log: one answer per command id, bounded, and a concurrent repeat waits for the first."""

from __future__ import annotations

import asyncio

from modelog.server.dedup import CommandLog
from starlette.responses import Response


def _refuse(why: str) -> Response:
    return Response(why, status_code=409)


def test_an_id_runs_once_even_when_repeated_while_running_and_the_map_is_bounded() -> None:
    async def scenario() -> None:
        log = CommandLog(capacity=2)
        runs: list[str] = []

        async def execute() -> Response:
            runs.append("ran")
            await asyncio.sleep(0.05)
            return Response(b'{"n": 1}', media_type="application/json")

        first, second = await asyncio.gather(log.run("a", "f", execute, _refuse), log.run("a", "f", execute, _refuse))
        assert runs == ["ran"] and first.body == second.body == b'{"n": 1}'
        assert (await log.run("a", "other", execute, _refuse)).status_code == 409
        for command_id in ("b", "c"):
            await log.run(command_id, "f", execute, _refuse)
        assert len(log) == 2
        await log.run("a", "f", execute, _refuse)  # forgotten (least recently used): runs again
        assert len(runs) == 4

        async def unavailable() -> Response:
            runs.append("503")
            return Response(b"{}", status_code=503)

        await log.run("d", "f", unavailable, _refuse)
        await log.run("d", "f", unavailable, _refuse)
        assert runs.count("503") == 2  # nothing was written: a retry runs again

    asyncio.run(scenario())
