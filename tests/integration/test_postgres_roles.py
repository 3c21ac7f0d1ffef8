"""The database as a second line: the role layout of docs/server.md, with real PostgreSQL roles.

The documented GRANTs are run verbatim (read from docs/server.md); a server runs as the role they
make, signing what it appends. Then: a role outside the layout cannot touch the log, the server's
role cannot change it, a role with data rights on ``events`` is stopped by the guards, and the one
thing such a role can do — append a correctly hashed, forged ``ModelVersionStageChanged`` with actor
``alice`` — passes ``log verify`` (and ``--rules``) but is named by ``log verify --public-key``.
Roles are cluster-wide: each gets a unique name and is dropped at the end.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelog.application.bootstrap import upgrade_database
from modelog.application.local import connect
from modelog.registry.hashing import canonical_json, chain_hash
from modelog.registry.signing import generate_key_file
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from tests.integration.pg_support import database_name, postgres_url_or_skip, side_connection
from tests.server_support import MODELOG, serving

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def documented_grants() -> str:
    """The SQL block of docs/server.md that lays out the server's role."""
    found = re.search(r"<!-- server-roles-sql:.*?-->\n```sql\n(.*?)```", DOCS.read_text(), re.S)
    assert found, "docs/server.md lost its server-roles SQL block"
    return found.group(1)


