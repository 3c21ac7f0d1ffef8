"""What the UI tests share: a small registry with a model's whole life, and a signed-in HTTP session."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from modelog.application.local import connect

#: Names and descriptions that must be shown as text, never acted on, by every page.
HOSTILE = {
    "script": "<script>window.__xss = 1; alert(1)</script>",
    "img": '"><img src=x onerror="window.__xss=2">',
    "js_url": "javascript:window.__xss=3",
    "bidi": "safe\u202egnp.exe",
    "terminal": "red\x1b[31mtext\x07",
}


def seed(db_url: str, home: Path) -> dict[str, int]:
    """A model ``demo``: v1 staging then production, v2 with alias @candidate, v3 deleted; and hostile models.
    Answers the log positions before and after v1's promotion to production."""
    with connect(db_url, home=home) as registry:
        registry.register_model("demo", fields={"description": "churn model", "license": "MIT"}, tags=["team-a"])
        registry.create_version("demo")
        registry.set_stage("demo", 1, "staging")
        registry.create_version("demo")
        before = registry.log_head().position
        registry.set_stage("demo", 1, "production")
        after = registry.log_head().position
        registry.set_alias("demo", 2, "candidate")
        registry.log_metadata("demo", 1, {"accuracy": 0.93})
        registry.create_version("demo")
        registry.delete_version("demo", 3)
    seed_hostile(db_url, home)
    return {"before_production": before, "after_production": after}


def seed_hostile(db_url: str, home: Path) -> None:
    """One model per :data:`HOSTILE` text (``x-<key>``): in its description, license, version description."""
    with connect(db_url, home=home) as registry:
        for key, text in HOSTILE.items():
            name = f"x-{key}"
            registry.register_model(name, fields={"description": text, "license": text}, tags=[f"t-{key}"])
            registry.create_version(name, description=text, tags=[f"v-{key}"])
            registry.set_alias(name, 1, f"a{key}")


def signed_in(base_url: str, token: str) -> httpx.Client:
    """An HTTP client signed in to the UI with ``token`` (through the login form, as a browser does)."""
    client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    form = client.get("/ui/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert nonce, form.text
    done = client.post("/ui/login", data={"csrf_token": nonce.group(1), "token": token, "next": "/ui/models"})
    assert done.status_code == 303, done.text
    return client


def csrf_of(page: str) -> str:
    """The CSRF value of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found, page
    return found.group(1)
