"""Column types a source may declare (`types: {csat: DOUBLE}`) and the inference that keeps one
bad cell from turning a whole column into text.

DuckDB's CSV sniffer types a column by a sample: one text cell in it ("n/a", "abc") and the
whole column is VARCHAR, so every numeric variable over it fails. Instead, a column whose
cells are *mostly* numbers (or dates, timestamps) is read as that type, and the few cells
that do not convert become rejected rows (counted and sampled), never the loss of the column.
"""

from __future__ import annotations

import re

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
