"""Register each export in DuckDB as a normalised relation `src_<name>`.

Every relation keeps the export's columns (after `columns:` renames) and adds
`__account` (VARCHAR key) and, for sources with a time column, `__ts` (TIMESTAMP in UTC)
and `__date` (its DATE). Reading the export (CSV/TSV/JSON/Parquet, presets, declared types,
rejected rows, the mapped key) is `chs.readers.load`; CSV and JSON exports are loaded into
temp tables so that rows that do not parse are counted, never dropped silently; Parquet
stays a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from chs.config import LoadedConfig
from chs.config.models import AccountKey, Source
from chs.errors import DataError
from chs.readers.load import load_raw
from chs.sql import ident, string, string_list

TIME_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")


@dataclass
class SourceInfo:
    """What was registered for one source, for checks and the run manifest."""

    name: str
    relation: str
    files: list[str]
    columns: dict[str, str]
    rows: int = 0
    rejected: int = 0
    reject_samples: list[str] = field(default_factory=list)
    newest: str | None = None
    has_time: bool = False
    has_validity: bool = False
    key_type: str = "VARCHAR"  # the export's own type of the account key (`__key`)
    warnings: list[str] = field(default_factory=list)  # e.g. ambiguous dates, keys that match no account
    notes: list[str] = field(default_factory=list)  # what a preset converted (money units, zones)
    unmatched: dict[str, Any] | None = None  # keys that match no account: counts and samples

    def manifest(self) -> dict[str, Any]:
        out = {"files": self.files, "rows": self.rows, "rejected": self.rejected,
               "reject_samples": self.reject_samples, "newest": self.newest}
        if self.warnings:
            out["warnings"] = self.warnings
        if self.notes:
            out["notes"] = self.notes
        if self.unmatched is not None:
            out["unmatched_keys"] = self.unmatched
        return out


def relation_name(source: str) -> str:
    return f"src_{source}"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {ident(relation)}").fetchall()}


def _missing_column(src_name: str, src: Source, column: str, columns: dict[str, str], role: str) -> DataError:
    from chs.export_checks import columns_listing  # a non-export file's first line is not echoed
    return DataError(f"{src.path}: column '{column}' not found ({role} of source '{src_name}'; "
                     f"{columns_listing(src.path, columns)})")


def _time_expr(column: str, col_type: str, timezone: str | None) -> str:
    """SQL turning the time column into a UTC TIMESTAMP, whatever type the export has."""
    c = ident(column)
    if col_type == "DATE":
        return f"CAST({c} AS TIMESTAMP)"
    if col_type.startswith("TIMESTAMP WITH"):
        return f"CAST({c} AS TIMESTAMP)"  # session TimeZone is UTC
    if col_type == "TIMESTAMP" and timezone is None:
        return c  # no cast, so window filters on __ts reach the Parquet scan
    if col_type.startswith("TIMESTAMP"):
        base = f"CAST({c} AS TIMESTAMP)"
    elif col_type in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "DOUBLE"):
        # Epoch seconds, or milliseconds when the numbers are too large for seconds.
        return f"CASE WHEN abs({c}) > 100000000000 THEN make_timestamp(CAST({c} AS BIGINT) * 1000) " \
               f"ELSE make_timestamp(CAST({c} AS BIGINT) * 1000000) END"
    else:
        base = f"CAST(TRY_CAST({c} AS TIMESTAMPTZ) AS TIMESTAMP)" if timezone is None \
            else f"TRY_CAST({c} AS TIMESTAMP)"
    if timezone is not None:
        return f"CAST(timezone({string(timezone)}, {base}) AS TIMESTAMP)"
    return base


def register_source(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, name: str,
                    key_column: str | None) -> SourceInfo:
    """Load one source; check the key and time columns; count rows that did not parse."""
    src = loaded.config.sources[name]
    if isinstance(key_column, AccountKey):  # callers that pass `src.account` as it is
        key_column = key_column.column
    # CSV/TSV/JSON/Parquet (zips), presets, declared types, the mapped key: chs/readers.
    load = load_raw(con, loaded, name, src)
    raw, files = load.relation, load.files
    if load.key_column is not None and key_column is not None:
        key_column = load.key_column  # `account: {via: ...}`: the key mapped to account ids
    columns = _columns(con, raw)
    info = SourceInfo(name=name, relation=relation_name(name), files=files, columns={})
    info.rejected, info.reject_samples = load.rejected, load.reject_samples
    info.warnings, info.notes = list(load.warnings), list(load.notes)

    renames = []
    for old, new in src.columns.items():
        if old not in columns:
            raise _missing_column(name, src, old, columns, "renamed in `columns:`")
        renames.append(f"{ident(old)} AS {ident(new)}")
    rename_sql = f" RENAME ({', '.join(renames)})" if renames else ""
    renamed = {src.columns.get(c, c): t for c, t in columns.items()}

    extra = []
    if key_column is not None:
        if key_column not in renamed:
            raise _missing_column(name, src, key_column, renamed, "account key")
        # `__key` is the key in the export's own type: aggregates group on it (grouping a BIGINT
        # is far cheaper than its text); `__account` is its text, for joins across sources.
        extra.append(f"{ident(key_column)} AS __key")
        extra.append(f"CAST({ident(key_column)} AS VARCHAR) AS __account")
        info.key_type = renamed[key_column]
    time_col = time_column(src)
    if time_col is not None:
        if time_col not in renamed:
            raise _missing_column(name, src, time_col, renamed, "time column" if src.time else "valid.from")
        ts = _time_expr(time_col, renamed[time_col], src.timezone)
        extra.append(f"{ts} AS __ts")
    if src.valid is not None:
        # Validity is by day: a row holds on D when from <= D < to (DESIGN 6.1).
        for role, column in (("from", src.valid.from_), ("to", src.valid.to)):
            if column is None:
                extra.append(f"NULL::DATE AS __v{role}")
                continue
            if column not in renamed:
                raise _missing_column(name, src, column, renamed, f"valid.{role}")
            extra.append(f"CAST({_time_expr(column, renamed[column], src.timezone)} AS DATE) AS __v{role}")
    select_extra = (", " + ", ".join(extra)) if extra else ""
    inner = f"SELECT *{rename_sql}{select_extra} FROM {ident(raw)}"
    # __date derives from __ts in an outer SELECT, so the time conversion is written once.
    view = f"SELECT *, CAST(__ts AS DATE) AS __date FROM ({inner})" if time_col is not None else inner
    con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(info.relation)} AS {view}")
    info.columns = renamed
    info.has_time = time_col is not None
    info.has_validity = src.valid is not None
    # A TIMESTAMP column used as it is cannot be unreadable: no need to count those rows.
    unread = "0" if time_col is None or ts == ident(time_col) else \
        f"count(*) FILTER (WHERE __ts IS NULL AND {ident(time_col)} IS NOT NULL)"
    stats = "count(*)" + (f", CAST(max(__ts) AS VARCHAR), {unread}" if time_col else "")
    fast = time_col is not None and unread == "0" and load.fmt == "parquet" and not load.rejected \
        and time_col not in src.columns.values() and src.preset is None
    row = (_parquet_stats(con, info, files, time_col) if fast else None) or \
        con.execute(f"SELECT {stats} FROM {ident(info.relation)}").fetchall()[0]
    info.rows = int(row[0])
    if time_col:
        info.newest = row[1]
        bad_times = int(row[2])
        if bad_times:
            info.rejected += bad_times
            info.reject_samples.append(f"{bad_times} rows with an unreadable time in '{time_col}'")
    return info


def _parquet_stats(con: duckdb.DuckDBPyConnection, info: SourceInfo, files: list[str],
                   time_col: str) -> tuple[int, str | None, int] | None:
    """Row count and newest time of a Parquet source whose time column is read as it is, from
    the files' footers: the max of 100M timestamps cost a 1 s scan at 1M accounts. None
    (scan instead) unless every row group has the column's statistics and the footers count
    exactly the rows the relation holds (so no row was filtered or added on the way)."""
    # The time column's chunks; INT96 (legacy Spark) timestamps have no defined statistics
    # order, so only INT64 ones count (INT96 files are scanned).
    col = f"path_in_schema = {string(time_col)} AND type = 'INT64'"
    try:
        rows = con.execute(f"SELECT count(*) FROM {ident(info.relation)}").fetchall()[0][0]
        meta = con.execute(
            f"SELECT count(DISTINCT (file_name, row_group_id)), sum(row_group_num_rows) FILTER (WHERE {col}), "
            f"count(*) FILTER (WHERE {col}), count(stats_max_value) FILTER (WHERE {col}), "
            f"CAST(max(TRY_CAST(stats_max_value AS TIMESTAMP)) FILTER (WHERE {col}) AS VARCHAR), "
            f"count(*) FILTER (WHERE {col} AND num_values > stats_null_count "
            f"AND TRY_CAST(stats_max_value AS TIMESTAMP) IS NULL) "
            f"FROM parquet_metadata({string_list(files)})").fetchall()[0]
    except duckdb.Error:
        return None
    groups, covered, with_col, with_stats, newest, unreadable = meta
    if covered != rows or with_col != groups or with_stats != with_col or unreadable:
        return None
    return int(rows), newest, 0


def time_column(src: Source) -> str | None:
    """The column that dates a row: `time:`, else the start of its validity (`valid.from`)."""
    if src.time is not None:
        return src.time
    return src.valid.from_ if src.valid is not None else None


def register_all(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, needed: set[str],
                 defer_keys: frozenset[str] = frozenset()) -> dict[str, SourceInfo]:
    """Register every needed source (the accounts source always); raise on the first problem.
    The account keys of the sources in `defer_keys` are checked later, on the run's own
    aggregates (chs.pipeline), instead of by a pass over the export here."""
    from chs.key_mapping import check_key_match
    cfg = loaded.config
    out: dict[str, SourceInfo] = {}
    for name in [cfg.accounts.source] + sorted(needed - {cfg.accounts.source}):
        out[name] = register_source(con, loaded, name, source_key(loaded, name))
        if name == cfg.accounts.source:
            check_accounts(con, loaded, out[name])
        elif name not in defer_keys:
            check_key_match(con, loaded, name, out[name], out[cfg.accounts.source])
    return out


def source_key(loaded: LoadedConfig, name: str) -> str | None:
    """The key column of a source: `accounts.id` for the account list, else `account:`."""
    cfg = loaded.config
    return cfg.accounts.id if name == cfg.accounts.source else cfg.sources[name].account_column


def check_accounts(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, acc: SourceInfo) -> None:
    """The account list names its role columns and holds each account once."""
    cfg = loaded.config
    src = cfg.sources[cfg.accounts.source]
    for role in ("name", "owner", "segment", "start", "end"):
        column = getattr(cfg.accounts, role)
        if column is not None and column not in acc.columns:
            raise _missing_column(cfg.accounts.source, src, column, acc.columns, f"accounts.{role}")
    dupes = con.execute(
        f"SELECT __account, count(*) FROM {ident(acc.relation)} GROUP BY 1 HAVING count(*) > 1 "
        f"ORDER BY 2 DESC, 1 LIMIT 5").fetchall()
    if dupes:
        listed = ", ".join(f"'{d[0]}' ({d[1]} rows)" for d in dupes)
        raise DataError(f"{src.path}: duplicate account ids in column '{cfg.accounts.id}': {listed}")
