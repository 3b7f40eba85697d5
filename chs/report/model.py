"""The report's view model: plain typed data, already aggregated; templates only loop and format."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chs.errors import ConfigError

# Okabe-Ito, colour-blind safe, all readable with black text (EXPORTS.md "Report conventions").
GREEN, ORANGE, VERMILLION, GREY = "#009E73", "#E69F00", "#D55E00", "#BBBBBB"
EXTRA_COLOURS = ["#56B4E9", "#CC79A7", "#F0E442", "#0072B2"]
NAMED_COLOURS = {"green": GREEN, "yellow": ORANGE, "amber": ORANGE, "orange": ORANGE, "red": VERMILLION}


@dataclass(frozen=True)
class ReportOptions:
    """What to report on. `bands` are the config's band minimums (name -> minimum score).

    `at_risk_bands` (config `report.at_risk_bands`) names the bands that count as at risk;
    None means the lowest band only. `currency` is shown next to revenue figures.
    """

    bands: dict[str, float]
    name: str = "chs"
    as_of: dt.date | None = None  # latest snapshot on or before this date; None: the latest
    since_days: int = 7
    redact: bool = False
    salt: str = ""  # config hash: pseudonyms are stable while the config is unchanged
    top_movers: int = 10
    top_band_changes: int = 30
    top_at_risk: int = 25
    top_groups: int = 30
    trend_periods: int = 12
    at_risk_bands: tuple[str, ...] | None = None
    currency: str | None = None
    renewal_days: int = 90  # renewals listed: days to renewal within [0, renewal_days]
    top_renewals: int = 30
    top_accounts: int = 30  # churned and new accounts listed by name


@dataclass(frozen=True)
class Band:
    """A band as shown: colour and glyph always travel together with the name."""

    name: str
    minimum: float | None  # None for `unknown`
    rank: int  # 0 = best
    colour: str
    glyph: str  # id of an SVG <symbol> in the page
    at_risk: bool


def risk_names(bands: dict[str, float], at_risk: list[str] | tuple[str, ...] | None) -> set[str]:
    """The at-risk bands: the names given (bands of the config, or `unknown`), else the lowest band."""
    if at_risk is None:
        return {min(bands.items(), key=lambda kv: kv[1])[0]} if bands else set()
    unknown = [name for name in at_risk if name not in bands and name != "unknown"]
    if unknown:
        raise ConfigError([f"report.at_risk_bands: '{name}' is not a band of score.bands "
                           f"({', '.join(bands)}, or unknown)" for name in unknown])
    return set(at_risk)


def make_bands(bands: dict[str, float], at_risk: list[str] | tuple[str, ...] | None = None) -> list[Band]:
    """Best band first, then `unknown`. At risk: the bands named in `at_risk`, by default the lowest."""
    risky = risk_names(bands, at_risk)
    ordered = sorted(bands.items(), key=lambda kv: -kv[1])
    n = len(ordered)
    out = []
    extra = iter(EXTRA_COLOURS * 4)
    for rank, (name, minimum) in enumerate(ordered):
        if name.lower() in NAMED_COLOURS:
            colour = NAMED_COLOURS[name.lower()]
        elif rank == 0:
            colour = GREEN
        elif rank == n - 1:
            colour = VERMILLION
        elif rank == 1:
            colour = ORANGE
        else:
            colour = next(extra)
        middle = ("triangle", "diamond")[(rank - 1) % 2]
        glyph = "circle" if rank == 0 else "square" if rank == n - 1 else middle
        out.append(Band(name, float(minimum), rank, colour, glyph, at_risk=name in risky))
    out.append(Band("unknown", None, n, GREY, "ring", at_risk="unknown" in risky))
    return out


@dataclass
class SourceFreshness:
    name: str
    files: int
    rows: int | None
    rejected: int | None
    newest: str | None
    stale_days: int | None  # as_of - newest; negative when the export holds rows after as_of


@dataclass
class Header:
    model_name: str
    as_of: dt.date
    compared: dt.date | None
    compared_note: str  # how the compared snapshot was chosen
    snapshots: int
    tool_version: str | None
    config_hash: str | None
    config_changed: bool
    sources: list[SourceFreshness]
    redacted: bool
    since_days: int = 7


@dataclass
class BandTotal:
    band: Band
    accounts: int
    mrr: float | None
    prev_accounts: int | None


@dataclass
class Headline:
    accounts: int
    prev_accounts: int | None
    bands: list[BandTotal]
    has_mrr: bool
    mrr_total: float | None
    mrr_at_risk: float | None
    mrr_at_risk_share: float | None
    avg_score: float | None
    prev_avg_score: float | None
    avg_change: float | None
    nps: float | None  # mean of the accounts' NPS (see docs/report.md)
    nps_accounts: int | None
    at_risk_accounts: int = 0
    prev_at_risk_accounts: int | None = None


@dataclass
class Driver:
    node: str
    label: str
    points: float


@dataclass
class AccountRow:
    account_id: str
    name: str | None
    owner: str | None
    segment: str | None
    score: float | None
    band: Band
    prev_score: float | None = None
    prev_band: Band | None = None
    delta: float | None = None
    mrr: float | None = None
    driver: Driver | None = None  # top driver of the change
    risks: list[Driver] = field(default_factory=list)
    days_to_renewal: float | None = None
    open_actions: int = 0


@dataclass
class Movers:
    drops: list[AccountRow]
    gains: list[AccountRow]
    band_changes: list[AccountRow]
    band_changes_total: int
    new_accounts: int
    gone_accounts: int


@dataclass
class AtRisk:
    rows: list[AccountRow]
    total: int
    ranked_by_mrr: bool
    has_renewal: bool


@dataclass
class GroupRow:
    key: str | None
    accounts: int
    avg_score: float | None
    band_counts: list[int]  # in the order of Report.bands
    at_risk: int
    mrr_at_risk: float | None


@dataclass
class Breakdown:
    title: str
    rows: list[GroupRow]
    total_groups: int


@dataclass
class ActionsSummary:
    period_start: dt.date
    rules: list[str]
    rows: list[tuple[str | None, list[int], int]]  # owner, count per rule, total
    total_owners: int
    rule_totals: list[int]
    total: int


@dataclass
class LeafQuality:
    node: str
    label: str
    description: str | None
    missing: int
    imputed: int


@dataclass
class Quality:
    coverage_bins: list[int]  # 10 bins of 10 percentage points; 100% goes into the last
    complete: int  # coverage == 1
    leaves: list[LeafQuality]


@dataclass
class TrendPoint:
    as_of: dt.date
    counts: list[int]  # in the order of Report.bands
    avg_score: float | None = None
    nps: float | None = None  # mean of the accounts' NPS in that snapshot
    nps_accounts: int = 0


@dataclass
class BacklogRow:
    owner: str | None
    open: int
    overdue: int  # open with due_date < as_of
    oldest_due: dt.date | None  # earliest due date among the open actions


@dataclass
class Backlog:
    rows: list[BacklogRow]
    total_owners: int
    open: int
    overdue: int
    available: bool  # the history has an actions table


@dataclass
class Renewals:
    rows: list[AccountRow]
    total: int
    mrr: float | None  # revenue of all accounts renewing in the window
    mrr_at_risk: float | None  # of those in an at-risk band
    days: int
    available: bool  # a leaf holds days to renewal


@dataclass
class Churn:
    """Accounts scored at the compared snapshot but not at as_of (churned), and the reverse (new)."""

    churned: list[AccountRow]
    churned_total: int
    churned_mrr: float | None
    new: list[AccountRow]
    new_total: int
    new_mrr: float | None


@dataclass
class OwnerChange:
    owner: str | None
    accounts: int  # owned at as_of
    prev_accounts: int  # owned at the compared snapshot
    avg_score: float | None
    prev_avg_score: float | None
    change: float | None
    worse: int  # accounts (owned now) in a lower band than at the compared snapshot
    dropped: int  # accounts (owned now) whose score went down
    better: int  # accounts (owned now) in a higher band


@dataclass
class OwnerChanges:
    rows: list[OwnerChange]
    total_owners: int


@dataclass
class ParentRow:
    """A parent account (accounts.parent) in an at-risk band: its rolled-up score and family."""

    account_id: str
    name: str | None
    owner: str | None
    segment: str | None
    score: float | None
    band: Band
    delta: float | None
    revenue: float | None  # family revenue: its own + every account below it, as scored
    children: int
    scored: int
    risks: list[Driver] = field(default_factory=list)  # children pulling it down most (points)


@dataclass
class Parents:
    rows: list[ParentRow]  # at-risk parents, largest family revenue first (top N)
    at_risk: int
    total: int  # parents in the snapshot
    has_revenue: bool


@dataclass
class Report:
    header: Header
    bands: list[Band]
    headline: Headline
    histogram: list[int]  # 10 bins of 10 points
    trend: list[TrendPoint]
    movers: Movers
    at_risk: AtRisk
    breakdowns: list[Breakdown]
    actions: ActionsSummary
    quality: Quality
    generated_at: str
    backlog: Backlog | None = None
    renewals: Renewals | None = None
    churn: Churn | None = None
    owner_changes: OwnerChanges | None = None
    currency: str | None = None
    trend_periods: int = 12
    revenue_note: str | None = None  # where revenue comes from, shown in the report
    parents: Parents | None = None  # enterprise families (accounts.parent); None without parents
    warnings: list[str] = field(default_factory=list)

    @property
    def has_nps_trend(self) -> bool:
        return any(p.nps is not None for p in self.trend)

    @property
    def shown_bands(self) -> list[Band]:
        """The bands for table columns: `unknown` only when some account has it."""
        unknown = len(self.bands) - 1
        used = any(p.counts[unknown] for p in self.trend) or any(
            t.band.name == "unknown" for t in self.headline.bands)
        return self.bands if used else self.bands[:unknown]
