"""`chs backtest` result dict -> one self-contained HTML page (Jinja, autoescaped, inline SVG).

The numbers are computed elsewhere; this module only normalises them for display (NaN and
None both become "–") and shapes them into a small view model so the template only loops.
It reuses the weekly report's Jinja environment, CSS, band colours/glyphs and atomic write.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chs.backtest import svg as charts
from chs.backtest.svg import BandRate
from chs.report.model import GREY, Band, make_bands
from chs.report.render import environment, write_atomic

MODES = {"history": "its stored snapshots", "rescore": "snapshots rescored with the current config"}
NO_SIGNAL = 0.02  # |AUC - 0.5| within this: indistinguishable from chance at typical sample sizes


def _num(value: Any) -> float | None:
    """None, NaN and ±inf all mean "undefined" on the page."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_auc(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def fmt_rate(value: float | None) -> str:
    """Churn rates: two decimals below 1% (a green band's 0.5% must not read as 0.0% or 1%)."""
    if value is None:
        return "–"
    return f"{value * 100:.2f}%" if abs(value) < 0.01 else f"{value * 100:.1f}%"


def fmt_lift(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}×"


def fmt_ci(ci: tuple[float | None, float | None] | None) -> str:
    if ci is None or ci[0] is None or ci[1] is None:
        return "–"
    return f"{ci[0]:.3f}–{ci[1]:.3f}"


@dataclass(frozen=True)
class NodeRow:
    path: str
    label: str
    depth: int
    auc: float | None
    verdict: str  # "wrong" (points the wrong way), "flat" (no signal), "" otherwise

    @property
    def bar(self) -> tuple[float, float]:
        """(left %, width %) of a bar from the 0.5 centre line to the AUC on a 0..1 track."""
        auc = self.auc if self.auc is not None else 0.5
        return min(auc, 0.5) * 100, abs(auc - 0.5) * 100


@dataclass(frozen=True)
class Decile:
    decile: int
    min_score: float | None
    max_score: float | None
    n: int
    churned: int
    rate: float | None
    lift: float | None  # rate / base rate: calibration against the horizon's average


@dataclass(frozen=True)
class Horizon:
    name: str
    snapshots: list[str]
    n: int
    positives: int
    base_rate: float | None
    auc: float | None
    auc_ci: tuple[float | None, float | None] | None
    lift_10: float | None
    lift_20: float | None
    recall_10: float | None
    recall_20: float | None
    bands: list[BandRate]
    deciles: list[Decile]
    nodes: list[NodeRow]
    roc: list[tuple[float, float]]

    @property
    def rate_peak(self) -> float:
        """The highest decile churn rate: full width of the table's inline rate bars."""
        return max((d.rate for d in self.deciles if d.rate), default=0.0) or 1.0


@dataclass(frozen=True)
class Page:
    title: str
    config: str
    mode: str
    snapshots: list[str]
    observed_until: str | None
    events: int | None
    unknown_accounts: int
    warnings: list[str]
    bands: list[Band]  # every band drawn anywhere on the page, best first (CSS classes b<rank>)
    horizons: list[Horizon]
    generated_at: str

    @property
    def order_note(self) -> str:
        """"red > yellow > green": the churn-rate order a well-ordered score produces."""
        return " > ".join(b.name for b in reversed(self.bands) if b.minimum is not None)


def verdict(auc: float | None) -> str:
    if auc is None:
        return ""
    # Round so that 0.48 (stored as 0.4799999...) counts as the edge of "no signal" as written.
    if round(abs(auc - 0.5), 9) <= NO_SIGNAL:
        return "flat"
    return "wrong" if auc < 0.5 else ""


def _tree_order(paths: list[str]) -> list[str]:
    """Parents before children, children grouped under their parent, siblings in first-seen
    order: robust whether the calculator emits the tree depth-first or any other way."""
    first: dict[str, int] = {}
    for i, path in enumerate(paths):
        parts = path.split(".") if path else []
        for k in range(1, len(parts) + 1):
            first.setdefault(".".join(parts[:k]), i)

    def key(path: str) -> tuple[int, ...]:
        parts = path.split(".") if path else []
        return tuple(first[".".join(parts[:k])] for k in range(1, len(parts) + 1))

    return sorted(paths, key=key)