@pytest.fixture
def roles() -> Iterator[dict[str, str]]:
    """Unique role names (server, data rights, outsider), dropped afterwards with everything granted to them."""
    url = postgres_url_or_skip()
    suffix = uuid.uuid4().hex[:10]
    names = {kind: f"modelog_t{suffix}_{kind}" for kind in ("server", "data", "outsider")}
    try:
        yield {"url": url, **names}
    finally:
        with side_connection(url) as conn:
            for name in names.values():
                if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first():
                    conn.exec_driver_sql(f"DROP OWNED BY {name}")
                    conn.exec_driver_sql(f"DROP ROLE {name}")
            conn.exec_driver_sql(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database_name(url)}" TO PUBLIC')


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def _refused(url: str, statement: str, reason: str) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(sa_exc.DBAPIError, match=reason), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def forge_stage_change(url: str, model: str, number: int, stage: str, actor: str) -> int:
    """As the role of ``url``: append a correctly hashed stage change, as a direct INSERT; its position."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            last = conn.execute(text("SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1")
                                ).one()
            stream = conn.execute(text("SELECT stream_id, max(stream_version) FROM events WHERE event_type = "
                                       "'ModelRegistered' AND data LIKE :name GROUP BY stream_id"),
                                  {"name": f'%"name":"{model}"%'}).one()
            stream_id = stream[0]
            version = conn.execute(text("SELECT max(stream_version) FROM events WHERE stream_id = :s"),
                                   {"s": stream_id}).scalar_one()
            data = canonical_json({"number": number, "from_stage": "none", "to_stage": stage, "forced": False,
                                   "displaced_by": None})
            meta = canonical_json({"actor": actor, "correlation_id": str(uuid.uuid4())})
            position = int(last.position) + 1
            digest = chain_hash(last.hash, position, stream_id, version + 1, "ModelVersionStageChanged", 1, data,
                                meta, last.recorded_at)
            conn.execute(text("INSERT INTO events VALUES (:p, :s, :v, 'ModelVersionStageChanged', 1, :d, :m, :t, "
                              ":ph, :h)"),
                         {"p": position, "s": stream_id, "v": version + 1, "d": data, "m": meta,
                          "t": last.recorded_at, "ph": last.hash, "h": digest})
        return position
    finally:
        engine.dispose()


def _cli(*args: str, url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(MODELOG.parent), "MODELOG_DATABASE_URL": url, "MODELOG_HOME": str(home)}
    return subprocess.run([str(MODELOG), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_documented_roles_keep_the_log_and_signatures_name_a_forged_append(
        roles: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, server_role, data_role, outsider = roles["url"], roles["server"], roles["data"], roles["outsider"]
    home = tmp_path / "operator"
    upgrade_database(url, home=home)  # the owner creates the schema
    database = database_name(url)
    grants = documented_grants().replace("modelog_server", server_role).replace(
        "DATABASE modelog ", f'DATABASE "{database}" ')
    with side_connection(url) as conn:
        conn.connection.dbapi_connection.cursor().execute(grants)  # type: ignore[union-attr]  # no parameters: '%' stays
        conn.exec_driver_sql(f"CREATE ROLE {data_role} LOGIN")
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {data_role}')
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {data_role}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON events, event_signatures "
                             f"TO {data_role}")
        conn.exec_driver_sql(f"CREATE ROLE {outsider} LOGIN")
    key = tmp_path / "signing.pem"
    generate_key_file(key)
    public = tmp_path / "signing.pub"
    public.write_text(_public_pem(key))

    # The server runs as its documented role: it opens, authenticates, appends, projects and signs.
    as_server = _as(url, server_role)
    with serving(as_server, tmp_path / "server-home", extra_env={"MODELOG_SIGNING_KEY": str(key)}) as server:
        monkeypatch.setenv("MODELOG_URL", server.url)
        monkeypatch.setenv("MODELOG_TOKEN", server.token)
        with connect() as api:
            api.register_model("churn")
            api.create_version("churn")
            api.create_version("churn")
            api.set_stage("churn", 1, "production")
    monkeypatch.delenv("MODELOG_URL")
    monkeypatch.delenv("MODELOG_TOKEN")

    # A role outside the layout cannot even connect; the server's role cannot change the log or its guards.
    _refused(_as(url, outsider), "SELECT count(*) FROM events", "permission denied")
    for statement in ("UPDATE events SET meta = '{}' WHERE position = 1", "DELETE FROM events",
                      "TRUNCATE events", "DELETE FROM event_signatures", "UPDATE event_signatures SET key_id = 'x'",
                      "ALTER TABLE events DISABLE TRIGGER USER", "DROP TRIGGER events_no_change ON events"):
        _refused(as_server, statement, "permission denied|must be owner")
    # Data rights on events (short of ownership): the guards refuse every change but a chained insert.
    as_data = _as(url, data_role)
    for statement in ("UPDATE events SET meta = '{}' WHERE position = 1", "DELETE FROM events WHERE position = 1",
                      "TRUNCATE events", "DELETE FROM event_signatures", "TRUNCATE event_signatures"):
        _refused(as_data, statement, "append-only")
    _refused(as_data, "ALTER TABLE events DISABLE TRIGGER USER", "must be owner")
    _refused(as_data, "INSERT INTO events SELECT position + 1000, stream_id, stream_version + 1000, event_type, "
                      "schema_version, data, meta, recorded_at, prev_hash, hash FROM events WHERE position = 1",
             "continue the hash chain")

    # The attack of issue 14: a correctly hashed stage change by "alice", inserted by the data-rights role.
    forged = forge_stage_change(as_data, "churn", 2, "staging", "alice")
    assert _cli("log", "verify", url=url, home=home).returncode == 0  # the chain cannot tell
    assert _cli("log", "verify", "--rules", url=url, home=home).returncode == 0  # nor can the domain's rules
    shown = _cli("model", "version", "list", "churn", "-o", "json", url=url, home=home)
    assert '"stage": "staging"' in shown.stdout  # the views believe it
    done = _cli("log", "verify", "--public-key", str(public), url=url, home=home)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"position {forged}: unsigned (ModelVersionStageChanged on model-")
    assert lines[0].endswith("recorded actor 'alice')")
    assert lines[1].startswith("Error: 1 event(s) since signing began (position ") and "not validly signed" in lines[1]


def _public_pem(key: Path) -> str:
    """The PEM public key of the private key file ``key``."""
    from modelog.registry.signing import public_key_of

    return public_key_of(key).pem()
