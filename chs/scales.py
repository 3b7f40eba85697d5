"""Each scale kind owns its SQL: raw value x -> sub-score in [0, 100], NULL when missing (DESIGN 2.3)."""

from __future__ import annotations

from chs.config.models import Scale
from chs.sql import number, string


def numeric(raw: str) -> str:
    """The raw value as DOUBLE; text that is no number and NaN count as missing."""
    x = f"TRY_CAST({raw} AS DOUBLE)"
    return f"CASE WHEN isnan({x}) THEN NULL ELSE {x} END"


def _transformed(scale: Scale, x: str) -> str:
    if scale.transform == "log1p":
        # log1p is undefined at or below -1: such a value is missing rather than an error.
        return f"CASE WHEN {x} > -1 THEN ln(1 + {x}) END"
    return x


def thresholds_sql(points: list[tuple[float, float]], x: str) -> str:
    """Piecewise-linear between points, clamped to the first/last score outside them."""
    (x0, s0) = points[0]
    parts = [f"WHEN {x} IS NULL THEN NULL", f"WHEN {x} <= {number(x0)} THEN {number(s0)}"]
    for (xa, sa), (xb, sb) in zip(points, points[1:]):
        slope = f"({number(sb)} - {number(sa)}) / ({number(xb)} - {number(xa)})"
        parts.append(f"WHEN {x} <= {number(xb)} THEN {number(sa)} + ({x} - {number(xa)}) * {slope}")
    parts.append(f"ELSE {number(points[-1][1])}")
    return "CASE " + " ".join(parts) + " END"


def steps_sql(points: list[tuple[float, float]], x: str) -> str:
    """s_i for x_i <= x < x_(i+1); s_0 below x_0."""
    parts = [f"WHEN {x} IS NULL THEN NULL"]
    for i, (_, s) in enumerate(points[:-1]):
        parts.append(f"WHEN {x} < {number(points[i + 1][0])} THEN {number(s)}")
    parts.append(f"ELSE {number(points[-1][1])}")
    return "CASE " + " ".join(parts) + " END"


def percentile_sql(scale: Scale, x: str, segment: str | None) -> str:
    """100 * percent_rank() among accounts with a value (ties share a rank)."""
    opts = scale.percentile
    assert opts is not None
    partition = f"({x}) IS NULL" + (f", {segment}" if opts.within == "segment" and segment else "")
    rank = f"100.0 * percent_rank() OVER (PARTITION BY {partition} ORDER BY {x})"
    if not opts.higher_is_better:
        rank = f"100.0 - {rank}"
    return f"CASE WHEN {x} IS NULL THEN NULL ELSE {rank} END"


def _map_key(key: object) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def map_sql(mapping: dict, text: str) -> str:
    """Categorical values by their text; an unmapped value is missing."""
    whens = " ".join(f"WHEN {string(_map_key(k))} THEN {number(v)}" for k, v in mapping.items())
    return f"CASE {text} {whens} ELSE NULL END"


def input_sql(scale: Scale, raw: str) -> str:
    """What the scale reads: text for `map`, else the (transformed) number. Materialised once."""
    if scale.kind == "map":
        # Numbers stored as DOUBLE print as `3.0`; compare them as the integer text a user wrote.
        return (f"CASE WHEN typeof({raw}) IN ('DOUBLE', 'FLOAT') OR typeof({raw}) LIKE 'DECIMAL%' "
                f"THEN regexp_replace(CAST({raw} AS VARCHAR), '\\.0+$', '') ELSE CAST({raw} AS VARCHAR) END")
    x = numeric(raw)
    return x if scale.kind == "percentile" else _transformed(scale, x)


def scale_sql(scale: Scale, x: str, segment: str | None) -> str:
    """The sub-score SQL of `scale` over its materialised input column `x`."""
    kind = scale.kind
    if kind == "map":
        return map_sql(scale.map or {}, x)
    if kind == "percentile":
        return percentile_sql(scale, x, segment)
    if kind == "thresholds":
        return thresholds_sql(scale.thresholds or [], x)
    return steps_sql(scale.steps or [], x)
