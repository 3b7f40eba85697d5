"""Inline SVG charts for the backtest page: drawn on the server, no scripts, nothing to fetch.

Same conventions as `chs.report.svg`: text from data is escaped, and every band colour is drawn
with the band's glyph and name next to it, so the charts also read in greyscale print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from chs.report.model import Band
from chs.report.svg import FONT

CURVE = "#0072B2"  # Okabe-Ito blue: not a band colour, so the ROC curve never reads as a band
AXIS = "#56606b"


@dataclass(frozen=True)
class BandRate:
    """One bar: a band's churn rate. `rate` is None when the band held no account."""

    band: Band
    n: int
    churned: int
    rate: float | None


def _pct(value: float) -> str:
    # Small rates matter here (green bands churn at well under 1%): keep two decimals there.
    return f"{value * 100:.2f}%" if value < 0.01 else f"{value * 100:.1f}%"


def roc_curve(points: Sequence[tuple[float, float]], label: str) -> Markup:
    """ROC curve ([fpr, tpr] ascending) over the dashed chance diagonal, axes 0..1.

    `label` names the curve for screen readers (e.g. "ROC 90d, AUC 0.78"); the visible AUC
    goes into the figure caption, where it can be selected and copied.
    """
    size, left, top, right, bottom = 360, 50, 12, 14, 44
    plot = size - left - right  # square plot: both axes are rates, equal scale is honest
    height = top + plot + bottom

    def x(v: float) -> float:
        return left + plot * v

    def y(v: float) -> float:
        return top + plot * (1 - v)

    parts = [f'<svg class="chart roc" viewBox="0 0 {size} {height}" role="img" '
             f'aria-label="{escape(label)}" style="{FONT}">']
    for i in range(6):  # grid and ticks every 0.2
        t = i / 5
        parts.append(f'<line x1="{x(t):.1f}" y1="{y(0):.1f}" x2="{x(t):.1f}" y2="{y(1):.1f}" stroke="#e6e8eb"/>')
        parts.append(f'<line x1="{x(0):.1f}" y1="{y(t):.1f}" x2="{x(1):.1f}" y2="{y(t):.1f}" stroke="#e6e8eb"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{y(0) + 15:.1f}" font-size="11" text-anchor="middle">{t:.1f}</text>')
        parts.append(f'<text x="{x(0) - 6:.1f}" y="{y(t) + 4:.1f}" font-size="11" text-anchor="end">{t:.1f}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot}" height="{plot}" fill="none" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}" stroke="{AXIS}" '
                 'stroke-width="1.2" stroke-dasharray="5 4"/>')
    parts.append(f'<text x="{x(0.62):.1f}" y="{y(0.5):.1f}" font-size="11" fill="{AXIS}" '
                 f'transform="rotate(-45 {x(0.62):.1f} {y(0.5):.1f})">chance</text>')
    clean = [(min(max(f, 0.0), 1.0), min(max(t, 0.0), 1.0)) for f, t in points]
    if clean:
        line = " ".join(f"{x(f):.1f},{y(t):.1f}" for f, t in clean)
        # Light fill under the curve: its area is the AUC, which makes the number tangible.
        area = f"{x(clean[0][0]):.1f},{y(0):.1f} {line} {x(clean[-1][0]):.1f},{y(0):.1f}"
        parts.append(f'<polygon points="{area}" fill="{CURVE}" fill-opacity=".10"/>')
        parts.append(f'<polyline points="{line}" fill="none" stroke="{CURVE}" stroke-width="2.2" '
                     'stroke-linejoin="round"/>')
    parts.append(f'<text x="{left + plot / 2:.1f}" y="{height - 8}" font-size="12" '
                 'text-anchor="middle">false positive rate</text>')
    cy = top + plot / 2
    parts.append(f'<text x="14" y="{cy:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {cy:.1f})">true positive rate</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def band_bars(rows: Sequence[BandRate], label: str) -> Markup:
    """Horizontal bars: churn rate per band, best band on top; glyph + name + counts as text."""
    width, row, top, name_w = 560, 30, 6, 120
    bar_max = width - name_w - 170  # room on the right for "12.3% (87 / 4,123)"
    peak = max((r.rate for r in rows if r.rate), default=0.0) or 1.0
    height = top * 2 + row * len(rows)
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}" style="{FONT}">']
    parts.append(f'<line x1="{name_w}" y1="{top}" x2="{name_w}" y2="{height - top}" stroke="{AXIS}"/>')
    for i, r in enumerate(rows):
        y = top + i * row
        mid = y + row / 2
        parts.append(f'<use href="#g-{r.band.glyph}" x="4" y="{mid - 6:.1f}" width="12" height="12" '
                     f'fill="{r.band.colour}"/>')
        parts.append(f'<text x="22" y="{mid + 4:.1f}" font-size="12" font-weight="600">'
                     f'{escape(r.band.name)}</text>')
        counts = f"{r.churned:,} / {r.n:,}"
        if r.rate is None:
            parts.append(f'<text x="{name_w + 6}" y="{mid + 4:.1f}" font-size="12">– ({counts})</text>')
            continue
        w = bar_max * r.rate / peak
        parts.append(f'<rect x="{name_w}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" fill="{r.band.colour}" '
                     f'stroke="#000" stroke-opacity=".35"><title>{escape(r.band.name)}: {_pct(r.rate)} churned '
                     f'({counts})</title></rect>')
        parts.append(f'<text x="{name_w + w + 6:.1f}" y="{mid + 4:.1f}" font-size="12">'
                     f'<tspan font-weight="600">{_pct(r.rate)}</tspan> ({counts})</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
