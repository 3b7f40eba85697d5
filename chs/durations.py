"""Parse durations like `30d` or `2w` into days (DESIGN 2.1: `Nw` = 7N days)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


def parse_days(text: str) -> int:
    """Return the number of days in `text` (`30d`, `2w`); raise ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30d or 4w")
    n = int(match.group(1))
    if n <= 0:
        raise ValueError(f"'{text}' must be at least 1d")
    return n * 7 if match.group(2) == "w" else n
