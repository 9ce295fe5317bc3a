"""The conversations inbox in headless Chromium: an agent answers a customer's reply and it is sent once.

Same browser set-up as ``test_console_browser`` (the Debian ``chromium`` through Playwright, no
download); screenshots under ``test-artifacts/conversations/``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session, select

from outreach.outbox.records import OutboxRecord
from tests.e2e.test_console_browser import CHROMIUM, page, serve  # noqa: F401  (page: the browser fixture)
from tests.fakes.console_world import PASSWORD, build_world, seed_conversations
from tests.integration.test_console_conversations import sender

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "conversations"
ANSWER = "Hi Ada, thanks for asking. A colleague is checking where your order is and will write back soon."

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture
def world(tmp_path):
    world = build_world(tmp_path)
    world.conversations = seed_conversations(world.engine)
    with serve(world.app) as url:
        world.url = url
        yield world


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def answers(world) -> list[OutboxRecord]:
    with Session(world.engine) as session:
        return list(session.scalars(select(OutboxRecord).where(OutboxRecord.rule_id == "conversation:answer")))


def test_an_agent_answers_a_reply_from_the_inbox_and_it_is_sent_once(world, page):
    expect = sync_api.expect
    page.goto(f"{world.url}/console/conversations")
    page.fill("input[name=username]", "agent")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Conversations")
    rows = page.locator("#queue tr.conversation")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("complaint")  # the frustrated complaint waits first
    expect(rows.first).to_contain_text("escalated")
    shot(page, "01-queue")

    page.click("text=order_status")
    expect(page.locator("#thread")).to_contain_text("where is my order now?")
    expect(page.locator("#context")).to_contain_text("Why we wrote")
    suggested = page.locator("textarea[name=text]")
    expect(suggested).to_contain_text("Ada")  # a suggestion drafted from the facts, for a person to edit
    shot(page, "02-conversation")

    # An edit that invents an offer is refused by the guardrails, and nothing is queued.
    suggested.fill("Hi Ada, sorry! Enjoy 20% off with code SAVE20.")
    page.click("#answer-form button.send")
    expect(page.locator(".refused")).to_contain_text("offers")
    assert answers(world) == []
    shot(page, "03-refused")

    # The edited answer, sent with a double click: one message.
    page.locator("textarea[name=text]").fill(ANSWER)
    page.locator("#answer-form button.send").dblclick()
    expect(page.locator(".flash.ok")).to_contain_text("queued")
    assert len(answers(world)) == 1

    send, sinks = sender(world)
    send.run_once(dt.datetime.now(dt.timezone.utc))
    send.run_once(dt.datetime.now(dt.timezone.utc))
    [delivered] = sinks["email"].delivered
    assert delivered.to == "ada1@example.com" and delivered.body.startswith(ANSWER)

    page.reload()
    expect(page.locator("#thread .answer-state")).to_have_text("sent")
    expect(page.locator("#summary")).to_contain_text("assignee agent")
    shot(page, "04-answered")

    page.click("#answer button.resolve")
    expect(page.locator(".flash.ok")).to_contain_text("resolved")
    expect(page.locator("#queue tr.conversation")).to_have_count(1)
    shot(page, "05-resolved")
