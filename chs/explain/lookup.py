"""Which snapshots and which account `explain` means, with helpful errors when none fits.

Every query filters on `as_of` and `account_id` (or a name) so it stays fast with
millions of accounts in history; suggestions are ranked in SQL and only a short candidate
list reaches difflib.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
from dataclasses import dataclass

import duckdb

from chs.errors import InputMissingError, UsageError

SUGGESTIONS = 5
CANDIDATES = 40  # rows ranked in SQL before difflib picks the closest


@dataclass(frozen=True)
class Snapshots:
    """The explained snapshot and the one it is compared with (None: nothing to compare)."""

    as_of: dt.date
    compared: dt.date | None
    comparison: str


def snapshot_dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Stored snapshot dates, oldest first (from the small per-snapshot tree table)."""
    rows = con.execute("SELECT DISTINCT as_of FROM snapshot_nodes ORDER BY as_of").fetchall()
    return [r[0] for r in rows]


def _nearest(dates: list[dt.date], day: dt.date) -> str:
    i = bisect.bisect_left(dates, day)
    before = dates[i - 1] if i > 0 else None
    after = dates[i] if i < len(dates) else None
    parts = []
    if before:
        parts.append(f"nearest before: {before}")
    if after:
        parts.append(f"nearest after: {after}")
    return "; ".join(parts)


def resolve_snapshots(dates: list[dt.date], as_of: dt.date | None, compare: dt.date | None,
                      since_days: int | None) -> Snapshots:
    """Pick the explained snapshot (default: latest) and the compared one (DESIGN 2.3 Change)."""
    if not dates:
        raise InputMissingError("no snapshots stored yet; run `chs score` first")
    if compare is not None and since_days is not None:
        raise UsageError("use either --compare or --since, not both")
    if as_of is None:
        as_of = dates[-1]
    elif as_of not in dates:
        raise UsageError(f"no snapshot for --as-of {as_of} ({_nearest(dates, as_of)}); "
                         f"snapshots are stored by `chs score --as-of`")
    if compare is not None:
        if compare not in dates:
            raise UsageError(f"no snapshot for --compare {compare} ({_nearest(dates, compare)})")
        if compare >= as_of:
            raise UsageError(f"--compare {compare} must be before the explained snapshot {as_of}")
        return Snapshots(as_of, compare, "compare")
    if since_days is not None:
        limit = as_of - dt.timedelta(days=since_days)
        earlier = [d for d in dates if d <= limit]
        return Snapshots(as_of, earlier[-1] if earlier else None, f"since:{since_days}d")
    earlier = [d for d in dates if d < as_of]
    return Snapshots(as_of, earlier[-1] if earlier else None, "previous")


def resolve_account(con: duckdb.DuckDBPyConnection, account: str, as_of: dt.date) -> str:
    """The account id meant by `account` (an id, else a case-insensitive exact name) in snapshot as_of."""
    exact = con.execute("SELECT account_id FROM scores WHERE as_of = ? AND account_id = ? LIMIT 1",
                        [as_of, account]).fetchall()
    if exact:
        return exact[0][0]
    rows = con.execute(
        "SELECT DISTINCT account_id, account_name FROM scores WHERE as_of = ? "
        "AND (lower(account_name) = lower(?) OR lower(account_id) = lower(?)) ORDER BY account_id LIMIT 11",
        [as_of, account, account]).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if len(rows) > 1:
        listed = ", ".join(f"{i} ({n})" for i, n in rows[:10])
        raise UsageError(f"'{account}' matches {len(rows) if len(rows) <= 10 else 'more than 10'} accounts "
                         f"in snapshot {as_of}: {listed}; give the account id")
    _not_found(con, account, as_of)
    raise AssertionError("unreachable")


def _not_found(con: duckdb.DuckDBPyConnection, account: str, as_of: dt.date) -> None:
    """Raise InputMissingError: elsewhere in history, or with the closest ids and names."""
    seen = con.execute(
        "SELECT min(as_of), max(as_of), count(*) FROM scores "
        "WHERE account_id = ? OR lower(account_name) = lower(?)", [account, account]).fetchone()
    if seen and seen[2]:
        raise InputMissingError(f"account '{account}' is not in snapshot {as_of} "
                                f"(it was scored from {seen[0]} to {seen[1]}; try --as-of {seen[1]})")
    hint = suggest(con, account, as_of)
    tail = f"; did you mean: {', '.join(hint)}?" if hint else ""
    raise InputMissingError(f"no account '{account}' in snapshot {as_of} (by id or name){tail}")


def suggest(con: duckdb.DuckDBPyConnection, account: str, as_of: dt.date) -> list[str]:
    """Close ids and names: SQL ranks every account once, difflib orders a short list."""
    query = account.lower()
    rows = con.execute(
        """SELECT account_id, account_name,
                  greatest(jaro_winkler_similarity(lower(account_id), $q),
                           coalesce(jaro_winkler_similarity(lower(account_name), $q), 0),
                           CASE WHEN contains(lower(coalesce(account_name, '')), $q)
                                  OR contains(lower(account_id), $q) THEN 0.95 ELSE 0 END) AS similarity
           FROM scores WHERE as_of = $as_of
           ORDER BY similarity DESC, account_id LIMIT $n""",
        {"q": query, "as_of": as_of, "n": CANDIDATES}).fetchall()
    labels = {}
    for account_id, name, similarity in rows:
        if similarity < 0.7:
            continue
        label = f"{account_id} ({name})" if name and name != account_id else account_id
        labels[account_id.lower()] = label
        if name:
            labels.setdefault(name.lower(), label)
    picked = difflib.get_close_matches(query, list(labels), n=SUGGESTIONS, cutoff=0.5)
    # Substring hits ("acme" for "Acme Corp") are good suggestions difflib may rank low.
    picked += [k for k in labels if query in k and k not in picked]
    out: list[str] = []
    for key in picked:
        if labels[key] not in out:
            out.append(labels[key])
    return out[:SUGGESTIONS]
