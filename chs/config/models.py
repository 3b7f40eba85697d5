"""Pydantic models of the YAML config, `version: 1` (DESIGN 2). Unknown keys are errors.

Field-level rules live here (types, ranges, thresholds increasing) and, for exports, in
`source_models.py`; rules that need the whole config (references, cycles, SQL fragments)
live in `checks.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, Union

from pydantic import Field, field_validator, model_validator

from chs.config.base import Strict, duration

# The export models live in source_models.py; imported here, where the rest of chs finds them.
from chs.config.source_models import AccountKey, CsvOptions, JsonOptions, Source, Validity  # noqa: F401, I001

AGGS = (
    "count", "sum", "count_distinct", "avg", "min", "max", "median",
    "share", "latest", "days_since", "days_until", "pct_change", "nps",
)
Agg = Literal[
    "count", "sum", "count_distinct", "avg", "min", "max", "median",
    "share", "latest", "days_since", "days_until", "pct_change", "nps",
]


class SparkSettings(Strict):
    """`storage.spark`: where the aggregate steps run under `engine: spark` (DESIGN 7)."""

    master: str = "local[2]"
    # Spark properties passed to the session as they are, e.g. spark.driver.memory: 4g.
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Storage(Strict):
    """Where history (DuckDB) and per-run exports go; relative to the config's folder."""

    database: str = "chs.duckdb"
    output_dir: str = "out"
    # Which engine runs the per-source aggregates (the steps that read raw events); DuckDB
    # always computes variables, scores, history, actions and reports (DESIGN 7).
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkSettings | None = None
    # DuckDB's working memory for `chs score`; beyond it, joins, aggregates and sorts spill to a
    # temp folder beside the database instead of growing the process (a nightly job shares its
    # machine). A DuckDB size such as "1GB" or "500MB"; `none` leaves DuckDB's default (80% of RAM).
    memory_limit: str = "1GB"

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        if value.strip().lower() != "none" and not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*",
                                                                  value, flags=re.IGNORECASE):
            raise ValueError(f"'{value}' is not a size such as 1GB or 500MB (or none)")
        return value.strip()


class Rollup(Strict):
    """`accounts.rollup`: how a parent's score is made from its children's scores.

    `revenue` weighs each child by its revenue (`accounts.revenue`, its own plus its
    descendants'); `equal` weighs every scored child alike. Default: revenue when
    `accounts.revenue` is declared, else equal.
    """

    weight: Literal["revenue", "equal"] | None = None


class Accounts(Strict):
    """The account list: which source and which of its columns mean what."""

    source: str
    id: str
    name: str | None = None
    owner: str | None = None
    segment: str | None = None
    start: str | None = None
    # Extension: accounts whose end (e.g. churn) date is on or before as_of are not scored.
    end: str | None = None
    # v1.1: the revenue column for "revenue at risk" (report, diff, ranking); no name guessing.
    revenue: str | None = None
    revenue_unit: Literal["month", "year"] = "month"
    # v1.1: the column naming an account's parent (enterprise families); the parent's score
    # is rolled up from its children (chs/rollup.py).
    parent: str | None = None
    rollup: Rollup | None = None

    @model_validator(mode="after")
    def _rollup(self) -> Accounts:
        if self.rollup is not None and self.parent is None:
            raise ValueError("rollup needs accounts.parent (the column naming each account's parent)")
        if self.rollup is not None and self.rollup.weight == "revenue" and self.revenue is None:
            raise ValueError("rollup weight 'revenue' needs accounts.revenue (the revenue column); "
                             "declare it or use weight: equal")
        return self

    @property
    def rollup_weight(self) -> Literal["revenue", "equal"]:
        """The weight rule in force: the declared one, else revenue when revenue is declared."""
        if self.rollup is not None and self.rollup.weight is not None:
            return self.rollup.weight
        return "revenue" if self.revenue is not None else "equal"


