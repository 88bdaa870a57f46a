"""A bar chart of posts per month as inline SVG: no script, nothing fetched, safe to embed."""

from __future__ import annotations

import html

from markupsafe import Markup


def month_bars(months: list[tuple[str, int]], width: int = 720, height: int = 160) -> Markup:
    """Bars for (YYYY-MM, count) pairs, with a title on each bar and the first and last month labelled."""
    if not months:
        return Markup("")
    peak = max(count for _, count in months) or 1
    step = width / len(months)
    bar = max(1.0, step * 0.8)
    plot = height - 20
    parts = [f'<svg class="wparchive-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="Posts per month">']
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
