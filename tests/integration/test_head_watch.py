"""The server's per-request head read: one statement on a kept driver connection, always the latest commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelog.application.local import LocalRegistry, connect
from modelog.registry.errors import StorageError
from modelog.registry.head_watch import HeadWatch


def test_the_head_follows_every_commit_of_any_connection_and_reconnects_after_a_failure(db_url: str,
                                                                                          tmp_path: Path) -> None:
    with connect(db_url, home=tmp_path / "home", actor="t", writable=True) as api:
        assert isinstance(api, LocalRegistry)
        watch = HeadWatch(api.reader.store.engine)
        assert not watch.is_open
        start = watch()
        assert watch.is_open and start == api.head_position()
        api.register_model("m")
        for _ in range(3):  # each commit (another connection's) is seen by the very next read: no old snapshot
            api.create_version("m")
            assert watch() == api.head_position() > start
        watch._cursor.close()  # a broken connection: one clear StorageError, then a fresh connection
        with pytest.raises(StorageError, match="^database error: "):
            watch()
        assert not watch.is_open
        watch.open()
        assert watch.is_open and watch() == api.head_position()
        watch.close()
        assert not watch.is_open
        assert watch() == api.head_position()  # opens again on use
        watch.close()


def test_events_between_are_the_logs_own_events_of_that_range(db_url: str, tmp_path: Path) -> None:
    """What the authenticator reads after the head moved: exactly the recorder's events of the range, in order."""
    with connect(db_url, home=tmp_path / "home", actor="t", writable=True) as api:
        assert isinstance(api, LocalRegistry)
        store = api.reader.store
        watch = HeadWatch(store.engine)
        api.register_model("m")
        start = watch()
        api.create_version("m", metadata={"note": "x"})
        api.add_principal("alice")
        head = watch()
        found = watch.events_between(start, head)
        assert found == list(store.read_all(from_position=start + 1, to_position=head))
        assert [e.position for e in found] == list(range(start + 1, head + 1))
        assert {e.event_type for e in found} >= {"ModelVersionCreated", "PrincipalAdded"}
        assert watch.events_between(head, head) == [] and watch.events_between(start, start + 1) == found[:1]
        watch._cursor.close()
        with pytest.raises(StorageError, match="^database error: "):
            watch.events_between(start, head)
        assert watch.events_between(start, head) == found  # a fresh connection after the failure
        watch.close()
