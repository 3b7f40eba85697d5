"""Column types a source may declare (`types: {csat: DOUBLE}`) and the inference that keeps one
bad cell from turning a whole column into text.

DuckDB's CSV sniffer types a column by a sample: one text cell in it ("n/a", "abc") and the
whole column is VARCHAR, so every numeric variable over it fails. Instead, a column whose
cells are *mostly* numbers (or dates, timestamps) is read as that type, and the few cells
that do not convert become rejected rows (counted and sampled), never the loss of the column.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chs.sql import ident, string

if TYPE_CHECKING:
    import duckdb

    from chs.config.models import CsvOptions

# Types a user may declare; each maps to the DuckDB type it is read as.
_ALIASES = {
    "DOUBLE": "DOUBLE", "FLOAT": "DOUBLE", "REAL": "DOUBLE", "NUMERIC": "DOUBLE", "NUMBER": "DOUBLE",
    "BIGINT": "BIGINT", "INTEGER": "BIGINT", "INT": "BIGINT",
    "VARCHAR": "VARCHAR", "TEXT": "VARCHAR", "STRING": "VARCHAR",
    "DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "TIMESTAMPTZ": "TIMESTAMPTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
}
_DECIMAL = re.compile(r"^DECIMAL\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$")

# A column is read as a number/date when at least this share of its non-empty cells convert;
# below it the column is text ("mostly text") and nothing is rejected.
MOSTLY = 0.8


def normalise_type(value: str) -> str:
    """The DuckDB type for a declared type name; ValueError names the accepted ones."""
    key = " ".join(str(value).upper().split())
    if key in _ALIASES:
        return _ALIASES[key]
    m = _DECIMAL.match(key)
    if m and int(m.group(2)) <= int(m.group(1)) <= 38:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    raise ValueError(f"unknown type '{value}' (use DOUBLE, BIGINT, DECIMAL(p,s), VARCHAR, DATE, "
                     f"TIMESTAMP, TIMESTAMPTZ or BOOLEAN)")


def is_text(col_type: str) -> bool:
    return col_type == "VARCHAR"


NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def is_number(col_type: str) -> bool:
    return col_type.startswith(NUMERIC_PREFIXES)


def columns_of(con: duckdb.DuckDBPyConnection, relation_sql: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {relation_sql}").fetchall()}


def first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0]


def numeric_text(column: str, opts: CsvOptions) -> str:
    c = f"trim({ident(column)})"
    thousands = opts.thousands or ("." if opts.decimal == "," else None)
    if thousands:
        c = f"replace({c}, {string(thousands)}, '')"
    if opts.decimal and opts.decimal != ".":
        c = f"replace({c}, {string(opts.decimal)}, '.')"
    return c


def infer_types(con: duckdb.DuckDBPyConnection, relation: str, candidates: list[str], opts: CsvOptions) -> dict[str, str]:
    """Text columns whose non-empty cells are mostly (>= MOSTLY) numbers, dates or timestamps
    but not all: the type they are meant to have. One scan for all candidates."""
    if not candidates:
        return {}
    parts = []
    for c in candidates:
        q = ident(c)
        num = numeric_text(c, opts)
        date = f"try_strptime({q}, {string(opts.date_format)})" if opts.date_format else f"TRY_CAST({q} AS DATE)"
        ts = f"try_strptime({q}, {string(opts.timestamp_format)})" if opts.timestamp_format \
            else f"TRY_CAST({q} AS TIMESTAMP)"
        parts += [f"count(NULLIF(trim({q}), ''))", f"count(CASE WHEN regexp_full_match({num}, '[+-]?[0-9]{{1,18}}') THEN 1 END)",
                  f"count(TRY_CAST({num} AS DOUBLE))", f"count({date})", f"count({ts})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {ident(relation)}").fetchall()[0]
    out: dict[str, str] = {}
    for i, c in enumerate(candidates):
        n, n_int, n_dbl, n_date, n_ts = row[5 * i:5 * i + 5]
        if not n:
            continue
        for count, typ in ((n_dbl, "BIGINT" if n_int == n_dbl else "DOUBLE"), (n_date, "DATE"), (n_ts, "TIMESTAMP")):
            if count < n and count >= MOSTLY * n:
                out[c] = typ
                break
    return out