class Variable(Strict):
    """One number per account: an aggregate, an account attribute or an expression."""

    source: str | None = None
    agg: Agg | None = None
    column: str | None = None
    expr: str | None = None
    where: str | None = None
    window: str | None = None
    of: Literal["count", "sum"] | None = None

    _window = field_validator("window")(duration)

    @model_validator(mode="after")
    def _shape(self) -> Variable:
        if self.column is not None and self.expr is not None:
            raise ValueError("give either column or expr, not both")
        if self.agg is None:
            if self.where is not None or self.window is not None or self.of is not None:
                raise ValueError("where/window/of need an agg")
            if self.column is None and self.expr is None:
                raise ValueError("needs an agg, a column or an expr")
            if self.source is None and self.expr is None:
                raise ValueError("a variable without source needs expr")
            return self
        if self.source is None:
            raise ValueError(f"agg '{self.agg}' needs a source")
        needs_value = {"sum", "count_distinct", "avg", "min", "max", "median", "latest", "nps", "days_until"}
        if self.agg in needs_value and self.column is None and self.expr is None:
            raise ValueError(f"agg '{self.agg}' needs a column or expr")
        if self.agg == "share" and self.where is None:
            raise ValueError("agg 'share' needs a where (the rows that count)")
        if self.agg == "pct_change":
            if self.window is None:
                raise ValueError("agg 'pct_change' needs a window")
            if self.of == "sum" and self.column is None and self.expr is None:
                raise ValueError("pct_change with of: sum needs a column or expr")
        elif self.of is not None:
            raise ValueError("'of' applies to agg 'pct_change' only")
        return self


class Percentile(Strict):
    """Rank among accounts with a value, 0..100."""

    within: Literal["all", "segment"] = "all"
    higher_is_better: bool = True


