"""SMS length in segments by the GSM 03.38 (GSM-7) and UCS-2 rules, footer included.

GSM-7: 160 septets in one segment, 153 per segment once split (the user-data header takes 7);
the extension-table characters (``^{}\\[~]|€`` and form feed) take two septets (escape + char) and
an escape pair is never split across segments. Any character outside GSM-7 switches the whole
message to UCS-2: 70 UTF-16 code units in one segment, 67 once split, surrogate pairs kept together.

>>> count_segments("a" * 160).segments, count_segments("a" * 161).segments
(1, 2)
>>> count_segments("€" * 80).units, count_segments("€" * 80).segments
(160, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "sms_segments"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
MULTI = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SegmentCount:
    """Encoding, size in its units (septets or UTF-16 code units) and the number of segments."""

    encoding: str
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 basic or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [len(ch.encode("utf-16-le")) // 2 for ch in text]  # 2 for astral chars (emoji)


def count_segments(text: str) -> SegmentCount:
    """Count the segments ``text`` takes as one SMS."""
    encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    if units == 0:
        return SegmentCount(encoding, 0, 0)
    if units <= SINGLE[encoding]:
        return SegmentCount(encoding, units, 1)
    capacity = MULTI[encoding]
    segments, used = 1, 0
    for size in sizes:
        if used + size > capacity:  # an escape pair or surrogate pair never straddles two segments
            segments, used = segments + 1, 0
        used += size
    return SegmentCount(encoding, units, segments)


def check(candidate: Candidate) -> GuardrailResult:
    """The SMS as sent (opt-out line included) fits in ``sms_max_segments``."""
    count = count_segments(candidate.final_text)
    limit = candidate.request.limits.sms_max_segments
    detail = f"{count.segments} segment(s), {count.units} {count.encoding} units, limit {limit}"
    return GuardrailResult(NAME, 0 < count.segments <= limit, detail)
