"""Parse durations like `30d`, `2w` or `3m` (DESIGN 2.1: `Nw` = 7N days; v1.1: `Nm` months).

Windows count days only (`parse_days`). Steps between dates (`--every`) and backtest horizons
may also be calendar months (`parse_step`), which do not have a fixed number of days.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
_STEP = re.compile(r"^\s*(\d+)\s*([dwm])\s*$")


def parse_days(text: str) -> int:
    """Return the number of days in `text` (`30d`, `2w`); raise ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30d or 4w")
    n = int(match.group(1))
    if n <= 0:
        raise ValueError(f"'{text}' must be at least 1d")
    return n * 7 if match.group(2) == "w" else n


@dataclass(frozen=True)
class Step:
    """A step of whole days or whole calendar months (exactly one is non-zero)."""

    days: int = 0
    months: int = 0

    @property
    def label(self) -> str:
        return f"{self.months}m" if self.months else f"{self.days}d"

    def add(self, day: dt.date, times: int = 1) -> dt.date:
        """`day` moved forward `times` steps; a month step keeps the day of month, clamped to
        the month's last day (Jan 31 + 1m = Feb 28), counted from `day` so it never drifts."""
        if not self.months:
            return day + dt.timedelta(days=self.days * times)
        total = day.month - 1 + self.months * times
        year, month = day.year + total // 12, total % 12 + 1
        return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

    def sql_add(self, date_sql: str) -> str:
        """The same step in DuckDB SQL over a DATE expression (month arithmetic clamps alike)."""
        if self.months:
            return f"CAST({date_sql} + INTERVAL {int(self.months)} MONTH AS DATE)"
        return f"CAST({date_sql} + {int(self.days)} AS DATE)"


def parse_step(text: str) -> Step:
    """`7d`, `2w`, `1m`, `3m` -> Step; raise ValueError otherwise."""
    match = _STEP.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a step like 7d, 2w or 1m")
    n = int(match.group(1))
    if n <= 0:
        raise ValueError(f"'{text}' must be at least 1")
    unit = match.group(2)
    if unit == "m":
        return Step(months=n)
    return Step(days=n * 7 if unit == "w" else n)


def step_dates(first: dt.date, last: dt.date, step: Step) -> list[dt.date]:
    """first, first + step, ... up to and including last."""
    out: list[dt.date] = []
    i = 0
    while (day := step.add(first, i)) <= last:
        out.append(day)
        i += 1
    return out