def _points(points: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
    if points is None:
        return None
    if not points:
        raise ValueError("needs at least one [x, score] point")
    xs = [p[0] for p in points]
    if any(b <= a for a, b in zip(xs, xs[1:])):
        raise ValueError("x values must increase")
    if any(not 0 <= p[1] <= 100 for p in points):
        raise ValueError("scores must be within 0..100")
    return points


class Scale(Strict):
    """Maps a raw value to a sub-score 0..100: exactly one of the four kinds."""

    thresholds: list[tuple[float, float]] | None = None
    steps: list[tuple[float, float]] | None = None
    percentile: Percentile | None = None
    map: dict[Union[str, int, float, bool], float] | None = None
    transform: Literal["log1p"] | None = None

    _thresholds = field_validator("thresholds", "steps")(_points)

    @field_validator("map")
    @classmethod
    def _map(cls, value: dict | None) -> dict | None:
        if value is not None:
            if not value:
                raise ValueError("needs at least one value")
            if any(not 0 <= s <= 100 for s in value.values()):
                raise ValueError("scores must be within 0..100")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Scale:
        kinds = [k for k in ("thresholds", "steps", "percentile", "map") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of thresholds, steps, percentile, map")
        if self.transform is not None and kinds[0] not in ("thresholds", "steps"):
            raise ValueError("transform applies to thresholds or steps only")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("thresholds", "steps", "percentile", "map") if getattr(self, k) is not None)


Missing = Union[Literal["skip"], float]


def _missing(value: Missing | None) -> Missing | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value <= 100:
        raise ValueError("missing must be skip or a number within 0..100")
    return value


class Node(Strict):
    """A tree node: a group (children) or a leaf (variable + scale)."""

    label: str | None = None
    weight: float = Field(default=1.0, ge=0)
    children: dict[str, Node] | None = None
    variable: str | None = None
    scale: Scale | None = None
    missing: Missing | None = None

    _missing = field_validator("missing")(_missing)

    @model_validator(mode="after")
    def _kind(self) -> Node:
        if self.children is not None:
            if self.variable is not None or self.scale is not None or self.missing is not None:
                raise ValueError("a group (children) cannot have variable, scale or missing")
            if not self.children:
                raise ValueError("a group needs at least one child")
        else:
            if self.variable is None or self.scale is None:
                raise ValueError("a leaf needs variable and scale (or a group needs children)")
        return self


class Score(Strict):
    """The tree of weighted groups and scales, bands and the missing-data default."""

    missing: Missing = "skip"
    bands: dict[str, float] = Field(default_factory=lambda: {"green": 70, "yellow": 40, "red": 0})
    tree: dict[str, Node]

    _missing = field_validator("missing")(_missing)

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one band")
        if any(not 0 <= m <= 100 for m in value.values()):
            raise ValueError("band minimums must be within 0..100")
        if len(set(value.values())) != len(value):
            raise ValueError("two bands have the same minimum")
        if min(value.values()) != 0:
            raise ValueError("the lowest band must have minimum 0, so every score has a band")
        if "unknown" in value:
            raise ValueError("'unknown' is reserved for accounts without a score")
        return value

    @field_validator("tree")
    @classmethod
    def _tree(cls, value: dict[str, Node]) -> dict[str, Node]:
        if not value:
            raise ValueError("needs at least one node")
        return value


class Segment(Strict):
    """Per-segment weight overrides; the first segment whose `when` holds wins."""

    when: str
    weights: dict[str, float]

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must be >= 0")
        return value


class Action(Strict):
    """A rule that turns accounts matching `when` into calls-to-action."""

    id: str
    when: str
    title: str
    detail: str | None = None
    priority: Literal["high", "medium", "low"] = "medium"
    due: str = "7d"
    cooldown: str | None = None
    owner: str | None = None
    channel: str | None = None

    _durations = field_validator("due", "cooldown")(duration)


class Delivery(Strict):
    """Where new actions are posted (a task tool's webhook)."""

    webhook: str


class ChurnOutcome(Strict):
    """Where churn events come from: rows (account, date) of a source, or an accounts column."""

    source: str | None = None
    date: str | None = None
    from_accounts: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> ChurnOutcome:
        if (self.source is None) == (self.from_accounts is None):
            raise ValueError("give either source (with date) or from_accounts")
        if self.source is not None and self.date is None:
            raise ValueError("a churn source needs `date:` (the column holding the churn date)")
        if self.from_accounts is not None and self.date is not None:
            raise ValueError("`date:` goes with source; from_accounts names the column itself")
        return self


class Outcomes(Strict):
    """What happened to accounts (DESIGN 6): the labels a backtest compares scores with."""

    churn: ChurnOutcome
    observed_until: dt.date | None = None


class ReportSettings(Strict):
    """`report:`: what the weekly review calls at risk, and the currency revenue is shown in."""

    at_risk_bands: list[str] | None = None  # default: the lowest band only
    currency: str | None = None


class Privacy(Strict):
    """Personal data: pseudonymised outputs (`redact`) and account columns never stored (`drop_columns`)."""

    # Every command that prints or writes names redacts by default (`--no-redact` overrides);
    # the key comes from the environment variable CHS_REDACT_SALT, never from the config.
    redact: bool = False
    # Columns of the account list removed before anything is computed or stored.
    drop_columns: list[str] = Field(default_factory=list)


class Config(Strict):
    """The whole chs.yaml."""

    version: Literal[1]
    name: str = "chs"
    storage: Storage = Field(default_factory=Storage)
    accounts: Accounts
    sources: dict[str, Source]
    variables: dict[str, Variable] = Field(default_factory=dict)
    score: Score
    segments: dict[str, Segment] = Field(default_factory=dict)
    actions: list[Action] = Field(default_factory=list)
    delivery: Delivery | None = None
    outcomes: Outcomes | None = None
    report: ReportSettings = Field(default_factory=ReportSettings)
    privacy: Privacy = Field(default_factory=Privacy)
