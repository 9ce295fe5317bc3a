"""schemathesis against the OpenAPI of ingest and the console JSON API: no 5xx, and every 4xx names what is wrong.

Bounded for CI: a few dozen generated requests per operation (valid and invalid bodies, odd
parameters), on a seeded console world with a SQLite database and the in-memory publisher.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from infra.settings import Settings
from retain.api import create_app
from retain.console.mount import install_console
from retain.console.users import create_token
from retain.producers.service import create_credential
from signals.publisher import InMemoryEventPublisher
from tests.fakes.console_world import build_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 25
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> dict[str, Any]:
    world = build_world(tmp_path_factory.mktemp("fuzz"))
    with Session(world.engine) as session:
        console_token, _ = create_token(session=session, username="admin", name="fuzz", now=NOW)
        ingest_secret, _ = create_credential(session=session, name="fuzz", scopes=["events", "profile"],
                                             actor="test", now=NOW)
        session.commit()
    return {"app": world.app, "console": f"Bearer {console_token}", "ingest": f"Bearer {ingest_secret}"}


def _names_where(problem: Any) -> bool:
    # FastAPI and ingest say {"loc", "msg"}; rule validation says {"line", "field", "message"}.
    return isinstance(problem, dict) and ("loc" in problem or "field" in problem) and bool(
        problem.get("msg") or problem.get("message"))


def names_what_is_wrong(ctx, response, case) -> None:
    """A 4xx answers JSON whose ``detail`` is a message, a list of located problems, or an object with a message."""
    if not 400 <= response.status_code < 500:
        return
    detail = response.json().get("detail")
    assert detail, f"{response.status_code} without a detail: {response.text[:200]}"
    if isinstance(detail, list):
        assert all(_names_where(p) for p in detail), response.text[:300]
    elif isinstance(detail, dict):
        assert detail.get("message") or detail.get("msg"), response.text[:300]


names_what_is_wrong = schemathesis.check(names_what_is_wrong)
# The OpenAPI document of the whole service (an app without a database describes the same routes); the
# requests go to the seeded world's app. (schemathesis' fixture-based loader does not run on pytest 9.)
schema = schemathesis.openapi.from_dict(install_console(create_app(Settings(), publisher=InMemoryEventPublisher()))
                                        .openapi()).include(path_regex=r"^/(v1|api)/")
STRICT = [not_a_server_error, names_what_is_wrong]
# The ingest routes document every answer they give, with its body.
DOCUMENTED = [*STRICT, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_4xx_names_what_is_wrong(case, fuzzed):
    ingest = case.path.startswith("/v1/")
    headers = {"Authorization": fuzzed["ingest" if ingest else "console"]}
    case.call_and_validate(app=fuzzed["app"], headers=headers,
                           checks=DOCUMENTED if ingest and case.method == "POST" else STRICT)


def test_the_generated_bodies_were_meaningful(fuzzed):
    # Runs after the fuzzing above (same module fixture): the event schema in the OpenAPI let the
    # fuzzer build events that passed every check and were published, not only refusals.
    assert len(fuzzed["app"].state.publisher.published) > 0
