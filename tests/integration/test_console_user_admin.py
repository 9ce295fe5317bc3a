"""Managing console accounts: disabling a user ends their sessions and API tokens (API, pages, CLI); one
validation of user names for the form, the API and the CLI."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from retain.console.cli import users_app
from tests.fakes.console_world import PASSWORD, build_world, client_for, login_form_token

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


def bearer(world, secret: str) -> int:
    return TestClient(world.app).get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def log_in(world, username: str) -> TestClient:
    return client_for(world, username, follow_redirects=False)


def login_status(world, username: str) -> int:
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    return client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                "csrf_token": login_form_token(client)}).status_code


def test_disabling_a_user_ends_their_sessions_and_tokens_at_once(world):
    admin, editor = log_in(world, "admin"), log_in(world, "editor")
    secret = admin.post("/api/tokens", json={"username": "editor", "name": "ci"}).json()["token"]
    assert bearer(world, secret) == 200

    answer = admin.post("/api/users/editor/disable")
    assert answer.status_code == 200 and answer.json() == {"username": "editor", "disabled": True, "sessions_ended": 1,
                                                           "tokens_revoked": 1}
    assert editor.get("/api/me").status_code == 401
    assert bearer(world, secret) == 401
    assert login_status(world, "editor") == 401
    assert {u["username"]: u["disabled"] for u in admin.get("/api/users").json()}["editor"] is True

    assert admin.post("/api/users/editor/enable").status_code == 200
    assert login_status(world, "editor") == 303
    assert bearer(world, secret) == 401  # a revoked token stays revoked
    audit = [(a["action"], a["target"], a["detail"]) for a in admin.get("/api/audit").json()]
    assert ("user.disable", "user:editor", {"sessions_ended": 1, "tokens_revoked": 1}) in audit
    assert ("user.enable", "user:editor", {}) in audit


def test_signing_a_user_out_everywhere_keeps_the_account(world):
    admin, viewer = log_in(world, "admin"), log_in(world, "viewer")
    assert admin.post("/api/users/viewer/sign-out").json()["sessions_ended"] == 1
    assert viewer.get("/api/me").status_code == 401
    assert login_status(world, "viewer") == 303


def test_admins_cannot_disable_themselves_or_nobody(world):
    admin = log_in(world, "admin")
    assert admin.post("/api/users/admin/disable").status_code == 409
    assert admin.post("/api/users/nobody/disable").status_code == 404
    assert log_in(world, "viewer").post("/api/users/editor/disable").status_code == 403


def test_the_users_page_disables_and_enables(world):
    admin, approver = log_in(world, "admin"), log_in(world, "approver")
    csrf = admin.headers["X-CSRF-Token"]
    answer = admin.post("/console/users/approver/disable", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert approver.get("/api/me").status_code == 401
    page = admin.get("/console/users").text
    assert re.search(r"approver</td><td>approver</td><td>disabled", page)
    assert admin.post("/console/users/approver/enable", data={"csrf_token": csrf}).status_code == 303
    assert login_status(world, "approver") == 303


def test_the_cli_disables_a_user_and_ends_their_sessions(world, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", world.settings.effective_database_url)
    editor = log_in(world, "editor")
    result = CliRunner().invoke(users_app, ["disable", "editor"])
    assert result.exit_code == 0, result.output
    assert "disabled editor: 1 session(s) ended, 0 token(s) revoked" in result.output
    assert editor.get("/api/me").status_code == 401
    assert "editor\teditor\tdisabled" in CliRunner().invoke(users_app, ["list"]).output
    missing = CliRunner().invoke(users_app, ["disable", "nobody"])
    assert missing.exit_code == 2 and "no user 'nobody'" in missing.output
    assert CliRunner().invoke(users_app, ["enable", "editor"]).exit_code == 0
    assert login_status(world, "editor") == 303


BAD_NAMES = ["with space", "x" * 65, "", "évil", "a/b", "<script>"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_form_the_api_and_the_cli_refuse_the_same_names(world, monkeypatch, name):
    admin = log_in(world, "admin")
    api = admin.post("/api/users", json={"username": name, "role": "viewer", "password": "a long password"})
    assert api.status_code == 422 and "user name" in api.text
    form = admin.post("/console/users", data={"username": name or " ", "role": "viewer",
                                              "password": "a long password", "csrf_token": admin.headers["X-CSRF-Token"]})
    assert form.status_code in (400, 422) and "user name" in form.text
    monkeypatch.setenv("DATABASE_URL", world.settings.effective_database_url)
    cli = CliRunner().invoke(users_app, ["create", name, "--role", "viewer"],
                             env={"RETAIN_USER_PASSWORD": "a long password"})
    assert cli.exit_code == 2 and "user name" in cli.output
    names = [u["username"] for u in admin.get("/api/users").json()]
    assert names == ["admin", "approver", "editor", "viewer"]
