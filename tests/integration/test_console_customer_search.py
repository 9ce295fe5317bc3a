"""Finding people: search by id prefix, e-mail or phone through the keyed hash, lists by signal, outcome or rule,
the contact index the projection keeps, and the timeline's sent text and replies."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from infra.database import session_scope
from outreach.consent.contact_points import contact_hash
from outreach.consent.erasure import erase_customer
from outreach.consent.service import register_contact_point
from signals.projection import Projection
from signals.records import CustomerContactRecord
from tests.fakes.console_world import build_world, client_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("search"))


@pytest.fixture(scope="module")
def viewer(world):
    return client_for(world, "viewer")


def key(world) -> bytes:
    return world.settings.contact_hash_key.get_secret_value().encode()


@pytest.mark.parametrize(("query", "kind", "found"), [
    ("  ADA2@Example.com ", "email", ["c-2"]),  # normalised like the hash at send time
    ("grace@example.com", "email", ["c-7"]),
    ("nobody@example.com", "email", []),
    ("c-", "id", ["c-1", "c-2", "c-3", "c-4", "c-5", "c-7"]),
    ("c-7", "id", ["c-7"]),
    ("c_", "id", []),  # LIKE wildcards are matched literally
    ("%", "id", []),
])
def test_search_by_id_prefix_or_address(viewer, query, kind, found):
    answer = viewer.post("/api/customers/search", json={"query": query})
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == kind
    assert [c["customer_id"] for c in answer.json()["customers"]] == found


@pytest.mark.parametrize(("query", "says"), [("a@", "not an e-mail address"), ("+1", "international form")])
def test_a_query_that_is_no_address_is_refused_without_echoing_it(viewer, query, says):
    answer = viewer.post("/api/customers/search", json={"query": query})
    assert answer.status_code == 422 and says in answer.text
    assert json.dumps(query) not in answer.text


def test_the_query_is_never_logged_and_the_index_holds_no_address(world, viewer, caplog):
    with caplog.at_level(logging.DEBUG):
        viewer.post("/api/customers/search", json={"query": "grace@example.com"})
        viewer.post("/console/customers/search", data={"q": "grace@example.com",
                                                       "csrf_token": viewer.headers["X-CSRF-Token"]})
    assert not any("grace@" in record.getMessage() for record in caplog.records)
    with Session(world.engine) as session:
        dump = " ".join(" ".join(map(str, row)) for row in session.execute(text("SELECT * FROM customer_contacts")))
    assert "@" not in dump and contact_hash(key(world), "email", "grace@example.com") in dump


def test_a_page_search_with_one_match_opens_the_timeline(viewer):
    answer = viewer.post("/console/customers/search", data={"q": "ada1@example.com",
                                                            "csrf_token": viewer.headers["X-CSRF-Token"]},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/customers/c-1"
    assert "ada1" not in answer.headers["location"]


def test_a_page_search_with_several_matches_lists_them(viewer):
    answer = viewer.post("/console/customers/search", data={"q": "c-", "csrf_token": viewer.headers["X-CSRF-Token"]})
    assert answer.status_code == 200 and "6 customers with ids starting with" in answer.text


@pytest.mark.parametrize(("params", "found"), [
    ({"outcome": "holdout"}, ["c-5"]),
    ({"rule": "shipping-delay-goodwill"}, ["c-7"]),
    ({"signal": "shipping_delay"}, ["c-7"]),
    ({"outcome": "suppressed", "rule": "checkout-idle-nudge"}, ["c-1"]),
    ({"signal": "usage_drop"}, []),
])
def test_lists_by_signal_outcome_or_rule(viewer, params, found):
    answer = viewer.get("/api/customers", params=params)
    assert answer.status_code == 200
    assert sorted(c["customer_id"] for c in answer.json()) == found


def test_the_list_page_says_what_to_do_when_nothing_matches(viewer):
    answer = viewer.get("/console/customers", params={"signal": "usage_drop"})
    assert "No customers match. Widen the filters" in answer.text


def test_the_timeline_shows_the_sent_text_and_the_replies(viewer):
    data = viewer.get("/api/customers/c-3/timeline").json()
    (message,) = data["messages"]
    assert message["text"] == "Hi Ada, your cart is saved."
    assert [(r["kind"], r["label"]) for r in message["replies"]] == [("unsubscribe", "unsubscribed")]
    page = viewer.get("/console/customers/c-3").text
    assert "Hi Ada, your cart is saved." in page and "unsubscribed" in page
    assert '<time datetime="' in page and ' UTC">' in page  # the viewer's time zone, UTC on hover


PROFILE = {"event_id": "p-1", "type": "customer.profile", "customer_id": "c-new", "source": "crm",
           "occurred_at": "2026-11-01T10:00:00+00:00",
           "properties": {"email": "New.Person@Example.com", "phone": "+4915111122233", "first_name": "Nia"}}


def profile(event_id: str, at: str, **properties) -> bytes:
    return json.dumps({**PROFILE, "event_id": event_id, "occurred_at": at,
                       "properties": {**PROFILE["properties"], **properties}}).encode()


def test_the_projection_indexes_each_profile_by_keyed_hash(world, viewer):
    projection = Projection(world.engine, "127.0.0.1:1",  # not started: only its storing is used
                            contact_hasher=lambda channel, address: contact_hash(key(world), channel, address))
    with session_scope(world.engine) as session:
        projection._store_event(session, profile("p-1", "2026-11-01T10:00:00+00:00"))
        # Newer: another e-mail address; older and late: ignored, as the profile ignores it.
        projection._store_event(session, profile("p-2", "2026-11-02T10:00:00+00:00", email="nia@example.org"))
        projection._store_event(session, profile("p-0", "2026-10-01T10:00:00+00:00", email="old@example.org"))
        # A profile update without the phone keeps its hash; a bad phone number is not indexed.
        projection._store_event(session, profile("p-3", "2026-11-03T10:00:00+00:00", phone=None, email=None,
                                                 first_name="Nia B."))
        session.commit()
        rows = {r.channel: r.contact_hash for r in session.scalars(
            select(CustomerContactRecord).where(CustomerContactRecord.customer_id == "c-new"))}
    assert rows == {"email": contact_hash(key(world), "email", "nia@example.org"),
                    "sms": contact_hash(key(world), "sms", "+4915111122233")}
    found = viewer.post("/api/customers/search", json={"query": "+49 151 111 222 33"}).json()["customers"]
    assert [c["customer_id"] for c in found] == ["c-new"]
    assert viewer.post("/api/customers/search", json={"query": "new.person@example.com"}).json()["customers"] == []


def test_a_contact_point_the_sender_registered_is_found_until_erased(world, viewer):
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    with session_scope(world.engine) as session:  # a customer messaged before the index existed
        register_contact_point(session=session, key=key(world), customer_id="c-9", channel="sms",
                               address="+4917612345678", now=now)
        session.commit()
    assert [c["customer_id"] for c in viewer.post("/api/customers/search", json={"query": "+4917612345678"})
            .json()["customers"]] == ["c-9"]
    with session_scope(world.engine) as session:
        erase_customer(session=session, customer_id="c-9", now=now)
        erase_customer(session=session, customer_id="c-4", now=now)
        session.commit()
    for query in ("+4917612345678", "ada4@example.com"):  # neither the outbox's points nor the profile index
        assert viewer.post("/api/customers/search", json={"query": query}).json()["customers"] == []