def _nodes(raw: dict[str, Any], labels: dict[str, str]) -> list[NodeRow]:
    rows = []
    for path in _tree_order(list(raw)):
        auc = _num(raw[path])
        label = labels.get(path) or ("Health score" if path == "" else path)
        rows.append(NodeRow(path, label, path.count(".") + 1 if path else 0, auc, verdict(auc)))
    return rows


def _page_bands(config_bands: dict[str, float], horizons: dict[str, Any]) -> list[Band]:
    """The config's bands (best first) + `unknown`, + any band the result holds that the
    config no longer has (history mode after a config change), drawn grey with a ring."""
    bands = make_bands(config_bands)
    known = {b.name for b in bands}
    for h in horizons.values():
        for name in h.get("bands") or {}:
            if name not in known:
                known.add(name)
                bands.append(Band(name, None, len(bands), GREY, "ring", at_risk=False))
    return bands


def _band_rates(raw: dict[str, Any], bands: list[Band]) -> list[BandRate]:
    rows = []
    for band in bands:
        cell = raw.get(band.name)
        if cell is None:
            if band.minimum is None:  # `unknown` and stray bands: only when the result has them
                continue
            cell = {}
        n, churned = int(cell.get("n") or 0), int(cell.get("churned") or 0)
        rate = _num(cell.get("rate"))
        if rate is None and n:  # the counts are there: the rate follows from them
            rate = churned / n
        rows.append(BandRate(band, n, churned, rate if n else None))
    return rows


def _horizon(name: str, h: dict[str, Any], bands: list[Band], labels: dict[str, str]) -> Horizon:
    base = _num(h.get("base_rate"))
    ci = h.get("auc_ci")
    deciles = [Decile(int(d["decile"]), _num(d.get("min_score")), _num(d.get("max_score")),
                      int(d.get("n") or 0), int(d.get("churned") or 0), _num(d.get("rate")),
                      (r / base) if (r := _num(d.get("rate"))) is not None and base else None)
               for d in h.get("deciles") or []]
    roc = [(f, t) for f, t in ((_num(p[0]), _num(p[1])) for p in h.get("roc") or [])
           if f is not None and t is not None]
    return Horizon(
        name=name, snapshots=list(h.get("snapshots") or []), n=int(h.get("n") or 0),
        positives=int(h.get("positives") or 0), base_rate=base, auc=_num(h.get("auc")),
        auc_ci=(_num(ci[0]), _num(ci[1])) if ci else None,
        lift_10=_num(h.get("lift_10")), lift_20=_num(h.get("lift_20")),
        recall_10=_num(h.get("recall_10")), recall_20=_num(h.get("recall_20")),
        bands=_band_rates(h.get("bands") or {}, bands), deciles=deciles,
        nodes=_nodes(h.get("nodes") or {}, labels), roc=roc)


def build_page(result: dict, bands: dict[str, float], title: str = "chs") -> Page:
    """The view model; tolerant of missing optional keys so a partial result still renders."""
    horizons = result.get("horizons") or {}
    labels = result.get("node_labels") or {}
    outcomes = result.get("outcomes") or {}
    page_bands = _page_bands(bands, horizons)
    mode = str(result.get("mode") or "")
    return Page(
        title=title, config=str(result.get("config") or ""), mode=MODES.get(mode, mode),
        snapshots=sorted(result.get("snapshots") or []), observed_until=outcomes.get("observed_until"),
        events=outcomes.get("events"), unknown_accounts=int(outcomes.get("unknown_accounts") or 0),
        warnings=[str(w) for w in result.get("warnings") or []], bands=page_bands,
        horizons=[_horizon(str(k), v, page_bands, labels) for k, v in horizons.items()],
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def render_backtest_html(result: dict, bands: dict[str, float], title: str = "chs") -> str:
    env = environment()  # the report's: PackageLoader, autoescape, StrictUndefined, filters
    env.filters.update(auc=fmt_auc, rate=fmt_rate, lift=fmt_lift, ci=fmt_ci)
    env.globals.update(charts=charts)
    return env.get_template("backtest.html.j2").render(p=build_page(result, bands, title))


def write_backtest_html(result: dict, bands: dict[str, float], path: Path, title: str = "chs") -> Path:
    """Render and write atomically (readers see the old page or the new one, never half)."""
    return write_atomic(Path(path), render_backtest_html(result, bands, title))
