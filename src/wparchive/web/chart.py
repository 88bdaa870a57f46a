"""A bar chart of posts per month as inline SVG: no script, nothing fetched, safe to embed."""

from __future__ import annotations

import html

from markupsafe import Markup


def month_bars(months: list[tuple[str, int]], width: int = 720, height: int = 160) -> Markup:
    """Bars for (YYYY-MM, count) pairs, with a title on each bar and the first and last month labelled."""
    if not months:
        return Markup("")
    months = _every_month(months)
    peak = max(count for _, count in months) or 1
    step = width / len(months)
    bar = max(1.0, step * 0.8)
    plot = height - 20
    parts = [f'<svg class="wparchive-chart" viewBox="0 0 {width} {height}" width="{width}" '
             f'style="max-width: 100%; height: auto" role="img" aria-label="Posts per month">']
    for index, (month, count) in enumerate(months):
        tall = plot * count / peak
        x = index * step
        label = html.escape(f"{month}: {count} post{'s' if count != 1 else ''}")
        parts.append(f'<rect x="{x:.1f}" y="{plot - tall:.1f}" width="{bar:.1f}" height="{tall:.1f}" '
                     f'fill="#276890"><title>{label}</title></rect>')
    parts.append(f'<text x="0" y="{height - 4}" font-size="12">{html.escape(months[0][0])}</text>')
    parts.append(f'<text x="{width}" y="{height - 4}" font-size="12" text-anchor="end">'
                 f'{html.escape(months[-1][0])}</text>')
    parts.append(f'<text x="{width}" y="12" font-size="12" text-anchor="end">most: {peak} a month</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _every_month(months: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The months from first to last, those without posts included as zero, so time reads evenly."""
    counts = dict(months)
    try:
        year, month = map(int, months[0][0].split("-"))
        last = tuple(map(int, months[-1][0].split("-")))
    except ValueError:
        return months
    filled: list[tuple[str, int]] = []
    while (year, month) <= last and len(filled) < 1200:
        key = f"{year:04d}-{month:02d}"
        filled.append((key, counts.get(key, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return filled
