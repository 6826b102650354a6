"""The forecast chart, drawn on the server as inline SVG (no script, no CDN), like the
customers dashboard (crm/customers/charts.py): grouped vertical bars per period."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SERIES_COLORS = ("#c7d2e0", "#c0392b", "#27ae60")


def _short(value: Decimal) -> str:
    """12345678 -> 1234.6万, 250000000 -> 2.5亿: compact axis labels."""
    number = float(value)
    if abs(number) >= 1e8:
        return f"{number / 1e8:.1f}亿"
    if abs(number) >= 1e4:
        return f"{number / 1e4:.1f}万"
    return f"{number:.0f}"


def grouped_bars_svg(periods: list[str], series: list[tuple[str, list[Decimal]]], *, title: str,
                     height: int = 220, colors: Sequence[str] | None = None,
                     max_scale: float | None = None) -> SafeString:
    """One group of bars per period, one bar per series (``[(label, values per period)]``),
    a legend underneath. Every bar carries a <title> with its exact value. ``colors``: one per
    series (default SERIES_COLORS); ``max_scale``: draw at most that many times the natural
    width (a chart of three groups would otherwise fill the page's width with giant text)."""
    palette = tuple(colors) if colors else SERIES_COLORS
    count = max(1, len(periods))
    bars = max(1, len(series))
    bar_w, gap, left, top, bottom = 14, 14, 56, 10, 34
    group_w = bars * bar_w + gap
    width = left + count * group_w + gap
    plot_h = height - top - bottom
    peak = max([v for _label, values in series for v in values] + [Decimal(1)])
    limit = f";max-width:{max(width * max_scale, 360):.0f}px" if max_scale else ""
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" style="min-width:{min(width, 640)}px{limit}">'
             f'<title>{escape(title)}</title>']
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#e4e7eb"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#616e7c">'
                     f'{escape(_short(peak * Decimal(str(fraction))))}</text>')
    for i, period in enumerate(periods):
        x0 = left + gap + i * group_w
        for j, (label, values) in enumerate(series):
            value = values[i] if i < len(values) else Decimal(0)
            h = float(plot_h * value / peak) if peak else 0.0
            parts.append(f'<rect x="{x0 + j * bar_w}" y="{top + plot_h - h:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                         f'fill="{palette[j % len(palette)]}"><title>{escape(period)} {escape(label)}: '
                         f'{value:,.2f}</title></rect>')
        parts.append(f'<text x="{x0 + bars * bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'font-size="11" fill="#1f2933">{escape(period)}</text>')
    parts.append("</svg>")
    legend = ['<ul class="legend">']
    for j, (label, _values) in enumerate(series):
        legend.append(f'<li><span class="swatch" style="background:{palette[j % len(palette)]}"></span>'
                      f'{escape(label)}</li>')
    legend.append("</ul>")
    return mark_safe('<div class="chart-scroll">' + "".join(parts) + "</div>" + "".join(legend))
