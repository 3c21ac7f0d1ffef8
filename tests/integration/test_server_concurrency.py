"""8 client processes creating versions of one model through one server: gap-free numbers, one production holder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modelog.application.remote import RemoteRegistry

from tests.server_support import PRINCIPAL, ServerProcess

CLIENTS, VERSIONS_EACH = 8, 5
CLIENT = """
import sys
from modelog import Client
with Client() as client:
    for _ in range(int(sys.argv[1])):
        version = client.create_model_version("shared")
        client.set_stage("shared", version.number, "production", force=True)
"""


def test_eight_client_processes_through_one_server(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(db_url, tmp_path / "server-home", workers=2)
    try:
        with RemoteRegistry(server.url, token=server.token) as remote:
            remote.register_model("shared")
        clients = [
            subprocess.Popen([sys.executable, "-c", CLIENT, str(VERSIONS_EACH)],
                             env=server.client_env(tmp_path / f"client-{i}"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for i in range(CLIENTS)
        ]
        for client in clients:
            out, err = client.communicate(timeout=300)
            assert client.returncode == 0, err
        with RemoteRegistry(server.url, token=server.token) as remote:
            versions = remote.list_versions("shared")
            assert [v.number for v in versions] == list(range(1, CLIENTS * VERSIONS_EACH + 1))
            assert len([v for v in versions if v.stage == "production"]) == 1
            assert remote.verify_log().ok and remote.verify_projections().ok
            through_server = [e for e in remote.log_events(limit=1000) if e.meta.get("command") not in (
                "AddPrincipal", "CreateToken")]  # the test's principal and token were made on the database
            assert {e.meta.get("actor") for e in through_server} == {PRINCIPAL}  # never the server's own actor
        assert not any((tmp_path / f"client-{i}" / "registry.db").exists() for i in range(CLIENTS))
    finally:
        server.stop()
    assert server.stopped_gracefully()
