"""Server-rendered SVG charts (no JavaScript library, nothing downloaded). Pure: data in, markup out."""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2")


def line_chart(days: Sequence[str], series: Mapping[str, Sequence[int]], *, width: int = 640, height: int = 180,
               title: str = "") -> str:
    """A multi-series line chart over ``days``; each series has one value per day."""
    pad_left, pad_bottom, pad_top = 40, 22, 18
    plot_w, plot_h = width - pad_left - 10, height - pad_bottom - pad_top
    top = max([max(values, default=0) for values in series.values()] + [1])
    step = plot_w / max(len(days) - 1, 1)
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{pad_left}" y="12" class="chart-title">{escape(title)}</text>',
             f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{pad_left + plot_w}" y2="{pad_top + plot_h}" stroke="#999"/>',
             f'<text x="{pad_left - 4}" y="{pad_top + 4}" text-anchor="end" class="axis">{top}</text>',
             f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end" class="axis">0</text>']
    for index, day in enumerate(days):
        if index in (0, len(days) - 1) or index % 7 == 0:
            x = pad_left + index * step
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" class="axis">{escape(day[5:])}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{pad_left + i * step:.1f},{pad_top + plot_h - v / top * plot_h:.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                     f'<title>{escape(name)}</title></polyline>')
        # Legend in one row above the plot, so it never covers a line.
        parts.append(f'<text x="{pad_left + 220 + n * 140}" y="12" fill="{colour}" '
                     f'class="legend">{escape(name)} ({sum(values)})</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(counts: Mapping[str, int], *, width: int = 640, bar_height: int = 18, title: str = "") -> str:
    """Horizontal bars, one per label, longest first."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    height = 20 + max(len(items), 1) * (bar_height + 4)
    label_w, top = 180, max([v for _, v in items] + [1])
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="12" class="chart-title">{escape(title)}</text>']
    if not items:
        parts.append('<text x="0" y="34" class="axis">nothing yet</text>')
    for n, (label, value) in enumerate(items):
        y = 20 + n * (bar_height + 4)
        w = (width - label_w - 60) * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_height - 5}" text-anchor="end" class="axis">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{PALETTE[0]}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height - 5}" class="axis">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)
