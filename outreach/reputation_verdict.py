"""The reputation guard's decision: pause a rule only when the evidence says its messages do harm.

A rule's recent messages and the reactions they drew (spam reports, e-mail unsubscribes, SMS
STOP replies) are counts, and small counts are noisy: one spam report among 24 e-mails is an
observed 4.17 %, yet an honest rule at the typical 0.02 % produces such a week now and then,
and with many rules checked after every reaction it happens somewhere every week. So each rate
is judged by the exact (Clopper-Pearson, i.e. Beta) one-sided lower confidence bound of the
rate: the rule is paused when, with 99 % confidence, the true rate is past the limit, and only
once the channel has sent ``min_sends`` messages in the window. The confidence is high because
the guard looks again after every reaction (a sequential use of a fixed-sample bound): with the
limits below, an honest rule at the top of the typical range is paused in well under 1 % of
3000-message windows, and a rule at several times a limit within about a hundred messages
(tests/unit/outreach/test_reputation_verdict.py measures both).

The limits sit where the harm begins, several times above the typical rates:

- spam complaints 0.3 % of e-mails: Google's and Yahoo's bulk-sender rules (2024) ask senders to
  stay below 0.1 % and never reach 0.3 %; typical campaigns draw 0.01-0.05 %;
- e-mail opt-outs 1 % of e-mails: typical unsubscribe rates are 0.1-0.5 % per delivered e-mail;
- SMS opt-outs 6 % of texts: typical STOP rates are 1-3 % per campaign (retail weekend sends
  reach 4-8 %), and carriers start filtering senders that stay above about 3 %: twice the top of
  the weekday range is a rule that annoys, not a normal campaign.

>>> decide(Counts(email_sends=24, complaints=1), Thresholds()).pause  # the demo's "4.17 % over 24 sends"
False
>>> decide(Counts(email_sends=40, complaints=3), Thresholds()).reason
'spam complaints: 3 of 40 e-mails (7.50 %), at least 1.11 % with 99 % confidence, past the 0.30 % limit'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import beta


@dataclass(frozen=True)
class Counts:
    """A rule's messages sent in the window and the reactions they drew, by channel."""

    email_sends: int = 0
    sms_sends: int = 0
    complaints: int = 0  # spam reports (e-mail)
    email_opt_outs: int = 0  # unsubscribe link, List-Unsubscribe, SendGrid unsubscribes
    sms_opt_outs: int = 0  # STOP replies


@dataclass(frozen=True)
class Thresholds:
    """When a rule is paused: the harmful rate of each reaction, the confidence, the minimum volume."""

    max_complaint_rate: float = 0.003
    max_email_opt_out_rate: float = 0.01
    max_sms_opt_out_rate: float = 0.06
    min_sends: int = 20  # per channel: below it a rate is not judged at all
    confidence: float = 0.99  # high, because the guard looks again after every reaction


def percent(rate: float, digits: int = 2) -> str:
    """A rate as ops read it: ``percent(0.0417)`` is ``'4.17 %'``."""
    return f"{rate * 100:.{digits}f} %"


def lower_bound(reactions: int, sends: int, confidence: float) -> float:
    """The exact one-sided lower confidence bound of a binomial rate (0 without reactions).

    >>> round(lower_bound(1, 24, 0.95), 5)  # 1 - 0.95 ** (1 / 24)
    0.00213
    """
    if sends <= 0 or reactions <= 0:
        return 0.0
    reactions = min(reactions, sends)  # a reaction may answer a message sent before the window
    return float(beta.ppf(1.0 - confidence, reactions, sends - reactions + 1))


@dataclass(frozen=True)
class Evidence:
    """One reaction rate of one rule, judged against its limit."""

    measure: str  # "spam complaints" | "e-mail opt-outs" | "SMS opt-outs"
    unit: str  # what was sent: "e-mails" | "texts"
    reactions: int
    sends: int
    limit: float
    lower: float  # the rate is at least this, with ``confidence``
    confidence: float
    min_sends: int

    @property
    def rate(self) -> float:
        """The observed rate (0 without sends)."""
        return self.reactions / self.sends if self.sends else 0.0

    @property
    def enough_volume(self) -> bool:
        """True when the channel sent enough messages for the rate to be judged."""
        return self.sends >= self.min_sends

    @property
    def over(self) -> bool:
        """True when the evidence says the rate is past the limit."""
        return self.enough_volume and self.lower > self.limit

    def sentence(self) -> str:
        """The evidence in words, as ops read it."""
        observed = f"{self.measure}: {self.reactions} of {self.sends} {self.unit} ({percent(self.rate)})"
        if not self.enough_volume:
            return f"{observed}, not judged below {self.min_sends} {self.unit}"
        verdict = "past" if self.over else "not past"
        return (f"{observed}, at least {percent(self.lower)} with {percent(self.confidence, 0)} confidence, "
                f"{verdict} the {percent(self.limit)} limit")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with a pause, shown on the rule page, posted to ops)."""
        return {**asdict(self), "rate": self.rate, "over": self.over, "sentence": self.sentence()}


@dataclass(frozen=True)
class Verdict:
    """Every measure's evidence; the rule is paused when any is past its limit."""

    evidence: tuple[Evidence, ...]

    @property
    def pause(self) -> bool:
        """True when the rule should stop sending."""
        return any(e.over for e in self.evidence)

    @property
    def reason(self) -> str | None:
        """The first measure past its limit, in words (None when the rule may send)."""
        return next((e.sentence() for e in self.evidence if e.over), None)


def decide(counts: Counts, thresholds: Thresholds) -> Verdict:
    """Judge a rule's complaint and opt-out rates over its sends in the window."""
    t = thresholds

    def judged(measure: str, unit: str, reactions: int, sends: int, limit: float) -> Evidence:
        return Evidence(measure, unit, reactions, sends, limit, lower_bound(reactions, sends, t.confidence),
                        t.confidence, t.min_sends)

    return Verdict((
        judged("spam complaints", "e-mails", counts.complaints, counts.email_sends, t.max_complaint_rate),
        judged("e-mail opt-outs", "e-mails", counts.email_opt_outs, counts.email_sends, t.max_email_opt_out_rate),
        judged("SMS opt-outs", "texts", counts.sms_opt_outs, counts.sms_sends, t.max_sms_opt_out_rate),
    ))
