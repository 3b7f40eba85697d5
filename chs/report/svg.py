"""Inline SVG charts, drawn on the server: no scripts, no fonts or images to fetch.

Every text that comes from data is escaped; every band colour is drawn together with the
band's glyph and name (legend, threshold labels), so the charts read without colour.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from chs.report.model import Band, TrendPoint

FONT = "font-family:system-ui,sans-serif"
BAR = "#56606b"


def glyph_symbols() -> Markup:
    """The band glyphs as <symbol>s, defined once per page and used by id."""
    return Markup(
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
        '<symbol id="g-circle" viewBox="0 0 10 10">'
        '<circle cx="5" cy="5" r="4.2" stroke="#000" stroke-width=".8"/></symbol>'
        '<symbol id="g-triangle" viewBox="0 0 10 10">'
        '<path d="M5 .8 9.4 9.2H.6z" stroke="#000" stroke-width=".8"/></symbol>'
        '<symbol id="g-diamond" viewBox="0 0 10 10">'
        '<path d="M5 .5 9.5 5 5 9.5 .5 5z" stroke="#000" stroke-width=".8"/></symbol>'
        '<symbol id="g-square" viewBox="0 0 10 10">'
        '<rect x="1" y="1" width="8" height="8" stroke="#000" stroke-width=".8"/></symbol>'
        '<symbol id="g-ring" viewBox="0 0 10 10">'
        '<circle cx="5" cy="5" r="3.8" fill="none" stroke="#000" stroke-width="1.4"/></symbol>'
        '</defs></svg>')


def _glyph(band: Band, x: float, y: float, size: float = 10) -> str:
    return (f'<use href="#g-{band.glyph}" x="{x:.1f}" y="{y:.1f}" width="{size}" height="{size}" '
            f'fill="{band.colour}"/>')


def _fmt(n: int) -> str:
    return f"{n:,}"


def histogram(bins: list[int], bands: list[Band]) -> Markup:
    """Accounts per 10-point score bin, with each band's minimum marked."""
    width, height, left, top, bottom = 640, 250, 44, 52, 28
    plot_w, plot_h = width - left - 12, height - top - bottom
    peak = max(bins) or 1
    bw = plot_w / 10
    parts = [(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Histogram of scores in 10-point bins" style="{FONT}">')]
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
                 'stroke="#000"/>')
    for i, n in enumerate(bins):
        h = plot_h * n / peak
        x = left + i * bw
        label = f"{i * 10}–{i * 10 + 10}" if i < 9 else "90–100"
        parts.append(f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 4:.1f}" '
                     f'height="{h:.1f}" fill="{BAR}"><title>{label}: {_fmt(n)} accounts</title></rect>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
                     f'text-anchor="middle">{_fmt(n)}</text>')
    for i in range(11):
        parts.append(f'<text x="{left + i * bw:.1f}" y="{height - 10}" font-size="11" '
                     f'text-anchor="middle">{i * 10}</text>')
    for band in bands:
        if band.minimum is None or band.minimum <= 0:
            continue
        x = left + plot_w * band.minimum / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 20}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#000" '
                     f'stroke-width="1.5" stroke-dasharray="5 3"/>')
        parts.append(_glyph(band, x + 3, top - 32))
        parts.append(f'<text x="{x + 16:.1f}" y="{top - 23}" font-size="11">{escape(band.name)} ≥ '
                     f'{band.minimum:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def band_trend(points: list[TrendPoint], bands: list[Band]) -> Markup:
    """Stacked bars: accounts per band in each snapshot, best band on top."""
    width, height, left, top, bottom = 640, 260, 52, 30, 34
    plot_w, plot_h = width - left - 12, height - top - bottom
    used = [i for i, b in enumerate(bands) if any(p.counts[i] for p in points)]
    peak = max((sum(p.counts) for p in points), default=0) or 1
    slot = plot_w / max(len(points), 1)
    bw = min(slot * 0.7, 48)
    parts = [(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Accounts per band in each snapshot" style="{FONT}">')]
    lx = left
    for i in used:  # legend: glyph + name next to every colour
        parts.append(_glyph(bands[i], lx, 8))
        parts.append(f'<text x="{lx + 14}" y="17" font-size="11">{escape(bands[i].name)}</text>')
        lx += 24 + 7 * len(bands[i].name)
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
                 'stroke="#000"/>')
    parts.append(f'<text x="{left - 6}" y="{top + 4}" font-size="11" text-anchor="end">{_fmt(peak)}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>')
    for k, point in enumerate(points):
        x = left + k * slot + (slot - bw) / 2
        y = top + plot_h
        for i in reversed(range(len(bands))):  # worst band at the bottom
            n = point.counts[i]
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            band = bands[i]
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                         f'fill="{band.colour}" stroke="#fff" stroke-width=".5">'
                         f'<title>{point.as_of}: {escape(band.name)} {_fmt(n)}</title></rect>')
            if h >= 12:
                parts.append(_glyph(band, x + bw / 2 - 4, y + h / 2 - 4, 8))
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{height - 14}" font-size="10" text-anchor="middle">'
                     f'{point.as_of:%m-%d}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _line_chart(values: list[tuple[str, float | None]], low: float, high: float, label: str,
                guides: list[tuple[float, str, Band | None]], fmt: str) -> Markup:
    """One line over the snapshots (gaps where a value is missing), each point labelled.

    `guides` are horizontal dashed lines (value, label, band whose glyph goes with the label).
    """
    width, height, left, top, bottom, right = 640, 230, 44, 18, 30, 96
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(values), 1)

    def y_of(v: float) -> float:
        return top + plot_h * (high - min(max(v, low), high)) / (high - low)

    parts = [(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
              f'aria-label="{escape(label)}" style="{FONT}">')]
    for v in (low, (low + high) / 2, high):
        parts.append(f'<line x1="{left}" y1="{y_of(v):.1f}" x2="{left + plot_w}" y2="{y_of(v):.1f}" '
                     'stroke="#d6dae0"/>')
        parts.append(f'<text x="{left - 6}" y="{y_of(v) + 4:.1f}" font-size="11" text-anchor="end">{v:g}</text>')
    for v, text, band in guides:
        y = y_of(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#000" '
                     'stroke-width="1" stroke-dasharray="5 3"/>')
        x = left + plot_w + 6
        if band is not None:
            parts.append(_glyph(band, x, y - 5))
            x += 13
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11">{escape(text)}</text>')
    xy = [(left + (k + .5) * slot, v) for k, (_, v) in enumerate(values)]
    path, pen = [], "M"
    for x, v in xy:
        if v is None:
            pen = "M"
            continue
        path.append(f"{pen}{x:.1f} {y_of(v):.1f}")
        pen = "L"
    if path:
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{BAR}" stroke-width="2"/>')
    for (x, v), (name, _) in zip(xy, values, strict=True):
        if v is not None:
            parts.append(f'<circle cx="{x:.1f}" cy="{y_of(v):.1f}" r="3.2" fill="{BAR}">'
                         f'<title>{escape(name)}: {fmt.format(v)}</title></circle>')
            parts.append(f'<text x="{x:.1f}" y="{y_of(v) - 7:.1f}" font-size="10" '
                         f'text-anchor="middle">{fmt.format(v)}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="10" text-anchor="middle">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def score_trend(points: list[TrendPoint], bands: list[Band]) -> Markup:
    """Average score per snapshot, with each band's minimum as a dashed line (glyph and name)."""
    guides = [(b.minimum, f"{b.name} ≥ {b.minimum:g}", b) for b in bands
              if b.minimum is not None and b.minimum > 0]
    return _line_chart([(f"{p.as_of:%m-%d}", p.avg_score) for p in points], 0, 100,
                       "Average score per snapshot", guides, "{:.1f}")


def nps_trend(points: list[TrendPoint]) -> Markup:
    """Mean of the accounts' NPS per snapshot, on the NPS scale −100..100."""
    return _line_chart([(f"{p.as_of:%m-%d}", p.nps) for p in points], -100, 100,
                       "Mean of per-account NPS per snapshot", [(0, "0", None)], "{:.0f}")


def coverage_bars(bins: list[int]) -> Markup:
    """Small horizontal bars: accounts per coverage decile."""
    width, row = 420, 16
    peak = max(bins) or 1
    parts = [(f'<svg class="chart small" viewBox="0 0 {width} {row * 10 + 4}" role="img" '
             f'aria-label="Accounts per coverage band" style="{FONT}">')]
    for i, n in enumerate(bins):
        y = i * row + 2
        w = (width - 170) * n / peak
        label = f"{i * 10}–{i * 10 + 10}%" if i < 9 else "90–100%"
        parts.append(f'<text x="70" y="{y + 11}" font-size="11" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="78" y="{y}" width="{w:.1f}" height="{row - 4}" fill="{BAR}"/>')
        parts.append(f'<text x="{82 + w:.1f}" y="{y + 11}" font-size="11">{_fmt(n)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
