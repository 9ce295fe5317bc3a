"""Each guardrail's false-positive rate on the labelled drafts, and not one invented offer, date or amount let through.

The drafts are ``tests/golden/guardrail_drafts.jsonl``, written by ``scripts/make_guardrail_drafts.py``
(see its docstring for what they hold). A clean draft states only what its request grounds; every
other draft carries one invented offer, date or amount, and names the guardrail that must hold it.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from outreach.drafting.brief import DraftRequest, OfferRef
from outreach.drafting.draft import Draft
from outreach.drafting.system_parts import SystemParts, frame_email, frame_sms
from outreach.guardrails import COMMON_CHECKS, SMS_CHECKS, Candidate, run_guardrails

ROOT = Path(__file__).resolve().parents[4]
GOLDEN = ROOT / "tests" / "golden" / "guardrail_drafts.jsonl"
SCRIPT = ROOT / "scripts" / "make_guardrail_drafts.py"
MAX_FALSE_POSITIVE_RATE = 0.01
SYSTEM = SystemParts("retain", "retain, 1 Example Street, 10115 Berlin, Germany")
UNSUBSCRIBE = "https://retain.example.org/outreach/unsubscribe?token=abc.def"


def candidate(row: dict) -> Candidate:
    """The row as the composer hands it to the guardrails (system parts framed around the draft)."""
    r = row["request"]
    email = r["channel"] == "email"
    request = DraftRequest(
        channel=r["channel"], topic=r["topic"], rule_id="corpus", brief="", tone="", signal_kind=r["signal_kind"],
        signal_reason=r.get("reason", ""), facts=r["facts"], offers=tuple(OfferRef(**o) for o in r["offers"]),
        first_name=r["first_name"], locale=r["locale"], unsubscribe_url=UNSUBSCRIBE if email else None,
        allowed_links=(UNSUBSCRIBE,) if email else ())
    draft = Draft(body=row["draft"]["body"], subject=row["draft"]["subject"], preheader=row["draft"]["preheader"],
                  language=request.language)
    framed = (frame_email(draft, SYSTEM, ai_drafted=True, unsubscribe_url=UNSUBSCRIBE) if email
              else frame_sms(draft, SYSTEM, ai_drafted=True))
    return Candidate(request, draft, framed.text)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def verdicts(rows) -> list[tuple[dict, dict[str, bool], dict[str, str]]]:
    out = []
    for row in rows:
        results = run_guardrails(candidate(row))
        out.append((row, {r.name: r.passed for r in results}, {r.name: r.detail for r in results}))
    return out


def test_the_golden_file_is_what_the_script_writes():
    spec = importlib.util.spec_from_file_location("make_guardrail_drafts", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert GOLDEN.read_text(encoding="utf-8") == script.render(script.build()), \
        "regenerate it: python scripts/make_guardrail_drafts.py"


def test_the_set_covers_both_template_languages_channels_and_every_invention(rows):
    cells = Counter((r["request"]["locale"], r["request"]["channel"], r["drafter"]) for r in rows if r["label"] == "clean")
    assert set(cells) == {(lang, ch, d) for lang in ("en", "de") for ch in ("email", "sms") for d in ("template", "free")}
    labels = Counter(r["label"] for r in rows)
    assert labels["clean"] >= 1000 and min(labels[k] for k in ("invented_offer", "invented_date", "invented_amount")) >= 100


def test_false_positive_rate_of_each_guardrail_is_under_one_percent(verdicts):
    clean = [(row, passed, detail) for row, passed, detail in verdicts if row["label"] == "clean"]
    names = [c.__module__.rsplit(".", 1)[1] for c in COMMON_CHECKS + SMS_CHECKS]
    lines, too_high = [f"{'guardrail':<16}{'applies to':>11}{'held':>6}{'FP rate':>9}"], {}
    for module in names:
        judged = [(row, p, d) for row, p, d in clean if _name(module) in p]
        held = [(row, d[_name(module)]) for row, p, d in judged if not p[_name(module)]]
        rate = len(held) / len(judged)
        lines.append(f"{_name(module):<16}{len(judged):>11}{len(held):>6}{rate:>9.2%}")
        if rate >= MAX_FALSE_POSITIVE_RATE:
            too_high[_name(module)] = [(row["id"], detail) for row, detail in held[:5]]
    print("\n" + "\n".join(lines))
    assert not too_high, too_high


def test_no_invented_offer_date_or_amount_gets_through(verdicts):
    invented = [(row, passed, detail) for row, passed, detail in verdicts if row["label"] != "clean"]
    missed = [(row["id"], row["invented"]) for row, passed, _ in invented if passed[row["catch"]]]
    print(f"\ninvented: {len(invented)} drafts, held by the responsible guardrail: {len(invented) - len(missed)}")
    assert not missed


def _name(module: str) -> str:
    return {"injection": "injection_echo"}.get(module, module)
