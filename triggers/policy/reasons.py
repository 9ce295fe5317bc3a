"""Reason codes and outcomes of the contact policy (documented, in pipeline order, in ``triggers.policy``)."""

from __future__ import annotations

from enum import Enum


class ReasonCode(str, Enum):
    """Why a decision came out the way it did; stored with every decision."""

    NO_RULE_MATCHED = "no_rule_matched"
    RELEVANCE_PASSED = "relevance_passed"
    CONVERSATION_ESCALATED = "conversation_escalated"
    ALREADY_SENT_FOR_EPISODE = "already_sent_for_episode"
    COOLDOWN = "cooldown"
    NO_CONTACT_POINT = "no_contact_point"
    OPTED_OUT = "opted_out"
    NO_OPT_IN = "no_opt_in"
    FREQUENCY_CAP = "frequency_cap"
    REGIONAL_CAP = "regional_cap"
    SUPERSEDED = "superseded"
    HOLDOUT = "holdout"
    QUIET_HOURS = "quiet_hours"
    EXPIRED_IN_QUIET_HOURS = "expired_in_quiet_hours"
    NO_SEND_WINDOW = "no_send_window"
    ELIGIBLE = "eligible"


class Outcome(str, Enum):
    """What happens with one (signal, rule) pair."""

    ENGAGE = "engage"
    DEFER = "defer"
    HOLDOUT = "holdout"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
