"""Releasing a deferred decision (pure), and contact history derived from stored decisions."""

from __future__ import annotations

import datetime as dt

import pytest

from triggers.decision import decide
from triggers.decision_history import history_from_decisions
from triggers.deferred import release, release_id_for
from triggers.policy import InMemoryConsent, PolicyConfig
from triggers.policy.reasons import Outcome

UTC = dt.timezone.utc
NIGHT = dt.datetime(2026, 1, 12, 8, 0, tzinfo=UTC)  # 03:00 in New York
MORNING = dt.datetime(2026, 1, 12, 13, 0, tzinfo=UTC)  # 08:00 in New York


@pytest.fixture
def sms_rule(make_rule):
    return make_rule(id="nudge", topic="service", relevance="12h", cooldown="1h", action={"channels": ["sms"], "brief": "Hi."})


@pytest.fixture
def defer(sms_rule, make_signal, make_customer):
    signal = make_signal(detected_at=NIGHT)
    (decision,) = decide(signal, [sms_rule], make_customer(), None, history_from_decisions([]), InMemoryConsent(), NIGHT)
    assert decision.outcome == Outcome.DEFER and decision.defer_until == MORNING
    return decision


@pytest.mark.parametrize(
    ("at", "consent", "past_sms_hours_before", "expected"),
    [
        (MORNING, {}, None, ("engage", "eligible")),  # the morning came, nothing changed
        (NIGHT + dt.timedelta(hours=12), {}, None, ("expired", "relevance_passed")),  # exactly at expiry
        (MORNING, {("c1", "sms", "*"): "opted_out"}, None, ("suppressed", "opted_out")),  # STOP while waiting
        (MORNING, {}, 2, ("suppressed", "frequency_cap")),  # another SMS went out in the meantime
        (MORNING, {}, 24, ("engage", "eligible")),  # a send exactly 24 h ago has left the window
    ],
)
def test_release(defer, sms_rule, make_customer, make_send, at, consent, past_sms_hours_before, expected):
    history = history_from_decisions([])
    if past_sms_hours_before is not None:
        from triggers.policy import ContactHistory

        history = ContactHistory((make_send(past_sms_hours_before, now=at, channel="sms"),))
    # A service rule without bypass_caps still counts the SMS cap.
    released = release(defer, sms_rule, make_customer(), history, InMemoryConsent(consent), at, PolicyConfig())
    assert (released.outcome.value, released.reason.value) == expected
    assert released.decision_id == release_id_for(defer.decision_id) != defer.decision_id
    assert released.deferred_from == defer.decision_id
    assert released.idempotency_key == defer.idempotency_key  # still one message per episode
    assert released.snapshot == defer.snapshot is not None  # what the message says is what was decided on


def test_release_refuses_what_is_not_a_defer(defer, sms_rule, make_customer):
    engaged = defer.model_copy(update={"outcome": Outcome.ENGAGE})
    with pytest.raises(ValueError, match="not a defer"):
        release(engaged, sms_rule, make_customer(), history_from_decisions([]), InMemoryConsent(), MORNING, PolicyConfig())


def test_history_counts_a_defer_until_its_release(defer, sms_rule, make_customer):
    pending = history_from_decisions([defer])
    assert [(s.sent_at, s.channel) for s in pending.sends] == [(MORNING, "sms")]  # planned time
    assert history_from_decisions([defer], exclude=[defer.decision_id]).sends == ()

    for at, count in ((MORNING, 1), (NIGHT + dt.timedelta(hours=13), 0)):
        # The job checks caps against history without the defer itself (it would cap itself).
        without_itself = history_from_decisions([defer], exclude=[defer.decision_id])
        released = release(defer, sms_rule, make_customer(), without_itself, InMemoryConsent(), at, PolicyConfig())
        after = history_from_decisions([defer, released])
        # engaged: one send at release time; expired: the defer no longer counts at all
        assert [s.sent_at for s in after.sends] == [at] * count


def test_history_ignores_outcomes_that_send_nothing(defer):
    for outcome in (Outcome.HOLDOUT, Outcome.SUPPRESSED, Outcome.SUPERSEDED, Outcome.EXPIRED):
        assert history_from_decisions([defer.model_copy(update={"outcome": outcome})]).sends == ()
