"""The policy steps one by one: consent, holdout, episode and cooldown, caps, conflicts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from triggers.policy import ContactHistory, InMemoryConsent, PolicyConfig, ReasonCode, holdout_position, in_holdout
from triggers.policy.config import FrequencyCap
from triggers.policy.conflicts import resolve_conflicts
from triggers.policy.consent import channel_verdict, choose_channel
from triggers.policy.cooldown import cooldown_verdict, episode_verdict
from triggers.policy.frequency_caps import cap_verdict

NOON_ISH = dt.datetime(2026, 1, 12, 15, 0, tzinfo=dt.timezone.utc)  # same moment as conftest's
IN, OUT = "opted_in", "opted_out"


@pytest.mark.parametrize(
    ("channel", "topic", "entries", "email_opt_in", "expected"),
    [
        ("email", "service", {}, False, None),  # service needs no opt-in
        ("sms", "service", {}, False, None),
        ("sms", "service", {"service": OUT}, False, ReasonCode.OPTED_OUT),  # ...but honours opt-out
        ("sms", "service", {"*": OUT}, False, ReasonCode.OPTED_OUT),  # channel-wide opt-out covers topics
        ("sms", "marketing", {}, False, ReasonCode.NO_OPT_IN),  # marketing SMS needs prior opt-in
        ("sms", "marketing", {"marketing": IN}, False, None),
        ("sms", "marketing", {"*": IN}, False, None),  # channel-wide opt-in is enough
        ("sms", "marketing", {"marketing": IN, "*": OUT}, False, ReasonCode.OPTED_OUT),  # opt-out wins
        ("email", "marketing", {}, False, None),  # marketing e-mail: opt-out based by default
        ("email", "marketing", {}, True, ReasonCode.NO_OPT_IN),  # ...or opt-in when configured
        ("email", "marketing", {"marketing": IN}, True, None),
        ("email", "marketing", {"marketing": OUT}, False, ReasonCode.OPTED_OUT),
    ],
)
def test_consent_per_channel_and_topic(make_customer, channel, topic, entries, email_opt_in, expected):
    consent = InMemoryConsent({("c1", channel, t): s for t, s in entries.items()})
    config = PolicyConfig(marketing_email_requires_opt_in=email_opt_in)
    assert channel_verdict("c1", make_customer(), channel, topic, consent, config) == expected


@pytest.mark.parametrize(
    ("overrides", "channel"),
    [
        ({"email": None}, "email"),
        ({"phone": None}, "sms"),
        ({"phone": "+1212"}, "sms"),  # unparseable or invalid numbers are no contact point
        ({"phone": "not a number"}, "sms"),
    ],
)
def test_missing_contact_point_is_not_allowed(make_customer, overrides, channel):
    verdict = channel_verdict("c1", make_customer(**overrides), channel, "service", InMemoryConsent(), PolicyConfig())
    assert verdict == ReasonCode.NO_CONTACT_POINT


def test_has_email_flag_counts_as_a_contact_point(make_customer):
    customer = make_customer(email=None, has_email=True)
    assert channel_verdict("c1", customer, "email", "service", InMemoryConsent(), PolicyConfig()) is None


@pytest.mark.parametrize(
    ("channels", "entries", "overrides", "expected"),
    [
        (["sms", "email"], {("c1", "sms", "marketing"): IN}, {}, ("sms", None)),
        (["sms", "email"], {}, {}, ("email", None)),  # sms lacks opt-in: next channel
        (["sms", "email"], {("c1", "email", "*"): OUT}, {}, (None, ReasonCode.NO_OPT_IN)),
        (["email"], {}, {"email": None}, (None, ReasonCode.NO_CONTACT_POINT)),
    ],
)
def test_choose_channel_takes_the_first_allowed_in_preference_order(
    make_rule, make_customer, channels, entries, overrides, expected
):
    rule = make_rule(action={"channels": channels, "brief": "x"})
    customer = make_customer(**overrides)
    channel, reason, detail = choose_channel(rule, "c1", customer, InMemoryConsent(entries), PolicyConfig())
    assert (channel, reason) == expected
    if channel is None:
        assert all(f"{c}:" in detail for c in channels)  # the record says why for every channel


def test_holdout_position_is_stable_across_processes():
    ids = [f"customer-{i}" for i in range(20)]
    here = [holdout_position(c, "winback") for c in ids]
    code = (
        "from triggers.policy import holdout_position;"
        f"print(repr([holdout_position(c, 'winback') for c in {ids!r}]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different str hash() salt than ours
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert eval(out.stdout) == here  # noqa: S307 - our own repr of a list of floats
    assert all(0.0 <= p < 1.0 for p in here)


@pytest.mark.parametrize("pct", [5.0, 10.0, 50.0])
def test_holdout_share_is_within_half_a_point_on_100k_customers(make_rule, pct):
    rule = make_rule(holdout_pct=pct)
    held = sum(in_holdout(f"cust-{i:06d}", rule) for i in range(100_000))
    assert abs(held / 100_000 * 100 - pct) <= 0.5


def test_holdout_slices_are_independent_between_rules(make_rule):
    a, b = make_rule(id="a", holdout_pct=10), make_rule(id="b", holdout_pct=10)
    both = sum(in_holdout(f"c{i}", a) and in_holdout(f"c{i}", b) for i in range(20_000))
    assert abs(both / 20_000 - 0.01) < 0.005  # 10 % of 10 %, not 10 %


@pytest.mark.parametrize(("pct", "expected"), [(0, False), (100, True)])
def test_holdout_extremes(make_rule, pct, expected):
    assert in_holdout("anyone", make_rule(holdout_pct=pct)) is expected


@pytest.mark.parametrize(
    ("hours_ago", "rule_id", "episode_key", "expected"),
    [
        (1, "winback", "usage_drop:c1:2026-01-05", ReasonCode.ALREADY_SENT_FOR_EPISODE),
        (500, "winback", "usage_drop:c1:2026-01-05", ReasonCode.ALREADY_SENT_FOR_EPISODE),  # long after: still once
        (1, "winback", "older-episode", None),  # other episode
        (1, "other", "usage_drop:c1:2026-01-05", None),  # other rule
    ],
)
def test_one_message_per_rule_and_episode(make_rule, make_send, hours_ago, rule_id, episode_key, expected):
    send = make_send(hours_ago, rule_id=rule_id, episode_key=episode_key)
    rule = make_rule(id="winback")
    assert episode_verdict(rule, "usage_drop:c1:2026-01-05", ContactHistory((send,))) == expected


@pytest.mark.parametrize(
    ("hours_ago", "rule_id", "expected"),
    [
        (24 * 7, "winback", None),  # exactly one cooldown ago: out of the window (half-open)
        (24 * 7 - 0.001, "winback", ReasonCode.COOLDOWN),  # a moment later: still cooling down
        (1, "other", None),  # another rule's send does not cool this one
        (-5, "winback", ReasonCode.COOLDOWN),  # a scheduled (future) send counts
    ],
)
def test_cooldown_window_boundaries(make_rule, make_send, hours_ago, rule_id, expected):
    history = ContactHistory((make_send(hours_ago, rule_id=rule_id),))
    assert cooldown_verdict(make_rule(id="winback", cooldown="7d"), history, NOON_ISH) == expected


def test_zero_cooldown_never_blocks(make_rule, make_send):
    history = ContactHistory((make_send(0, rule_id="winback"),))
    assert cooldown_verdict(make_rule(id="winback", cooldown="0s"), history, NOON_ISH) is None


DEFAULT_CAPS = PolicyConfig()  # 1 SMS / 24 h, 3 messages / 7 days


@pytest.mark.parametrize(
    ("sends", "channel", "expected"),
    [
        ([], "sms", None),
        ([(24, {"channel": "sms"})], "sms", None),  # exactly 24 h ago: outside the window
        ([(23.999, {"channel": "sms"})], "sms", ReasonCode.FREQUENCY_CAP),  # just inside
        ([(1, {"channel": "sms"})], "email", None),  # the SMS cap does not limit e-mail
        ([(h, {}) for h in (1, 48, 24 * 7 - 0.01)], "email", ReasonCode.FREQUENCY_CAP),  # 3 in 7 d
        ([(h, {}) for h in (1, 48, 24 * 7)], "email", None),  # third send exactly 7 d ago: out
        ([(h, {}) for h in (1, 48)], "email", None),  # two is under three
        ([(-2, {"channel": "sms"})], "sms", ReasonCode.FREQUENCY_CAP),  # a scheduled send counts
        ([(1, {"channel": "sms", "topic": "service"})], "sms", ReasonCode.FREQUENCY_CAP),  # service sends count
    ],
)
def test_frequency_caps_over_rolling_windows(make_rule, make_send, sends, channel, expected):
    history = ContactHistory(tuple(make_send(h, **o) for h, o in sends))
    reason, _ = cap_verdict(make_rule(), channel, history, NOON_ISH, DEFAULT_CAPS, set())
    assert reason == expected


def test_service_rules_may_bypass_caps(make_rule, make_send):
    history = ContactHistory(tuple(make_send(h, channel="sms") for h in (1, 2, 3)))
    service = make_rule(topic="service", bypass_caps=True)
    capped = make_rule(topic="service")
    assert cap_verdict(service, "sms", history, NOON_ISH, DEFAULT_CAPS, {"US-FL"}) == (None, "")
    assert cap_verdict(capped, "sms", history, NOON_ISH, DEFAULT_CAPS, set())[0] == ReasonCode.FREQUENCY_CAP


def test_caps_are_configurable(make_rule, make_send):
    config = PolicyConfig(caps=(FrequencyCap(channel="email", max_messages=2, window="1h"),))
    history = ContactHistory(tuple(make_send(m / 60) for m in (10, 20)))
    assert cap_verdict(make_rule(), "email", history, NOON_ISH, config, set())[0] == ReasonCode.FREQUENCY_CAP
    assert cap_verdict(make_rule(), "sms", history, NOON_ISH, config, set()) == (None, "")


@pytest.mark.parametrize(
    ("same_rule_sends", "regions", "expected"),
    [
        (3, {"US-FL"}, ReasonCode.REGIONAL_CAP),  # Florida: at most 3 on the same subject per 24 h
        (3, {"US-OK"}, ReasonCode.REGIONAL_CAP),
        (2, {"US-FL"}, None),
        (3, {"US-NY"}, None),  # no such limit elsewhere
    ],
)
def test_regional_same_subject_cap(make_rule, make_send, same_rule_sends, regions, expected):
    config = PolicyConfig(caps=())  # no general caps, so only the regional one can bite
    history = ContactHistory(
        tuple(make_send(h, channel="sms", rule_id="winback") for h in range(1, same_rule_sends + 1))
    )
    rule = make_rule(id="winback")
    assert cap_verdict(rule, "sms", history, NOON_ISH, config, regions)[0] == expected


@pytest.mark.parametrize(
    ("rules", "winner", "superseded"),
    [
        ([("a", 10), ("b", 20)], "b", ["a"]),  # highest priority wins
        ([("b", 10), ("a", 10)], "a", ["b"]),  # tie: lowest rule id
        ([("c", 5), ("a", 5), ("b", 50)], "b", ["a", "c"]),
        ([("only", 0)], "only", []),
        ([], None, []),
    ],
)
def test_conflict_resolution(make_rule, rules, winner, superseded):
    top, others = resolve_conflicts(make_rule(id=i, priority=p) for i, p in rules)
    assert (top.id if top else None) == winner
    assert [r.id for r in others] == superseded


def test_contact_history_from_plain_mappings():
    history = ContactHistory.of([
        {"sent_at": "2026-01-12T10:00:00+00:00", "channel": "sms", "rule_id": "r", "topic": "service", "episode_key": "e"},
    ])
    assert history.sends[0].sent_at == dt.datetime(2026, 1, 12, 10, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="timezone"):
        ContactHistory.of([{**history.sends[0].__dict__, "sent_at": "2026-01-12T10:00:00"}])
