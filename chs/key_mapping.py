"""Do a source's account keys name accounts? (DESIGN 6.2)

A help desk keys tickets by its own organisation id, billing by a customer id: keyed like
that, no row matches an account, every ticket count is 0 and the run looks fine. Per source
(not the account list) this counts the distinct keys that match no account, samples them for
run.json and warns when fewer than `MIN_MATCH` of the keys match. With `account: {column,
via}` the key was mapped through a column of the account list (chs.readers.load adds the
mapped key); the keys the mapping did not find are counted the same way.
"""

from __future__ import annotations

import duckdb

from chs.config import LoadedConfig
from chs.sql import ident

MIN_MATCH = 0.5
SAMPLES = 5


def check_key_match(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, name: str, info: object,
                    acc: object, counted: str | None = None) -> None:
    """Fill `info.unmatched` and, below MIN_MATCH, a warning on `info` (a SourceInfo).

    `counted`: a table of (`__key`, `__rows`), the run's own aggregate of the source (chs
    score): its keys are those of the rows the run reads, and checking them costs no pass
    over the export. Without it (validate), every row of the export is read."""
    src = loaded.config.sources[name]
    column = src.account_column
    if column is None:
        return
    relation = ident(info.relation)  # type: ignore[attr-defined]
    if src.account_via is not None:
        keys = (f"SELECT CAST({ident(column)} AS VARCHAR) AS k, count(*) AS n, bool_or(__account IS NOT NULL) AS ok "
                f"FROM {relation} WHERE {ident(column)} IS NOT NULL GROUP BY 1")
    else:
        accounts = ident(acc.relation)  # type: ignore[attr-defined]
        # Group on the export's own key type (a BIGINT groups far faster than its text: this
        # reads every row of the source) and compare as text only the distinct keys.
        native = info.key_type == acc.key_type  # type: ignore[attr-defined]
        a_key, on = ("__key", "s.k = a.k") if native else ("__account", "CAST(s.k AS VARCHAR) = a.k")
        per_key = (f"SELECT __key AS k, __rows AS n FROM {ident(counted)} WHERE __key IS NOT NULL" if counted else
                   f"SELECT __key AS k, count(*) AS n FROM {relation} WHERE __key IS NOT NULL GROUP BY 1")
        # The account list holds each key once (chs.sources.check_accounts): no DISTINCT.
        keys = (f"SELECT CAST(s.k AS VARCHAR) AS k, s.n, a.k IS NOT NULL AS ok FROM ({per_key}) AS s "
                f"LEFT JOIN (SELECT {a_key} AS k FROM {accounts} WHERE {a_key} IS NOT NULL) AS a ON {on}")
    total, bad_keys, bad_rows, samples = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT ok), coalesce(sum(n) FILTER (WHERE NOT ok), 0), "
        f"list(k ORDER BY n DESC, k) FILTER (WHERE NOT ok)[1:{SAMPLES}] FROM ({keys})").fetchall()[0]
    if not bad_keys:
        return
    rate = (total - bad_keys) / total
    good: list[str] | None = None
    if rate < MIN_MATCH:
        # Matched samples only for the warning: ordering a million matched keys to show three
        # cost 0.6 s a source at 1M accounts on every run that had nothing to report.
        good = con.execute(f"SELECT list(k ORDER BY k)[1:3] FROM ({keys}) WHERE ok").fetchall()[0][0]
    info.unmatched = {"keys": int(bad_keys), "rows": int(bad_rows), "samples": list(samples or [])}  # type: ignore[attr-defined]
    via = f" (mapped via accounts column '{src.account_via}')" if src.account_via else ""
    shown = ", ".join(repr(s) for s in (samples or [])[:3])
    if rate < MIN_MATCH:
        hint = ("is the key the right column? map another system's ids with "
                "`account: {column: ..., via: <accounts column>}`") if not src.account_via else \
            f"check that accounts column '{src.account_via}' holds these ids"
        matched = ", ".join(repr(s) for s in (good or []))
        info.warnings.append(  # type: ignore[attr-defined]
            f"only {rate:.0%} of the account keys in column '{column}'{via} match an account "
            f"({total - bad_keys} of {total}; {bad_rows} rows left out; unmatched e.g. {shown}"
            f"{'; matched e.g. ' + matched if matched else ''}): {hint}")
    elif src.account_via:
        info.warnings.append(  # type: ignore[attr-defined]
            f"{bad_keys} key(s) in column '{column}'{via} match no account ({bad_rows} rows left out; e.g. {shown})")
