"""One stored snapshot as a list: what `chs scores` prints (filter, sort, limit in DuckDB).

The history is ATTACHed read-only into an in-memory connection (a running `chs score` holds
the file lock: exit 75). Monthly revenue is not stored in the history yet: when
`accounts.revenue` is declared it is read from the accounts export through the *current*
config and joined on the account id, so it is today's revenue, also for an older snapshot.
No printing here: the CLI formats the frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from chs.config import LoadedConfig
from chs.db import attach_read_only, memory
from chs.errors import ChsError, DataError, InputMissingError, UsageError
from chs.sql import ident

if TYPE_CHECKING:
    import polars as pl

SORTS = ("score", "revenue", "delta")
COLUMNS = ["account_id", "account_name", "owner", "segment", "score", "band", "delta", "delta_7d",
           "coverage", "top_risks"]
TEXT_COLUMNS = ["account_id", "account_name", "owner", "segment", "band", "top_risks"]
NO_HISTORY = "no snapshots stored yet; run chs score first"
HIST = "hist"

# Deterministic order: the sort key, missing values last, then the score, then the id.
_ORDER = {
    "score": "s.score ASC NULLS LAST, s.account_id",
    "revenue": "revenue DESC NULLS LAST, s.score ASC NULLS LAST, s.account_id",
    "delta": "s.delta ASC NULLS LAST, s.score ASC NULLS LAST, s.account_id",
}


@dataclass
class ScoreList:
    """The listed rows of snapshot `as_of` and how many accounts it holds / the filters kept."""

    as_of: dt.date
    frame: pl.DataFrame
    total: int
    matched: int
    has_revenue: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def shown(self) -> int:
        return self.frame.height


def list_scores(loaded: LoadedConfig, as_of: dt.date | None = None, bands: Sequence[str] = (),
                owners: Sequence[str] = (), segment: str | None = None, sort: str = "score",
                limit: int | None = None) -> ScoreList:
    """The latest snapshot on or before `as_of` (default: the latest), filtered and sorted in SQL.

    Filters combine with AND; several `bands` or `owners` match any of them (case-insensitive,
    as is `segment`). `sort`: score (lowest first), revenue (highest first; needs
    `accounts.revenue`), delta (most negative first); missing values sort last.
    """
    if sort not in SORTS:
        raise UsageError(f"--sort must be one of {', '.join(SORTS)} (got '{sort}')")
    has_revenue = loaded.config.accounts.revenue is not None
    if sort == "revenue" and not has_revenue:
        raise UsageError("--sort revenue needs revenue: declare `accounts.revenue` (the revenue column of the "
                         "accounts export, with `revenue_unit: month|year`) in the config")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 or more (got {limit})")
    if not loaded.database.exists():
        raise InputMissingError(NO_HISTORY)
    con = memory()
    try:
        attach_read_only(con, loaded.database, HIST)
        day = _snapshot(con, as_of)
        wanted_bands = _bands(con, loaded, day, bands)
        warnings: list[str] = []
        if has_revenue:
            warnings += _revenue(con, loaded, required=sort == "revenue")
        where = ["s.as_of = $as_of"]
        params: dict[str, object] = {"as_of": day}
        filters: list[str] = []
        if wanted_bands:
            filters.append("list_contains($bands, lower(coalesce(s.band, 'unknown')))")
            params["bands"] = wanted_bands
        if owners:
            filters.append("list_contains($owners, lower(s.owner))")
            params["owners"] = sorted({o.lower() for o in owners})
        if segment is not None:
            filters.append("lower(s.segment) = lower($segment)")
            params["segment"] = segment
        scores = f"{ident(HIST)}.scores"
        matched_sql = " AND ".join(filters) if filters else "true"
        total, matched = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {matched_sql}) FROM {scores} AS s WHERE s.as_of = $as_of",
            params).fetchall()[0]  # type: ignore[misc]
        select = ", ".join(f"s.{ident(c)}" for c in COLUMNS)
        join = ""
        if has_revenue:
            select += ", r.revenue"
            join = "LEFT JOIN __revenue AS r ON r.account_id = s.account_id"
        query = (f"SELECT {select} FROM {scores} AS s {join} WHERE {' AND '.join(where + filters)} "
                 f"ORDER BY {_ORDER[sort]}")
        if limit is not None:
            query += " LIMIT $limit"
            params["limit"] = limit
        frame = con.sql(query, params=params).pl()
        return ScoreList(as_of=day, frame=frame, total=int(total), matched=int(matched),
                         has_revenue=has_revenue, warnings=warnings)
    finally:
        con.close()


def _snapshot(con: duckdb.DuckDBPyConnection, as_of: dt.date | None) -> dt.date:
    """The latest stored as_of on or before `as_of` (any when None)."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = $db AND table_name = 'scores'",
                         {"db": HIST}).fetchall()[0][0]  # type: ignore[index]
    if not exists:
        raise InputMissingError(NO_HISTORY)
    scores = f"{ident(HIST)}.scores"
    latest, first = con.execute(
        f"SELECT max(as_of) FILTER (WHERE $day IS NULL OR as_of <= $day), min(as_of) FROM {scores}",
        {"day": as_of}).fetchall()[0]  # type: ignore[misc]
    if first is None:
        raise InputMissingError(NO_HISTORY)
    if latest is None:
        raise UsageError(f"no snapshot on or before --as-of {as_of} (the first is {first})")
    return latest


def _bands(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, day: dt.date, bands: Sequence[str]) -> list[str]:
    """The requested bands, lower-cased; a band neither configured nor stored is a usage error."""
    wanted = sorted({b.strip().lower() for b in bands if b.strip()})
    if not wanted:
        return []
    stored = {r[0].lower() for r in con.execute(
        f"SELECT DISTINCT band FROM {ident(HIST)}.scores WHERE as_of = $day AND band IS NOT NULL",
        {"day": day}).fetchall()}
    known = stored | {b.lower() for b in loaded.config.score.bands} | {"unknown"}
    unknown = [b for b in wanted if b not in known]
    if unknown:
        raise UsageError(f"unknown band {', '.join(repr(b) for b in unknown)} for --band "
                         f"(bands: {', '.join(sorted(known))})")
    return wanted


def _revenue(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, required: bool) -> list[str]:
    """`__revenue` (account_id, monthly revenue) from the accounts export; returns warnings.

    When the export cannot be read the column stays empty with a warning, unless the listing
    is sorted by revenue (`required`): then the error stands.
    """
    from chs.scratch import revenue_sql
    from chs.sources import register_source
    acc = loaded.config.accounts
    try:
        info = register_source(con, loaded, acc.source, acc.id)
        if acc.revenue not in info.columns:
            raise DataError(f"{loaded.config.sources[acc.source].path}: column '{acc.revenue}' not found "
                            f"(accounts.revenue; columns: {', '.join(sorted(info.columns))})")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE __revenue AS
            SELECT a.__account AS account_id, max({revenue_sql(loaded, 'a')}) AS revenue
            FROM {ident(info.relation)} AS a WHERE a.__account IS NOT NULL GROUP BY 1""")
        return []
    except ChsError as exc:
        if required:
            raise
        con.execute("CREATE OR REPLACE TEMP TABLE __revenue (account_id VARCHAR, revenue DOUBLE)")
        return [f"revenue left empty: {exc}"]
