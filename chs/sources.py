"""Register each export in DuckDB as a normalised relation `src_<name>`.

Every relation keeps the export's columns (after `columns:` renames) and adds
`__account` (VARCHAR key) and, for sources with a time column, `__ts` (TIMESTAMP in UTC)
and `__date` (its DATE). CSV exports are loaded into temp tables so that rows DuckDB
cannot parse are counted (`store_rejects`), never dropped silently; Parquet stays a view.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from chs.config import LoadedConfig
from chs.config.models import Source
from chs.errors import DataError, InputMissingError
from chs.sql import ident, string

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

    def manifest(self) -> dict[str, Any]:
        return {"files": self.files, "rows": self.rows, "rejected": self.rejected,
                "reject_samples": self.reject_samples, "newest": self.newest}


def relation_name(source: str) -> str:
    return f"src_{source}"


def _files(loaded: LoadedConfig, name: str, src: Source) -> list[str]:
    pattern = str(loaded.resolve(src.path))
    files = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
    files = [f for f in files if Path(f).is_file()]
    if not files:
        raise InputMissingError(f"{src.path}: no such file (source '{name}', resolved to {pattern})")
    return files


def _format(path: str) -> str:
    lower = path.lower().removesuffix(".gz")
    if lower.endswith(".parquet"):
        return "parquet"
    if lower.endswith(".tsv"):
        return "tsv"
    return "csv"


def _reader(files: list[str], fmt: str, src: Source, rejects: str) -> str:
    file_list = "[" + ", ".join(string(f) for f in files) + "]"
    if fmt == "parquet":
        return f"read_parquet({file_list}, union_by_name = true)"
    opts = src.csv
    args: list[str] = [file_list, f"rejects_table = {string(rejects + '_errors')}",
                       f"rejects_scan = {string(rejects + '_scans')}", "store_rejects = true"]
    delim = opts.delimiter if opts and opts.delimiter else ("\t" if fmt == "tsv" else None)
    pairs: dict[str, Any] = {
        "delim": delim,
        "decimal_separator": opts.decimal if opts else None,
        "thousands": opts.thousands if opts else None,
        "quote": opts.quote if opts else None,
        "dateformat": opts.date_format if opts else None,
        "timestampformat": opts.timestamp_format if opts else None,
        "encoding": opts.encoding if opts else None,
        "nullstr": opts.null if opts else None,
    }
    # A decimal comma needs '.' as thousands separator, or amounts stay VARCHAR (EXPORTS.md).
    if pairs["decimal_separator"] == "," and pairs["thousands"] is None:
        pairs["thousands"] = "."
    args += [f"{k} = {string(v)}" for k, v in pairs.items() if v is not None]
    if opts and opts.skip is not None:
        args.append(f"skip = {int(opts.skip)}")
    if opts and opts.header is not None:
        args.append(f"header = {'true' if opts.header else 'false'}")
    return f"read_csv({', '.join(args)})"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {ident(relation)}").fetchall()}


def _missing_column(src_name: str, src: Source, column: str, columns: dict[str, str], role: str) -> DataError:
    return DataError(f"{src.path}: column '{column}' not found ({role} of source '{src_name}'; "
                     f"columns: {', '.join(columns)})")


def _time_expr(column: str, col_type: str, timezone: str | None) -> str:
    """SQL turning the time column into a UTC TIMESTAMP, whatever type the export has."""
    c = ident(column)
    if col_type == "DATE":
        return f"CAST({c} AS TIMESTAMP)"
    if col_type.startswith("TIMESTAMP WITH"):
        return f"CAST({c} AS TIMESTAMP)"  # session TimeZone is UTC
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
    files = _files(loaded, name, src)
    fmt = _format(files[0])
    raw = f"raw_{name}"
    rejects = f"rej_{name}"
    reader = _reader(files, fmt, src, rejects)
    try:
        if fmt == "parquet":
            con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(raw)} AS SELECT * FROM {reader}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(raw)} AS SELECT * FROM {reader}")
    except duckdb.Error as exc:
        raise DataError(f"{src.path}: cannot read ({str(exc).splitlines()[0]})") from None
    columns = _columns(con, raw)
    info = SourceInfo(name=name, relation=relation_name(name), files=files, columns={})
    if fmt != "parquet":
        info.rejected, info.reject_samples = _rejects(con, rejects)

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
        extra.append(f"CAST({ident(key_column)} AS VARCHAR) AS __account")
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
    stats = "count(*)" + (", CAST(max(__ts) AS VARCHAR), count(*) FILTER (WHERE __ts IS NULL AND "
                          f"{ident(time_col)} IS NOT NULL)" if time_col else "")
    row = con.execute(f"SELECT {stats} FROM {ident(info.relation)}").fetchall()[0]
    info.rows = int(row[0])
    if time_col:
        info.newest = row[1]
        bad_times = int(row[2])
        if bad_times:
            info.rejected += bad_times
            info.reject_samples.append(f"{bad_times} rows with an unreadable time in '{time_col}'")
    return info


def time_column(src: Source) -> str | None:
    """The column that dates a row: `time:`, else the start of its validity (`valid.from`)."""
    if src.time is not None:
        return src.time
    return src.valid.from_ if src.valid is not None else None


def _rejects(con: duckdb.DuckDBPyConnection, rejects: str) -> tuple[int, list[str]]:
    try:
        rows = con.execute(
            f"SELECT count(DISTINCT (file_id, line)), "
            f"list(DISTINCT 'line ' || line || ': ' || coalesce(column_name, '') || ' ' || error_type) [1:3] "
            f"FROM {ident(rejects + '_errors')}").fetchall()
    except duckdb.Error:
        return 0, []
    return int(rows[0][0] or 0), list(rows[0][1] or [])


def register_all(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, needed: set[str]) -> dict[str, SourceInfo]:
    """Register every needed source (the accounts source always)."""
    cfg = loaded.config
    out: dict[str, SourceInfo] = {}
    for name in [cfg.accounts.source] + sorted(needed - {cfg.accounts.source}):
        key = cfg.accounts.id if name == cfg.accounts.source else cfg.sources[name].account
        out[name] = register_source(con, loaded, name, key)
    acc = out[cfg.accounts.source]
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
    return out
