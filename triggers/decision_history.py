"""Contact history derived from stored decisions (pure), until the outbox records real sends.

The outbox of the outreach stage will be the authority on what was sent; until it exists the
engage and defer decisions are the best record of "what we already said (or will say) to whom".
A defer counts at its planned time until its deferral job decides (engage, expired, suppressed);
then the job's own decision replaces it.
"""

from __future__ import annotations

from typing import Iterable

from triggers.decision import Decision
from triggers.policy import ContactHistory, PastSend
from triggers.policy.reasons import Outcome


def history_from_decisions(decisions: Iterable[Decision], *, exclude: Iterable[str] = ()) -> ContactHistory:
    """Past and scheduled sends implied by ``decisions`` (ignoring the decision ids in ``exclude``)."""
    skip = set(exclude)
    rows = [d for d in decisions if d.decision_id not in skip]
    released = {d.deferred_from for d in rows if d.deferred_from}
    sends = []
    for d in rows:
        if d.rule_id is None or d.channel is None or d.topic is None:
            continue
        if d.outcome == Outcome.ENGAGE:
            sends.append(PastSend(d.decided_at, d.channel, d.rule_id, d.topic, d.episode_key))
        elif d.outcome == Outcome.DEFER and d.decision_id not in released and d.defer_until is not None:
            sends.append(PastSend(d.defer_until, d.channel, d.rule_id, d.topic, d.episode_key))
    return ContactHistory(tuple(sorted(sends, key=lambda s: s.sent_at)))
