"""Charts as SVG, drawn on the server: no script and no external asset in the page.

Every label is escaped here; the result is markup the templates insert as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 48, 12
PALETTE = ("#1f6feb", "#d97706", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")


def stacked_bars(title: str, columns: Sequence[str], series: Mapping[str, Sequence[int]]) -> Markup:
    """One bar per column, stacked by series (each series: one value per column), with a legend."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(columns))]
    top = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - MARGIN_LEFT - 8, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = plot_w / max(len(columns), 1)
    bar = max(step * 0.7, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 20 * _legend_rows(series)}" '
        f'role="img" aria-label="{escape(title, {chr(34): "&quot;"})}"><title>{escape(title)}</title>',
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}" x2="{WIDTH - 8}" y2="{MARGIN_TOP + plot_h}" class="axis"/>',
        f'<text x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 8}" class="tick" text-anchor="end">{top}</text>',
        f'<text x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    label_every = max(1, len(columns) // 12)
    for i, column in enumerate(columns):
        x = MARGIN_LEFT + i * step + (step - bar) / 2
        y = MARGIN_TOP + plot_h
        for colour, (name, values) in zip(_colours(), series.items(), strict=False):
            height = plot_h * values[i] / top
            if height > 0:
                y -= height
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                    f"<title>{escape(column)}: {escape(name)} {values[i]}</title></rect>"
                )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{MARGIN_TOP + plot_h + 14}" class="tick" text-anchor="middle">'
                f"{escape(column)}</text>"
            )
    legend_y = HEIGHT - 14
    for n, (colour, name) in enumerate(zip(_colours(), series, strict=False)):
        x, y = MARGIN_LEFT + (n % 4) * 150, legend_y + (n // 4) * 20
        parts.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" class="legend">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(title: str, values: Mapping[str, int]) -> Markup:
    """One bar per key."""
    return stacked_bars(title, list(values), {title: list(values.values())})


def _legend_rows(series: Mapping[str, object]) -> int:
    return max(0, (len(series) - 1) // 4)


def _colours() -> Sequence[str]:
    return PALETTE * 4
