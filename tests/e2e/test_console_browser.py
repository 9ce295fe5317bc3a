"""The console in headless Chromium: log in, edit a rule with a mistake, fix and backtest it, approve a draft,
open a customer timeline; four-eyes on a rule change (an editor proposes, an approver approves). A screenshot
of each page is kept under ``test-artifacts/console/``.

Uses the Debian ``chromium`` package through Playwright's ``executable_path``: no browser is downloaded.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from infra.broker import free_port
from tests.fakes.console_world import PASSWORD, build_world
from triggers.reload import RuleReloader
from triggers.ruleset import RuleBook

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
TIMEOUT_MS = 15_000
NUDGE = "checkout-idle-nudge"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # runs in a thread: leave the test runner's signals alone
        pass


@pytest.fixture
def served(tmp_path):
    world = build_world(tmp_path, history=True)  # Secure cookies on: Chromium accepts them on http://127.0.0.1
    port = free_port()
    server = _Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # bounded wait for the socket to listen
        assert thread.is_alive() and time.monotonic() < deadline, "the console server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", world
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def console_url(served):
    return served[0]


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_flow(console_url, page):
    expect = sync_api.expect
    for old in ARTIFACTS.glob("[0-9][0-9]-*.png"):
        old.unlink()

    # Log in: an anonymous visitor is sent to the form, then back to the page asked for.
    page.goto(f"{console_url}/console/rules")
    expect(page).to_have_url(f"{console_url}/console/login?next=%2Fconsole%2Frules")
    shot(page, "01-login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Rules")
    shot(page, "02-rules")

    page.click("text=Overview")
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("#deadletter")).to_have_text("2")
    shot(page, "03-overview")

    # Edit a rule with a mistake: live validation shows it, and saving is refused with the same error.
    page.goto(f"{console_url}/console/rules/checkout-idle-nudge")
    editor = page.locator("#rule-yaml")
    text = editor.input_value()
    editor.fill(text.replace("priority: 30", "priority: lots"))
    expect(page.locator("#validation .errors")).to_contain_text("priority")
    shot(page, "04-rule-live-error")
    page.click("#save")
    expect(page.locator(".flash.error")).to_contain_text("Not saved")
    expect(page.locator("#validation .errors")).to_contain_text("line 17: priority")

    # Fix it (a longer cooldown: it only narrows the rule, so it applies at once) and backtest it first.
    page.locator("#rule-yaml").fill(text.replace("cooldown: 7d", "cooldown: 10d"))
    expect(page.locator("#validation")).to_have_class("validation valid")
    page.fill("input[name=start]", "2026-10-01")
    page.fill("input[name=end]", "2026-10-14")
    page.click("#backtest")
    expect(page.locator("#backtest-result")).to_contain_text("events")
    expect(page.locator("#backtest-result")).to_contain_text("engage")
    shot(page, "05-rule-backtest")
    page.click("#save")
    expect(page.locator(".flash.ok")).to_have_text("Saved as v2.")
    expect(page.locator("details summary").first).to_contain_text("v2")
    expect(page.locator("details summary").first).to_contain_text("by admin")
    shot(page, "06-rule-saved")

    # Approve a draft, edited.
    page.click("text=Approvals")
    draft = page.locator("#draft-m0007")
    expect(draft).to_contain_text("late_orders")
    draft.locator("textarea[name=body]").fill("Hi, sorry: your parcel is late. SORRY10 is yours.")
    shot(page, "07-approvals")
    draft.locator("button.approve").click()
    expect(page.locator(".flash.ok")).to_have_text("Approved.")
    expect(page.locator("#draft-m0007")).to_have_count(0)

    page.click("text=Messages")
    page.select_option("select[name=status]", "drafted")
    page.click("form.filters button")
    expect(page.locator("tbody tr")).to_have_count(1)
    shot(page, "08-messages")

    # Open a customer timeline by id.
    page.click("text=Customers")
    page.fill("input[name=customer_id]", "c-1")
    page.click("form.filters button")
    expect(page.locator("#timeline")).to_contain_text("checkout-idle-nudge")
    expect(page.locator("#timeline")).to_contain_text("risk 0.41")
    shot(page, "09-customer")

    page.click("text=Results")
    expect(page.locator("#results")).to_contain_text("checkout-idle-nudge")
    shot(page, "10-results")
    assert len(list(ARTIFACTS.glob("[0-9][0-9]-*.png"))) == 10


def log_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    sync_api.expect(page.locator("form.logout span")).to_contain_text(username)


def test_four_eyes_on_a_rule_change(served, page):
    expect = sync_api.expect
    url, world = served
    rule_file = world.rules_dir / "checkout_idle.yaml"
    before = rule_file.read_text()

    # The editor lets the nudge contact people more often: a proposal; the rule in force does not change.
    log_in(page, url, "editor")
    page.goto(f"{url}/console/rules/{NUDGE}")
    editor = page.locator("#rule-yaml")
    editor.fill(editor.input_value().replace("cooldown: 7d", "cooldown: 1d"))
    page.fill("input[name=start]", "2026-10-01")
    page.fill("input[name=end]", "2026-10-14")
    page.click("#save")
    expect(page.locator(".flash.ok")).to_contain_text("waits for a different approver")
    expect(page.locator(".flash.pending")).to_contain_text("contacts more often: cooldown 7d -> 1d")
    assert rule_file.read_text() == before
    shot(page, "four-eyes-1-proposed")

    # The editor sees it among the rule changes but cannot approve it, not even by calling the API.
    page.click("text=Rule changes")
    proposal = page.locator("article.proposal")
    expect(proposal).to_have_count(1)
    expect(proposal.locator("button.approve")).to_have_count(0)
    status = page.evaluate("""async () => (await fetch('/api/rule-proposals/1/approve', {method: 'POST',
        headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}})).status""")
    assert status == 403
    assert rule_file.read_text() == before
    page.click("form.logout button")

    # The approver sees why, the diff and the backtest beside it, and approves.
    log_in(page, url, "approver")
    page.click("text=Rule changes")
    expect(proposal.locator(".author")).to_have_text("editor")
    expect(proposal.locator(".reasons")).to_contain_text("contacts more often")
    expect(proposal.locator("pre.diff")).to_contain_text("-cooldown: 7d\n+cooldown: 1d")
    expect(proposal.locator("aside.backtest")).to_contain_text("events")
    sent = re.compile(r"(email|sms) \d+")  # messages the rule in force and the proposal would have sent
    expect(proposal.locator("aside.backtest td.current").first).to_contain_text(sent)
    expect(proposal.locator("aside.backtest td.proposed").first).to_contain_text(sent)
    shot(page, "four-eyes-2-review")
    proposal.locator("button.approve").click()
    expect(page.locator(".flash.ok")).to_have_text(f"Approved: {NUDGE} v2 is in force.")
    expect(page.locator("article.proposal")).to_have_count(0)

    # It takes effect: the file holds it, the worker's reloader loads it, the history names both people.
    page.goto(f"{url}/console/rules/{NUDGE}")
    expect(page.locator("details summary").first).to_contain_text("v2")
    expect(page.locator("details summary").first).to_contain_text("by editor · approved by approver")
    shot(page, "four-eyes-3-in-force")
    book = RuleBook()
    RuleReloader(book, world.rules_dir).prime()
    assert book.current.get(NUDGE).cooldown == dt.timedelta(days=1)
