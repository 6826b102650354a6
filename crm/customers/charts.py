"""Small charts drawn on the server as inline SVG: no script, no CDN, readable on a phone.

Each function takes ``[(label, value), ...]`` and returns safe SVG markup (labels escaped)."""

from __future__ import annotations

import math

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#c0392b", "#2e86de", "#27ae60", "#f39c12", "#8e44ad", "#16a085", "#d35400",
           "#7f8c8d", "#e84393", "#2c3e50")


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def pie_svg(data: list[tuple[str, int]], *, title: str, size: int = 220) -> SafeString:
    """A pie with a legend underneath; slices in data order."""
    total = sum(v for _l, v in data if v > 0)
    r = size / 2 - 4
    cx = cy = size / 2
    parts = [f'<svg class="chart pie" viewBox="0 0 {size} {size}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    slices = [(label, value) for label, value in data if value > 0]
    if not total:
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="{r:.1f}" fill="#eef2f7"/>')
    elif len(slices) == 1:
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="{r:.1f}" fill="{_color(0)}">'
                     f'<title>{escape(slices[0][0])}: {slices[0][1]}</title></circle>')
    else:
        angle = -math.pi / 2
        for i, (label, value) in enumerate(slices):
            sweep = 2 * math.pi * value / total
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            angle += sweep
            x2, y2 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            large = 1 if sweep > math.pi else 0
            parts.append(f'<path d="M{cx:.1f},{cy:.1f} L{x1:.2f},{y1:.2f} A{r:.1f},{r:.1f} 0 {large} 1 '
                         f'{x2:.2f},{y2:.2f} Z" fill="{_color(i)}" stroke="#fff" stroke-width="1">'
                         f'<title>{escape(label)}: {value}</title></path>')
    parts.append("</svg>")
    legend = ['<ul class="legend">']
    for i, (label, value) in enumerate(slices):
        share = f"{100 * value / total:.0f}%" if total else ""
        legend.append(f'<li><span class="swatch" style="background:{_color(i)}"></span>'
                      f'{escape(label)} <strong>{value}</strong> <span class="muted">{share}</span></li>')
    legend.append("</ul>")
    return mark_safe("".join(parts) + "".join(legend))


def bar_svg(data: list[tuple[str, int]], *, title: str, width: int = 360, bar: int = 22) -> SafeString:
    """Horizontal bars, one per row, with the label on the left and the value on the right."""
    label_w, value_w, gap = 110, 44, 8
    height = max(1, len(data)) * (bar + gap) + gap
    top = max([v for _l, v in data] + [1])
    span = width - label_w - value_w
    parts = [f'<svg class="chart bar" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(data):
        y = gap + i * (bar + gap)
        w = span * value / top
        text = label if len(label) <= 9 else label[:8] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="13" '
                     f'fill="#1f2933">{escape(text)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" rx="3" fill="{_color(i)}">'
                     f'<title>{escape(label)}: {value}</title></rect>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar * 0.7:.1f}" font-size="13" '
                     f'fill="#616e7c">{value}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
