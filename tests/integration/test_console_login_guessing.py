"""Console login against guessing, through the real app and database: throttling per name and per address
(429 with Retry-After, durable across restarts), a single-use login CSRF token, the same work for unknown
and known names, failed logins audited and logged with the client address, session id rotation."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retain.api.app import create_app
from retain.console.mount import install_console
from retain.console.records import ConsoleAuditRecord
from infra.database import session_scope
from signals.publisher import InMemoryEventPublisher
from tests.fakes.console_world import NOW, PASSWORD, build_world, login_form_token

pytestmark = pytest.mark.integration


class Clock:
    """The console's clock, moved by hand (throttling is about time; no test sleeps)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


@pytest.fixture
def clock(world):
    world.app.state.clock = Clock(NOW)
    return world.app.state.clock


def client(world, address: str = "203.0.113.7") -> TestClient:
    return TestClient(world.app, base_url="https://testserver", follow_redirects=False, client=(address, 50000))


def attempt(c: TestClient, username: str, password: str):
    return c.post("/console/login", data={"username": username, "password": password, "csrf_token": login_form_token(c)})


def failed_logins(world) -> list[ConsoleAuditRecord]:
    with session_scope(world.engine) as session:
        return list(session.scalars(select(ConsoleAuditRecord).where(ConsoleAuditRecord.action == "login.failed")
                                    .order_by(ConsoleAuditRecord.id)))


def test_sixty_wrong_passwords_are_throttled_and_even_the_right_one_then_waits(world, clock):
    c = client(world)
    answers = [attempt(c, "admin", f"wrong password {i}").status_code for i in range(60)]
    assert answers[:5] == [401] * 5  # a few typos cost nothing
    assert answers.count(401) <= 6 and answers[-1] == 429  # then each guess waits (the clock stands still)
    right = attempt(c, "admin", PASSWORD)
    assert right.status_code == 429 and "retain_session" not in right.cookies
    wait = int(right.headers["Retry-After"])
    assert wait >= 1 and "try again" in right.text.lower()
    clock.advance(wait)
    assert attempt(c, "admin", PASSWORD).status_code == 303  # not locked for ever: the real user gets in


def test_waits_double_after_each_failure_and_stop_at_the_cap(world, clock):
    c = client(world)
    for _ in range(5):
        assert attempt(c, "editor", "wrong password!").status_code == 401
    waits = []
    for _ in range(26):
        answer = attempt(c, "editor", "wrong password!")
        if answer.status_code == 429:
            waits.append(int(answer.headers["Retry-After"]))
            clock.advance(waits[-1])
    assert waits[:4] == [1, 2, 4, 8]
    assert waits[-2:] == [15 * 60, 15 * 60] and max(waits) == 15 * 60  # capped: a name is never locked for longer than the cap


def test_spraying_many_names_from_one_address_is_throttled_per_address(world, clock):
    sprayer = client(world, "198.51.100.9")
    answers = [attempt(sprayer, f"user{i}", "Winter2026!!").status_code for i in range(25)]
    assert answers[:20] == [401] * 20 and answers[-1] == 429
    # The same names stay open to everyone else; a real user elsewhere logs in.
    assert attempt(client(world, "192.0.2.44"), "viewer", PASSWORD).status_code == 303


def test_throttling_is_kept_in_the_database_across_a_restart(world, clock):
    c = client(world)
    for i in range(7):
        attempt(c, "approver", f"wrong password {i}")
    restarted = install_console(create_app(world.settings, publisher=InMemoryEventPublisher(), engine=world.engine))
    restarted.state.clock = clock
    again = TestClient(restarted, base_url="https://testserver", follow_redirects=False, client=("203.0.113.8", 1))
    assert attempt(again, "approver", PASSWORD).status_code == 429


def test_the_login_csrf_token_is_single_use(world, clock):
    c = client(world)
    token = login_form_token(c)
    first = c.post("/console/login", data={"username": "admin", "password": "wrong password!", "csrf_token": token})
    assert first.status_code == 401
    script = client(world)  # replays the same cookie and form pair, as a guessing script would
    script.cookies.set("retain_login_csrf", token)
    replay = script.post("/console/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert replay.status_code == 403 and "retain_session" not in replay.cookies


def test_unknown_disabled_and_known_names_cost_the_same_hash_work(world, clock, monkeypatch):
    calls = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(kwargs.get("n"))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)  # the standard library's, counted: no wall-clock timing
    with session_scope(world.engine) as session:
        from retain.console.records import UserRecord
        session.get(UserRecord, "viewer").disabled = True
        session.commit()
    work = {}
    for name in ("admin", "nobody-by-this-name", "viewer"):
        calls.clear()
        assert attempt(client(world, f"192.0.2.{len(work) + 1}"), name, "wrong password!").status_code == 401
        work[name] = list(calls)
    assert work["admin"] == work["nobody-by-this-name"] == work["viewer"] == [2**14]


