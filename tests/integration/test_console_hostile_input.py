"""Hostile input to the console and its JSON API: a 4xx naming what is wrong, never a 500, and no unbounded work."""

from __future__ import annotations

import re
import time

import pytest

from retain.console.rule_editing import MAX_RULE_TEXT_CHARS
from tests.fakes.console_world import build_world
from tests.integration.test_console_access import log_in
from tests.streamed_body import Offered, post_streamed
from tests.unit.triggers.test_trigger_loader_hostile import RULE_HEAD, alias_bomb

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("console-hostile"), history=True)


@pytest.fixture(scope="module")
def editor(world):
    client, csrf = log_in(world, "editor")
    client.headers["X-CSRF-Token"] = csrf
    return client


def test_an_alias_bomb_to_validate_is_refused_quickly_and_clearly(editor):
    started = time.process_time()
    answer = editor.post("/api/rules/validate", json={"yaml": RULE_HEAD + alias_bomb()})
    assert time.process_time() - started < 1.0  # CPU of this process (the app runs in it): was about 10 s
    assert answer.status_code == 200 and answer.json()["valid"] is False
    assert "aliases" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize("path", ["/api/rules/validate", "/api/rules/checkout-idle-nudge/backtest"])
def test_rule_text_over_the_bound_is_refused_naming_the_field(editor, path):
    body = {"yaml": "x" * (MAX_RULE_TEXT_CHARS + 1), "start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    answer = editor.post(path, json=body)
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["body", "yaml"]]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("confidence=0.9999999999999999", 422),  # 0.5 + c/2 rounds to 1.0: no normal quantile (was 500)
        ("confidence=0.999", 200),
        ("confidence=1", 422),
        ("confidence=0.5", 422),
        ("confidence=nan", 422),
        ("confidence=1e-320", 422),
        ("days=0", 422),
        ("days=367", 422),
    ],
)
def test_results_parameters_are_checked(editor, query, status):
    answer = editor.get(f"/api/results?{query}")
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["detail"][0]["loc"] == ["query", query.split("=")[0]]


def test_a_rule_version_no_database_column_holds_is_refused_and_nothing_is_written(world, editor):
    path = world.rules_dir / "checkout_idle.yaml"
    before = path.read_text()
    text = editor.get("/api/rules/checkout-idle-nudge").json()["yaml"]
    huge = re.sub(r"version: \d+", "version: 99999999999999999999", text).replace("priority: 30", "priority: 31")
    answer = editor.put("/api/rules/checkout-idle-nudge", json={"yaml": huge})
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "version"
    assert path.read_text() == before


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "9999-12-31"), ("nonsense", "9999-99-99")])
def test_the_rule_pages_backtest_window_at_the_calendars_edges_is_no_500(world, editor, start, end):
    text = editor.get("/api/rules/checkout-idle-nudge").json()["yaml"]
    answer = editor.post("/console/rules/checkout-idle-nudge", data={
        "yaml": text, "action": "backtest", "start": start, "end": end,
        "csrf_token": editor.headers["X-CSRF-Token"]})
    assert answer.status_code == 200, answer.text[:300]


@pytest.mark.parametrize(("path", "content_type"), [
    ("/console/login", "application/x-www-form-urlencoded"),  # public: anyone can send this
    ("/api/rules/validate", "application/json"),  # FastAPI reads a JSON body before it checks the session
])
async def test_anonymous_huge_bodies_are_refused_at_the_default_cap(world, path, content_type):
    body = Offered(300)
    answer = await post_streamed(world.app, path, body, {"content-type": content_type}, base_url="https://testserver")
    cap = world.settings.max_request_body_bytes
    assert answer.status_code == 413 and f"request body larger than {cap} bytes" in answer.text  # HTML or JSON
    assert body.pulled <= cap // 65_536 + 1
