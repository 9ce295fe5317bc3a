"""Prompt-injection echo: the draft repeats instructions smuggled into upstream data.

Upstream text (a first name, a carrier note) is passed to the model as data. If the draft repeats
four or more consecutive words of such a field, or carries tell-tale instruction phrases, the model
followed (or echoed) the data instead of the brief. Quoting a signal fact (an order id, a product
name) is what facts are for, so a fact is exempt unless it carries an instruction phrase itself.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from outreach.drafting.brief import DraftRequest
from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "injection_echo"
NGRAM = 4
MAX_FACT_WORDS = 8  # a fact longer than a product name is prose, and prose may carry instructions

_TELLTALES = re.compile(
    r"(?i)ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|rules)"
    r"|disregard (?:all |the )?(?:previous|prior|above)|system prompt|developer message"
    r"|as an ai(?: language model)?|</?(?:data|customer_data|system|instructions)>|BEGIN (?:DATA|INSTRUCTIONS)"
    r"|ignoriere (?:alle )?(?:vorherigen|bisherigen) anweisungen"
    # What injected instructions ask a message to do: phish for secrets or send people elsewhere.
    r"|(?:send|tell|give) (?:us|me) your|reply with your|your (?:password|pin|iban|bank details|card number)"
    r"|(?:dein|ihr)(?:e|en)? (?:passwort|kennwort|pin|iban|bankdaten|kartennummer)|click (?:here|this link|the link)"
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def echoed_fragments(request: DraftRequest, text: str) -> list[str]:
    """Instruction phrases and runs of upstream data words that reappear in ``text``."""
    found = [m.group(0) for m in _TELLTALES.finditer(text)]
    data = request.data_block()
    data.pop("allowed_offers")  # offer descriptions are meant to be repeated
    facts = data["signal"].pop("facts")
    data["suspicious_facts"] = [v for v in _strings(facts) if _TELLTALES.search(v) or len(v.split()) > MAX_FACT_WORDS]
    drafted = _ngrams(text, NGRAM)
    for field_text in _strings(data):
        overlap = _ngrams(field_text, NGRAM) & drafted
        if overlap:
            found.append(" ".join(sorted(overlap)[0]))
    return found


def check(candidate: Candidate) -> GuardrailResult:
    """The draft does not repeat instructions or long runs of upstream data."""
    found = echoed_fragments(candidate.request, candidate.draft.text())
    if found:
        return GuardrailResult(NAME, False, f"echoes upstream data or instructions: {'; '.join(found)}")
    return GuardrailResult(NAME, True, "no echo")