def test_failed_logins_are_audited_and_logged_with_the_address_never_the_secret(world, clock, caplog):
    caplog.set_level(logging.INFO, logger="retain.console")
    c = client(world, "203.0.113.77")
    attempt(c, "admin", "hunter2 but longer")
    attempt(c, "my password is s3cret-typed-as-name", "whatever long")
    rows = failed_logins(world)
    assert [(r.actor, r.detail["address"], r.detail["reason"]) for r in rows] == [
        ("admin", "203.0.113.77", "wrong password"), ("(unknown)", "203.0.113.77", "unknown user")]
    assert all("s3cret" not in str(r.detail) + r.target for r in rows)
    logged = [r for r in caplog.records if "login refused" in r.getMessage()]
    assert len(logged) == 2 and all(getattr(r, "client", None) == "203.0.113.77" for r in logged)
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "hunter2" not in text and "s3cret" not in text and "whatever long" not in text


def test_forwarded_for_is_trusted_only_from_configured_proxies(world, clock):
    proxy = client(world, "10.0.0.5")
    attempt_from = lambda c, forwarded: c.post(  # noqa: E731
        "/console/login", headers={"X-Forwarded-For": forwarded},
        data={"username": "admin", "password": "wrong password!", "csrf_token": login_form_token(c)})
    attempt_from(proxy, "198.51.100.1")
    assert failed_logins(world)[-1].detail["address"] == "10.0.0.5"  # not configured: the header is a claim
    world.app.state.settings = world.settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    attempt_from(proxy, "198.51.100.1, 10.0.0.9")
    assert failed_logins(world)[-1].detail["address"] == "198.51.100.1"
    attempt_from(client(world, "192.0.2.9"), "198.51.100.1")  # not from a proxy: ignored
    assert failed_logins(world)[-1].detail["address"] == "192.0.2.9"


def test_logging_in_replaces_a_session_the_browser_already_had(world, clock):
    c = client(world)
    assert attempt(c, "viewer", PASSWORD).status_code == 303
    old = c.cookies.get("retain_session")
    assert attempt(c, "admin", PASSWORD).status_code == 303
    new = c.cookies.get("retain_session")
    assert new and new != old
    stale = client(world)
    stale.cookies.set("retain_session", old)
    assert stale.get("/api/me").status_code == 401


def test_a_stranger_guessing_a_name_does_not_lock_out_the_users_own_browser(world, clock):
    own = client(world, "192.0.2.50")
    assert attempt(own, "approver", PASSWORD).status_code == 303  # the approver's browser, remembered
    own.post("/console/logout", data={"csrf_token": own.get("/api/me").json()["csrf_token"]})
    stranger = client(world, "198.51.100.66")
    for i in range(12):
        attempt(stranger, "approver", f"guess number {i}")
    assert attempt(stranger, "approver", PASSWORD).status_code == 429  # the name waits for strangers
    assert attempt(client(world, "192.0.2.51"), "approver", PASSWORD).status_code == 429  # and new browsers
    assert attempt(own, "approver", PASSWORD).status_code == 303  # not for the user's own browser
    # The device cookie goes to the login form only, and counts for its own user only.
    assert own.cookies.get("retain_device", path="/console/login")
    for i in range(6):
        attempt(stranger, "viewer", f"guess number {i}")
    assert attempt(own, "viewer", PASSWORD).status_code == 429


def test_disabling_a_user_forgets_their_browsers(world, clock):
    own = client(world, "192.0.2.60")
    assert attempt(own, "editor", PASSWORD).status_code == 303
    from retain.console.records import KnownDeviceRecord
    from retain.console.users import set_disabled
    with session_scope(world.engine) as session:
        assert session.scalars(select(KnownDeviceRecord).where(KnownDeviceRecord.username == "editor")).first()
        set_disabled(session=session, username="editor", disabled=True, now=NOW)
        session.commit()
        assert session.scalars(select(KnownDeviceRecord).where(KnownDeviceRecord.username == "editor")).first() is None


@pytest.mark.parametrize(("name", "password", "why"), [
    ("admin", PASSWORD, "ok"), ("admin", "wrong password!", "wrong password"),
    ("nobody-by-this-name", PASSWORD, "unknown user"), ("x" * 5000, PASSWORD, "unknown user"),
    ("ad\x00min", PASSWORD, "unknown user"),  # PostgreSQL refuses NUL in text: such a name is never looked up
])
def test_authenticate_checks_exactly_one_password_hash_whoever_asks(world, name, password, why):
    from retain.console.credentials import verify_password
    from retain.console.users import authenticate

    checked = []

    def verify(candidate: str, stored: str) -> bool:  # the injected hasher, counted
        checked.append(stored.split("$")[:4])
        return verify_password(candidate, stored)

    with session_scope(world.engine) as session:
        user, reason = authenticate(session=session, username=name, password=password, verify=verify)
    assert reason == why and (user is not None) is (why == "ok")
    assert checked == [["scrypt", str(2**14), "8", "1"]]  # one check, with the real parameters, every time
