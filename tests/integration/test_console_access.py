"""Access control of the console and its API: anonymous, under-privileged and cross-site requests are refused."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from retain.console.mount import ROUTERS
from retain.console.credentials import ROLES, allowed
from tests.fakes.console_world import PASSWORD, build_world

pytestmark = pytest.mark.integration

# Every console route and the permission it needs. The login form and static files are public by design.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/me"): "read", ("GET", "/api/overview"): "read", ("GET", "/api/rules"): "read",
    ("GET", "/api/rules/{rule_id}"): "read", ("GET", "/api/rules/{rule_id}/history"): "read",
    ("POST", "/api/rules/validate"): "read", ("PUT", "/api/rules/{rule_id}"): "rules",
    ("POST", "/api/rules/{rule_id}/enabled"): "rules", ("POST", "/api/rules/{rule_id}/backtest"): "rules",
    ("GET", "/api/approvals"): "read", ("POST", "/api/approvals/{message_id}/approve"): "approve",
    ("POST", "/api/approvals/{message_id}/reject"): "approve", ("GET", "/api/messages"): "read",
    ("GET", "/api/customers/{customer_id}/timeline"): "read", ("GET", "/api/results"): "read",
    ("GET", "/api/audit"): "read", ("GET", "/api/users"): "admin", ("POST", "/api/users"): "admin",
    ("POST", "/api/tokens"): "admin", ("DELETE", "/api/tokens/{token_id}"): "admin",
    ("POST", "/api/users/{username}/disable"): "admin", ("POST", "/api/users/{username}/enable"): "admin",
    ("POST", "/api/users/{username}/sign-out"): "admin",
    ("GET", "/console/"): "read", ("GET", "/console/rules"): "read", ("GET", "/console/rules/{rule_id}"): "read",
    ("POST", "/console/rules/{rule_id}"): "rules", ("POST", "/console/rules/{rule_id}/enabled"): "rules",
    ("POST", "/console/rules/{rule_id}/resume"): "rules",
    ("GET", "/console/approvals"): "read", ("POST", "/console/approvals/{message_id}"): "approve",
    ("GET", "/console/messages"): "read", ("GET", "/console/customers"): "read",
    ("GET", "/console/customers/{customer_id}"): "read", ("GET", "/console/results"): "read",
    ("GET", "/console/users"): "admin", ("POST", "/console/users"): "admin", ("POST", "/console/tokens"): "admin",
    ("POST", "/console/users/{username}/{action}"): "admin",
    ("GET", "/api/rule-proposals"): "read", ("GET", "/api/rule-proposals/{proposal_id}"): "read",
    ("POST", "/api/rule-proposals/{proposal_id}/backtest"): "read",
    ("POST", "/api/rule-proposals/{proposal_id}/approve"): "approve",
    ("POST", "/api/rule-proposals/{proposal_id}/reject"): "read",  # approvers, or the author withdrawing
    ("GET", "/console/rule-proposals"): "read", ("POST", "/console/rule-proposals/{proposal_id}"): "read",
    ("POST", "/console/logout"): "read",
    ("GET", "/api/producers"): "admin", ("POST", "/api/producers"): "admin",
    ("DELETE", "/api/producers/{credential_id}"): "admin", ("GET", "/console/producers"): "admin",
    ("POST", "/console/producers"): "admin", ("POST", "/console/producers/{credential_id}/revoke"): "admin",
}
PUBLIC = {("GET", "/console/login"), ("POST", "/console/login")}
IDS = {"rule_id": "checkout-idle-nudge", "message_id": "m0007", "customer_id": "c-1", "token_id": "nope",
       "credential_id": "nope", "username": "nobody", "action": "sign-out", "proposal_id": "999"}


def concrete(path: str) -> str:
    return path.format(**IDS)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("console-access"))


def log_in(world, username: str) -> tuple[TestClient, str]:
    """A client with a session for ``username`` and that session's CSRF token."""
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    form = client.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text
    return client, client.get("/api/me").json()["csrf_token"]


def test_the_table_covers_every_console_route():
    found = {(method, route.path) for r in ROUTERS for route in r.routes
             for method in route.methods - {"HEAD"}}
    assert found == set(ROUTES) | PUBLIC


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_anonymous_requests_are_refused(world, method, path):
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    response = client.request(method, concrete(path))
    if path.startswith("/console") and method == "GET":
        assert response.status_code == 303  # pages send anonymous visitors to the login form
        assert response.headers["location"].startswith("/console/login?next=")
    else:
        assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "role"),
                         [(m, p, role) for (m, p), need in sorted(ROUTES.items()) for role in ROLES
                          if not allowed(role, need)])
def test_under_privileged_requests_are_refused(world, method, path, role):
    client, csrf = log_in(world, role)
    response = client.request(method, concrete(path), headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(("method", "path"), sorted(k for k in ROUTES if k[0] != "GET"))
@pytest.mark.parametrize("csrf", [None, "forged"])
def test_writes_without_the_sessions_csrf_token_are_refused(world, method, path, csrf):
    client, _ = log_in(world, "admin")
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = client.request(method, concrete(path), headers=headers)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_a_form_without_its_csrf_field_is_refused_and_changes_nothing(world):
    client, csrf = log_in(world, "editor")
    before = (world.rules_dir / "checkout_idle.yaml").read_text()
    response = client.post("/console/rules/checkout-idle-nudge/enabled", data={"enabled": "false"})
    assert response.status_code == 403
    assert (world.rules_dir / "checkout_idle.yaml").read_text() == before


def test_login_form_csrf_is_checked(world):
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403 and "retain_session" not in response.cookies


def test_wrong_password_is_refused(world):
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    response = client.post("/console/login", data={"username": "admin", "password": "wrong password!", "csrf_token": token})
    assert response.status_code == 401 and "retain_session" not in response.cookies


def test_session_cookie_flags(world):
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    response = client.post("/console/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token,
                                                    "next": "https://evil.example/"})
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("retain_session="))
    assert {"HttpOnly", "Secure", "SameSite=strict"} <= {part.strip() for part in cookie.split(";")}
    assert response.headers["location"] == "/console/"  # no open redirect to another site


def test_logout_ends_the_session(world):
    client, csrf = log_in(world, "viewer")
    assert client.post("/console/logout", data={"csrf_token": csrf}).status_code == 303
    client.cookies.clear()
    assert client.get("/api/me").status_code == 401


def test_api_tokens_work_without_csrf_and_stop_when_revoked(world):
    admin, csrf = log_in(world, "admin")
    issued = admin.post("/api/tokens", json={"username": "approver", "name": "ci"}, headers={"X-CSRF-Token": csrf}).json()
    machine = TestClient(world.app, base_url="https://testserver")
    auth = {"Authorization": f"Bearer {issued['token']}"}
    assert machine.get("/api/me", headers=auth).json()["role"] == "approver"
    assert machine.put("/api/rules/checkout-idle-nudge", json={"yaml": "id: x"}, headers=auth).status_code == 403
    assert admin.delete(f"/api/tokens/{issued['token_id']}", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert machine.get("/api/me", headers=auth).status_code == 401
    assert machine.get("/api/me", headers={"Authorization": "Bearer rtn_guessed"}).status_code == 401


def test_console_routes_are_in_the_openapi_schema_under_api(world):
    paths = TestClient(world.app).get("/openapi.json").json()["paths"]
    api_routes = {(m, p) for (m, p) in ROUTES if p.startswith("/api/")}
    assert all(method.lower() in paths.get(path, {}) for method, path in api_routes)
    assert not any(path.startswith("/console") for path in paths)  # pages are not API
