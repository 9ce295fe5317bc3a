"""``decide``: the whole pipeline, one table row per reason code, plus determinism and records."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from triggers.decision import Decision, DecisionSnapshot, decide, decision_id_for, idempotency_key_for
from triggers.policy import ContactHistory, InMemoryConsent, Outcome, PolicyConfig, ReasonCode
from triggers.policy.config import DailyWindow
from triggers.ruleset import RuleSet

UTC = dt.timezone.utc
NOON_ISH = dt.datetime(2026, 1, 12, 15, 0, tzinfo=UTC)  # 10:00 in New York
NIGHT = dt.datetime(2026, 1, 12, 8, 0, tzinfo=UTC)  # 03:00 in New York
EPISODE = "usage_drop:c1:2026-01-05"
RISK = {"probability": 0.7, "bucket": "high", "drivers": [("days_since_last_order", 0.31)]}

SMS_ONLY = {"action": {"channels": ["sms"], "brief": "Check in."}}
EMAIL_ONLY = {"action": {"channels": ["email"], "brief": "Check in."}}
SMS_OPT_IN = {("c1", "sms", "marketing"): "opted_in"}


def _scenario(**kw: Any) -> dict[str, Any]:
    base = {
        "rules": [{}], "signal": {}, "customer": {}, "sends": [], "consent": {}, "now": NOON_ISH, "config": {},
    }
    base.update(kw)
    return base


# Each row: a scenario and the (rule_id, outcome, reason, channel) of the first decision.
TABLE = [
    (_scenario(), ("winback", Outcome.ENGAGE, ReasonCode.ELIGIBLE, "email")),
    (  # conditions false: "do nothing" is still recorded
        _scenario(rules=[{"when": {"field": "signal.drop_pct", "op": ">=", "value": 90}}]),
        (None, Outcome.SUPPRESSED, ReasonCode.NO_RULE_MATCHED, None),
    ),
    (_scenario(rules=[{"enabled": False}]), (None, Outcome.SUPPRESSED, ReasonCode.NO_RULE_MATCHED, None)),
    (_scenario(rules=[{"signals": ["checkout_idle"]}]), (None, Outcome.SUPPRESSED, ReasonCode.NO_RULE_MATCHED, None)),
    (  # relevance is 3 days: at exactly detected_at + 3d the moment has passed
        _scenario(now=NOON_ISH + dt.timedelta(days=3)),
        ("winback", Outcome.EXPIRED, ReasonCode.RELEVANCE_PASSED, None),
    ),
    (  # sent for this episode long ago (beyond the 7 d cooldown): still only once per episode
        _scenario(sends=[(200, {"rule_id": "winback", "episode_key": EPISODE})]),
        ("winback", Outcome.SUPPRESSED, ReasonCode.ALREADY_SENT_FOR_EPISODE, None),
    ),
    (
        _scenario(sends=[(24, {"rule_id": "winback", "episode_key": "usage_drop:c1:2025-12-01"})]),
        ("winback", Outcome.SUPPRESSED, ReasonCode.COOLDOWN, None),
    ),
    (
        _scenario(customer={"email": None, "phone": None}),
        ("winback", Outcome.SUPPRESSED, ReasonCode.NO_CONTACT_POINT, None),
    ),
    (
        _scenario(rules=[EMAIL_ONLY], consent={("c1", "email", "marketing"): "opted_out"}),
        ("winback", Outcome.SUPPRESSED, ReasonCode.OPTED_OUT, None),
    ),
    (_scenario(rules=[SMS_ONLY]), ("winback", Outcome.SUPPRESSED, ReasonCode.NO_OPT_IN, None)),
    (
        _scenario(rules=[EMAIL_ONLY], sends=[(1, {}), (30, {}), (100, {})]),
        ("winback", Outcome.SUPPRESSED, ReasonCode.FREQUENCY_CAP, "email"),
    ),
    (  # Florida number: 3 SMS on this subject in 24 h (general caps and cooldown off to isolate it)
        _scenario(
            rules=[{**SMS_ONLY, "cooldown": "0s"}], customer={"phone": "+14075550143"}, consent=SMS_OPT_IN,
            sends=[(h, {"rule_id": "winback", "channel": "sms", "episode_key": f"e{h}"}) for h in (1, 2, 3)],
            config={"caps": ()},
        ),
        ("winback", Outcome.SUPPRESSED, ReasonCode.REGIONAL_CAP, "sms"),
    ),
    (  # two rules at once: the higher priority speaks, the other is recorded as superseded
        _scenario(rules=[{"id": "winback", "priority": 20}, {"id": "another", "priority": 10}]),
        ("winback", Outcome.ENGAGE, ReasonCode.ELIGIBLE, "email"),
    ),
    (_scenario(rules=[{"holdout_pct": 100}]), ("winback", Outcome.HOLDOUT, ReasonCode.HOLDOUT, "email")),
    (
        _scenario(rules=[SMS_ONLY], consent=SMS_OPT_IN, now=NIGHT, signal={"detected_at": NIGHT}),
        ("winback", Outcome.DEFER, ReasonCode.QUIET_HOURS, "sms"),
    ),
    (  # relevant for 2 h after 03:00, but SMS may only go at 08:00: expired, not sent late
        _scenario(rules=[{**SMS_ONLY, "relevance": "2h"}], consent=SMS_OPT_IN, now=NIGHT, signal={"detected_at": NIGHT}),
        ("winback", Outcome.EXPIRED, ReasonCode.EXPIRED_IN_QUIET_HOURS, "sms"),
    ),
    (  # a one-hour window in New York and in Tokyo never overlaps
        _scenario(
            rules=[SMS_ONLY], consent=SMS_OPT_IN, customer={"time_zone": "Asia/Tokyo"},
            config={"sms_window": DailyWindow(start=dt.time(8), end=dt.time(9))},
        ),
        ("winback", Outcome.SUPPRESSED, ReasonCode.NO_SEND_WINDOW, "sms"),
    ),
]


def _run(scenario: dict[str, Any], make_rule, make_signal, make_customer, make_send) -> list[Decision]:
    rules = [make_rule(**overrides) for overrides in scenario["rules"]]
    signal = make_signal(**scenario["signal"])
    history = ContactHistory(tuple(make_send(h, now=scenario["now"], **o) for h, o in scenario["sends"]))
    return decide(
        signal, rules, make_customer(**scenario["customer"]), RISK, history,
        InMemoryConsent(scenario["consent"]), scenario["now"], PolicyConfig(**scenario["config"]),
    )


@pytest.mark.parametrize(("scenario", "expected"), TABLE)
def test_decide_table(make_rule, make_signal, make_customer, make_send, scenario, expected):
    first = _run(scenario, make_rule, make_signal, make_customer, make_send)[0]
    assert (first.rule_id, first.outcome, first.reason, first.channel) == expected


def test_the_table_covers_every_reason_code():
    covered = {expected[2] for _, expected in TABLE} | {ReasonCode.SUPERSEDED}  # second decision, below
    assert covered == set(ReasonCode)


def test_engage_and_defer_carry_the_snapshot_drafting_reads(make_rule, make_signal, make_customer):
    rules = [make_rule(id="high", priority=9), make_rule(id="low", priority=1)]
    customer = make_customer(first_name="Ada", locale="en-US", phone="+12125550143")
    engaged, superseded = decide(make_signal(), rules, customer, RISK, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert engaged.snapshot == DecisionSnapshot(signal_reason="drop", signal_attributes={"drop_pct": 60.0},
                                                first_name="Ada", locale="en-US", time_zone="America/New_York")
    assert superseded.snapshot is None  # no message, nothing to carry
    assert "+12125550143" not in repr(engaged.snapshot)  # contact details stay out
    assert Decision.from_dict(engaged.to_dict()) == engaged  # through the decisions topic and the outbox row


def test_superseded_rules_are_recorded_with_the_winner(make_rule, make_signal, make_customer):
    rules = [make_rule(id="low", priority=1), make_rule(id="high", priority=9), make_rule(id="mid", priority=5)]
    decisions = decide(make_signal(), rules, make_customer(), RISK, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert [(d.rule_id, d.outcome, d.detail) for d in decisions] == [
        ("high", Outcome.ENGAGE, ""),
        ("mid", Outcome.SUPERSEDED, "by high"),
        ("low", Outcome.SUPERSEDED, "by high"),
    ]


def test_a_stopped_higher_rule_does_not_silence_a_lower_one(make_rule, make_signal, make_customer):
    # The marketing rule lacks SMS opt-in; the service notice still goes out.
    rules = [
        make_rule(id="offer", priority=9, action={"channels": ["sms"], "brief": "x"}),
        make_rule(id="notice", priority=1, topic="service"),
    ]
    decisions = decide(make_signal(), rules, make_customer(), RISK, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert [(d.rule_id, d.outcome, d.reason) for d in decisions] == [
        ("offer", Outcome.SUPPRESSED, ReasonCode.NO_OPT_IN),
        ("notice", Outcome.ENGAGE, ReasonCode.ELIGIBLE),
    ]


def test_a_winner_in_holdout_keeps_the_others_quiet(make_rule, make_signal, make_customer):
    rules = [make_rule(id="top", priority=9, holdout_pct=100), make_rule(id="next", priority=1)]
    decisions = decide(make_signal(), rules, make_customer(), RISK, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert [(d.rule_id, d.outcome) for d in decisions] == [("top", Outcome.HOLDOUT), ("next", Outcome.SUPERSEDED)]


def test_deferral_carries_the_next_allowed_moment_and_the_expiry(make_rule, make_signal, make_customer):
    rule = make_rule(action={"channels": ["sms"], "brief": "x"}, relevance="1d")
    consent = InMemoryConsent({("c1", "sms", "marketing"): "opted_in"})
    signal = make_signal(detected_at=NIGHT)
    (decision,) = decide(signal, [rule], make_customer(), RISK, ContactHistory(), consent, NIGHT)
    assert decision.outcome == Outcome.DEFER
    assert decision.defer_until == dt.datetime(2026, 1, 12, 13, 0, tzinfo=UTC)  # 08:00 New York
    assert decision.expires_at == NIGHT + dt.timedelta(days=1)


def test_deciding_twice_gives_identical_decisions(make_rule, make_signal, make_customer):
    rules = RuleSet.of([make_rule(id="a", priority=20), make_rule(id="b", holdout_pct=50)])
    args = (make_signal(), rules, make_customer(), RISK, ContactHistory(), InMemoryConsent(), NOON_ISH)
    first, second = decide(*args), decide(*args)
    assert first == second
    assert [d.to_dict() for d in first] == [d.to_dict() for d in second]
    assert first[0].decision_id == decision_id_for(make_signal().signal_id, "a")
    assert first[0].ruleset_fingerprint == rules.fingerprint


def test_ids_and_keys_are_deterministic_and_distinct(make_signal):
    signal = make_signal()
    assert decision_id_for(signal.signal_id, "a") != decision_id_for(signal.signal_id, "b")
    assert decision_id_for(signal.signal_id, None) != decision_id_for(signal.signal_id, "a")
    assert idempotency_key_for("c1", "a", EPISODE) == idempotency_key_for("c1", "a", EPISODE)
    assert idempotency_key_for("c1", "a", EPISODE) != idempotency_key_for("c1", "a", EPISODE + "x")
    # Joining with a separator keeps ("c1", "a:b") and ("c1:a", "b") apart.
    assert idempotency_key_for("c1", "a:b", "e") != idempotency_key_for("c1:a", "b", "e")


def test_decision_records_risk_and_round_trips(make_rule, make_signal, make_customer):
    (decision,) = decide(
        make_signal(), [make_rule()], make_customer(), RISK, ContactHistory(), InMemoryConsent(), NOON_ISH,
    )
    assert (decision.risk, decision.risk_bucket) == (0.7, "high")
    assert decision.drivers == (("days_since_last_order", 0.31),)
    assert decision.idempotency_key == idempotency_key_for("c1", "winback", EPISODE)
    assert Decision.from_dict(decision.to_dict()) == decision


def test_risk_may_be_a_scorer_score_object(make_rule, make_signal, make_customer):
    score = SimpleNamespace(probability=0.2, bucket="low", drivers=[("usage_trend", -0.1)])
    rule = make_rule(when={"field": "risk.bucket", "op": "==", "value": "low"})
    (decision,) = decide(make_signal(), [rule], make_customer(), score, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert (decision.outcome, decision.risk_bucket, decision.drivers) == (Outcome.ENGAGE, "low", (("usage_trend", -0.1),))


def test_naive_now_is_refused(make_rule, make_signal, make_customer):
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(make_signal(), [make_rule()], make_customer(), None, ContactHistory(), InMemoryConsent(),
               NOON_ISH.replace(tzinfo=None))
