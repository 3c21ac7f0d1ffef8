"""The web UI over HTTP on a real ``modelog server``, on every backend: sign-in, pages and their JSON twins,
time travel, the diff, forms with CSRF, refusals as pages, escaping of hostile text, the security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.local import connect

from tests.server_support import ServerProcess, serving
from tests.ui_support import HOSTILE, csrf_of, seed, signed_in


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, int]]]:
    home = tmp_path / "server-home"
    points = seed(db_url, home)
    # a server whose own zone is not UTC: the UI reads a time without a zone as UTC all the same
    with serving(db_url, home, extra_env={"TZ": "Asia/Kolkata"}) as running:
        yield running, points


@pytest.fixture
def ui(server: tuple[ServerProcess, dict[str, int]]) -> Iterator[httpx.Client]:
    client = signed_in(server[0].url, server[0].token)
    try:
        yield client
    finally:
        client.close()


def _head(server: ServerProcess) -> int:
    with connect(server.db_url, home=server.home) as registry:
        return registry.log_head().position


def _lanes(page: str) -> int:
    return len(re.findall(r'<g class="lane"', page))


def test_every_page_needs_a_session(server: tuple[ServerProcess, dict[str, int]]) -> None:
    base = server[0].url
    page = httpx.get(base + "/ui/models/demo", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login?next=%2Fui%2Fmodels%2Fdemo")
    assert httpx.get(base + "/ui/models.json").status_code == 401
    bearer = httpx.get(base + "/ui/models", headers=server[0].auth(), follow_redirects=False)
    assert bearer.status_code == 303  # an API token in a header is not a UI session
    wrong = httpx.Client(base_url=base)
    form = wrong.get("/ui/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert nonce
    refused = wrong.post("/ui/login", data={"csrf_token": nonce.group(1), "token": "mlg_nope"})
    assert refused.status_code == 401 and "not valid" in refused.text and "modelog_session" not in refused.headers.get(
        "set-cookie", "")
    no_nonce = httpx.post(base + "/ui/login", data={"token": server[0].token})
    assert no_nonce.status_code == 403 and "modelog_session" not in no_nonce.headers.get("set-cookie", "")


def test_the_session_cookie_is_http_only_strict_and_dies_with_its_token(
        server: tuple[ServerProcess, dict[str, int]]) -> None:
    running = server[0]
    client = httpx.Client(base_url=running.url)
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text)
    assert nonce
    done = client.post("/ui/login", data={"csrf_token": nonce.group(1), "token": running.token, "next": "//evil"})
    cookie = [c for c in done.headers.get_list("set-cookie") if c.startswith("modelog_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert done.headers["location"] == "/ui/models"  # never another site
    assert client.get("/ui/models").status_code == 200
    with connect(running.db_url, home=running.home) as registry:
        token_id = running.token.split("_")[1]
        registry.revoke_token(token_id)
    after = client.get("/ui/models", follow_redirects=False)
    assert after.status_code == 303 and "revoked" in httpx.URL(after.headers["location"]).params["reason"]


def test_models_page_and_its_json_twins(ui: httpx.Client) -> None:
    page = ui.get("/ui/models")
    assert page.status_code == 200 and 'class="model-link" href="/ui/models/demo"' in page.text
    assert '<span class="badge stage-production">v1</span>' in page.text
    twin = ui.get("/ui/models.json").json()
    assert twin == ui.get("/ui/models", headers={"Accept": "application/json"}).json()
    demo = [s for s in twin["models"]["items"] if s["model"]["name"] == "demo"][0]
    assert demo["production"] == 1 and twin["moment"]["position"] is None
    assert ui.get("/ui/models.json", params={"tag": "team-a"}).json()["models"]["total"] == 1


def test_a_change_by_anyone_shows_on_the_next_page(ui: httpx.Client,
                                                   server: tuple[ServerProcess, dict[str, int]]) -> None:
    assert "fresh-model" not in ui.get("/ui/models").text
    assert "fresh-model" not in ui.get("/ui/models").text  # answered from the page cache
    with connect(server[0].db_url, home=server[0].home) as registry:  # another process writes
        registry.register_model("fresh-model")
    assert "fresh-model" in ui.get("/ui/models").text


def test_model_page_timeline_history_and_filters(ui: httpx.Client) -> None:
    page = ui.get("/ui/models/demo")
    assert _lanes(page.text) == 3  # v1, v2 and the deleted v3
    assert 'data-stage="production"' in page.text and "marker-deleted" in page.text
    assert "<title>version 1 stage staging -&gt; production at " in page.text
    twin = ui.get("/ui/models/demo.json").json()
    assert [lane["number"] for lane in twin["timeline"]["lanes"]] == [1, 2, 3]
    assert [s["stage"] for s in twin["timeline"]["lanes"][0]["spans"]] == ["none", "staging", "production"]
    only = ui.get("/ui/models/demo.json", params={"kind": "ModelVersionStageChanged"}).json()
    assert only["history_total"] == 2 and {e["event_type"] for e in only["history"]} == {"ModelVersionStageChanged"}


def test_a_renamed_model_has_its_whole_history_under_its_new_name(
        ui: httpx.Client, server: tuple[ServerProcess, dict[str, int]]) -> None:
    before = _head(server[0])
    with connect(server[0].db_url, home=server[0].home) as registry:  # another process renames it
        registry.rename_model("demo", "churn-scorer")
    page = ui.get("/ui/models/churn-scorer")
    assert page.status_code == 200 and _lanes(page.text) == 3
    assert "renamed model &#39;demo&#39; to &#39;churn-scorer&#39;" in page.text
    twin = ui.get("/ui/models/churn-scorer.json").json()
    kinds = [e["event_type"] for e in twin["history"]]
    assert kinds[0] == "ModelRenamed" and kinds[-1] == "ModelRegistered"  # newest first, from the registration on
    assert ui.get("/ui/models/demo").status_code == 404
    past = ui.get("/ui/models/demo.json", params={"at_position": before}).json()
    assert past["moment"]["position"] == before and "ModelRenamed" not in [e["event_type"] for e in past["history"]]
    assert "churn-scorer" in ui.get("/ui/models").text and ">demo<" not in ui.get("/ui/models").text


def test_time_travel_before_the_promotion(ui: httpx.Client, server: tuple[ServerProcess, dict[str, int]]) -> None:
    before = server[1]["before_production"]
    page = ui.get("/ui/models/demo", params={"at_position": before})
    assert page.status_code == 200 and 'id="past-banner"' in page.text
    assert 'data-stage="production"' not in page.text.split('<h2>Stage timeline')[0]
    assert f'href="/ui/models/demo/versions/1?at_position={before}"' in page.text  # links stay in the past
    version = ui.get("/ui/models/demo/versions/1.json", params={"at_position": before}).json()
    assert version["description"]["version"]["stage"] == "staging" and version["moment"]["position"] == before
    assert 'id="stage-form"' not in ui.get("/ui/models/demo/versions/1", params={"at_position": before}).text
    assert 'id="past-banner"' not in ui.get("/ui/models/demo").text
    stamp = ui.get("/ui/audit.json", params={"start": before}).json()["events"][0]["recorded_at"]
    for as_of in (stamp, stamp.rstrip("Z")):  # no zone (what the date-time field sends) is read as UTC
        assert ui.get("/ui/models/demo.json", params={"as_of": as_of}).json()["moment"]["position"] == before


def test_the_diff_of_two_moments(ui: httpx.Client, server: tuple[ServerProcess, dict[str, int]]) -> None:
    points = server[1]
    found = ui.get("/ui/models/demo/diff.json", params={"before": points["before_production"],
                                                          "after": points["after_production"]}).json()["diff"]
    assert found["stage_moves"] == [{"number": 1, "before": "staging", "after": "production"}]
    assert found["created"] == [] and found["links"] == []
    whole = ui.get("/ui/models/demo/diff.json").json()["diff"]
    assert whole["created"] == [1, 2, 3] and whole["deleted"] == [3] and len(whole["edits"]) == 1
    page = ui.get("/ui/models/demo/diff", params={"before": points["before_production"]})
    assert "v1: staging → production" in page.text
    born = ui.get("/ui/models/x-script/diff.json", params={"before": 2}).json()["diff"]  # x-script came later
    assert born["created"] == [1] and born["stage_moves"] == []
    assert ui.get("/ui/models/demo/diff", params={"before": "soon"}).status_code == 400


def test_refusals_are_pages(ui: httpx.Client) -> None:
    missing = ui.get("/ui/models/nope")
    assert missing.status_code == 404 and 'id="way-back"' in missing.text and "nope" in missing.text
    assert ui.get("/ui/models/demo/versions/9").status_code == 404
    assert ui.get("/ui/runs/0123456789abcdef").status_code == 404
    bad = ui.get("/ui/models/demo", params={"as_of": "yesterday"})
    assert bad.status_code == 400 and "as_of=&#39;yesterday&#39; is not an ISO 8601 timestamp" in bad.text
    assert ui.get("/ui/models", params={"as_of": "2999-01-01T00:00:00Z"}).status_code == 400
    assert ui.get("/ui/models.json", params={"as_of": "bad"}).json()["error"]["code"] == "invalid_input"
    nowhere = ui.get("/ui/no/such/page")
    assert nowhere.status_code == 404 and 'id="way-back"' in nowhere.text


def test_security_headers_and_no_inline_script(ui: httpx.Client) -> None:
    for path in ("/ui/models", "/ui/models/demo", "/ui/models/demo/versions/1", "/ui/audit", "/ui/models/nope"):
        page = ui.get(path)
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "style-src 'self'" in csp
        assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == [] and " style=" not in page.text
        assert re.search(r"\son[a-z]+=", page.text) is None
    assert ui.get("/ui/static/ui.js").status_code == 200


def test_promotion_needs_csrf_and_asks_before_archiving(ui: httpx.Client,
                                                        server: tuple[ServerProcess, dict[str, int]]) -> None:
    head = _head(server[0])
    stage_url = "/ui/models/demo/versions/2/stage"
    assert ui.post(stage_url, data={"stage": "production"}).status_code == 403
    assert ui.post(stage_url, data={"stage": "production", "csrf_token": "0" * 64}).status_code == 403
    assert _head(server[0]) == head  # nothing written
    csrf = csrf_of(ui.get("/ui/models/demo/versions/2").text)
    ask = ui.post(stage_url, data={"stage": "production", "csrf_token": csrf})
    assert ask.status_code == 409 and "held by version 1" in ask.text and 'id="confirm-force"' in ask.text
    assert _head(server[0]) == head
    done = ui.post(stage_url, data={"stage": "production", "force": "yes", "csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/ui/models/demo/versions/2?notice=stage"
    versions = {v["number"]: v["stage"] for v in ui.get("/ui/models/demo.json").json()["versions"]}
    assert versions == {1: "archived", 2: "production"}
    with connect(server[0].db_url, home=server[0].home) as registry:
        assert registry.history("demo")[-1].actor == "tester"  # the signed-in principal acted


def test_aliases_set_and_removed(ui: httpx.Client) -> None:
    csrf = csrf_of(ui.get("/ui/models/demo/versions/1").text)
    done = ui.post("/ui/models/demo/versions/1/alias", data={"alias": "champion", "csrf_token": csrf})
    assert done.status_code == 303
    assert ui.get("/ui/models/demo.json").json()["aliases"]["champion"] == 1
    bad = ui.post("/ui/models/demo/versions/1/alias", data={"alias": "a/b", "csrf_token": csrf})
    assert bad.status_code == 400 and 'class="problem"' in bad.text
    gone = ui.post("/ui/models/demo/versions/1/alias/remove", data={"alias": "champion", "csrf_token": csrf})
    assert gone.status_code == 303
    assert "champion" not in ui.get("/ui/models/demo.json").json()["aliases"]


def test_hostile_text_is_shown_never_acted_on(ui: httpx.Client) -> None:
    for key, text in HOSTILE.items():
        for path in (f"/ui/models/x-{key}", f"/ui/models/x-{key}/versions/1", "/ui/models", "/ui/audit"):
            page = ui.get(path).text
            assert "<img" not in page and "<script>window" not in page and "\x1b" not in page and "\u202e" not in page
            assert 'href="javascript:' not in page and "onerror=\"window" not in page
        model = ui.get(f"/ui/models/x-{key}.json").json()
        assert model["model"]["description"] == text  # the twin carries the text as it is
    bidi = ui.get("/ui/models/x-bidi").text
    assert "safe&lt;U+202E&gt;gnp.exe" in bidi
    assert "&lt;script&gt;window.__xss = 1; alert(1)&lt;/script&gt;" in ui.get("/ui/models/x-script").text
    assert 'href="javascript:' not in ui.get("/ui/models/x-js_url").text


def test_audit_page_head_and_verify_now(ui: httpx.Client, server: tuple[ServerProcess, dict[str, int]]) -> None:
    page = ui.get("/ui/audit")
    head = ui.get("/ui/audit.json").json()["head"]
    assert f'{head["position"]}:{head["hash"]}' in page.text and "Not verified since" in page.text
    assert ui.post("/ui/audit/verify", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    verified = ui.get("/ui/audit").text
    assert "Everything verified" in verified and "signatures not checked (this server has no signing key)" in verified
    assert "MODELOG_SIGNING_KEY=" in verified and 'id="checkpoint"' not in verified
    first = ui.get("/ui/audit.json", params={"start": 1}).json()
    assert first["events"][0]["position"] == 1 and len(first["events"]) == min(50, head["position"])


def test_logout(ui: httpx.Client) -> None:
    csrf = csrf_of(ui.get("/ui/models").text)
    done = ui.post("/ui/logout", data={"csrf_token": csrf})
    assert done.status_code == 303 and 'modelog_session=""' in done.headers["set-cookie"]
    assert ui.get("/ui/models", follow_redirects=False).status_code == 303


def test_audit_page_shows_a_signed_checkpoint_and_verify_now_checks_the_signatures(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from html import unescape

    from modelog.registry.checkpoints import checkpoint_signer_key, parse_checkpoint
    from modelog.registry.signing import generate_key_file

    home = tmp_path / "server-home"
    seed(db_url, home)
    key, other = tmp_path / "signing.pem", tmp_path / "other.pem"
    public = generate_key_file(key)
    generate_key_file(other)
    monkeypatch.setenv("MODELOG_SIGNING_KEY", str(key))
    with connect(db_url, home=home) as registry:  # signing begins here
        registry.create_version("demo")
    with serving(db_url, home, extra_env={"MODELOG_SIGNING_KEY": str(key)}) as running:
        client = signed_in(running.url, running.token)
        page = client.get("/ui/audit")
        shown = re.search(r'<pre class="anchor" id="checkpoint">([^<]+)</pre>', page.text)
        assert shown, page.text
        checkpoint = parse_checkpoint(unescape(shown.group(1)))
        assert checkpoint.key_id == public.key_id and checkpoint.position == _head(running)
        assert checkpoint_signer_key(checkpoint, [public]) == (public, None)
        twin = client.get("/ui/audit.json").json()
        assert twin["signing_hint"] is None
        assert {k: twin["checkpoint"][k] for k in ("position", "hash", "key_id")} == {
            "position": checkpoint.position, "hash": checkpoint.hash, "key_id": checkpoint.key_id}
        assert client.post("/ui/audit/verify", data={"csrf_token": csrf_of(page.text)}).status_code == 303
        verified = client.get("/ui/audit").text
        assert "Everything verified" in verified and f"signatures valid (key {public.key_id}" in verified
        monkeypatch.setenv("MODELOG_SIGNING_KEY", str(other))  # an event signed by a key that is not the server's
        with connect(db_url, home=home) as registry:
            registry.create_version("demo")
        page = client.get("/ui/audit")
        assert client.post("/ui/audit/verify", data={"csrf_token": csrf_of(page.text)}).status_code == 303
        refused = client.get("/ui/audit").text
        assert "Problems found" in refused and "signatures INVALID" in refused and 'id="signature-problem"' in refused
        client.close()
