"""Churn outcomes and the labels a backtest compares scores with (DESIGN 6).

Events come from a source (rows: account, churn date) or from a column of the account list,
and land in the temp table `churn_events(account_id, churn_date)`, the first churn date per
account. A (snapshot D, account) pair is labelled for horizon H when D + H <= observed_until;
it is positive when the account churns in (D, D + H]; an account already gone on D (a
churn date on or before D) is left out. Only the label looks ahead, and only by H.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from chs.config import LoadedConfig
from chs.durations import Step
from chs.errors import ConfigError
from chs.sources import register_source, relation_name
from chs.sql import ident


@dataclass
class Outcomes:
    """What is known about churn: event counts, ids that match no account, the observed end."""

    events: int
    unknown_accounts: int
    unknown_samples: list[str] = field(default_factory=list)
    unreadable_dates: int = 0
    observed_until: dt.date | None = None

    def to_json(self) -> dict:
        return {"events": self.events, "unknown_accounts": self.unknown_accounts,
                "unknown_samples": self.unknown_samples, "unreadable_dates": self.unreadable_dates,
                "observed_until": self.observed_until.isoformat() if self.observed_until else None}


def require_outcomes(loaded: LoadedConfig) -> None:
    if loaded.config.outcomes is None:
        raise ConfigError([f"{loaded.path}:1: outcomes: this command needs an `outcomes:` section saying where "
                           f"churn events come from, e.g. `outcomes: {{churn: {{source: churns, date: churned_on}}}}` "
                           f"or `outcomes: {{churn: {{from_accounts: churned_at}}}}`"])


def load_outcomes(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> Outcomes:
    """Register what the outcomes need and build `churn_events`. Rows for unknown accounts are
    counted and reported, never fatal: exports of churn lists often hold test or merged ids."""
    require_outcomes(loaded)
    cfg = loaded.config
    churn = cfg.outcomes.churn  # type: ignore[union-attr]
    acc_rel = relation_name(cfg.accounts.source)
    if not _exists(con, acc_rel):
        register_source(con, loaded, cfg.accounts.source, cfg.accounts.id)
    if churn.source is not None:
        rel, column = relation_name(churn.source), churn.date
        if not _exists(con, rel):
            register_source(con, loaded, churn.source, cfg.sources[churn.source].account
                            if churn.source != cfg.accounts.source else cfg.accounts.id)
        what = f"source '{churn.source}'"
    else:
        rel, column = acc_rel, churn.from_accounts
        what = f"the accounts source '{cfg.accounts.source}'"
    columns = {r[0] for r in con.execute(f"DESCRIBE {ident(rel)}").fetchall()}
    if column not in columns:
        from chs.errors import DataError
        raise DataError(f"{cfg.sources[churn.source or cfg.accounts.source].path}: column '{column}' not found "
                        f"(outcomes.churn of {what}; columns: {', '.join(sorted(c for c in columns if not c.startswith('__')))})")
    day = f"TRY_CAST(e.{ident(column)} AS DATE)"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __churn_rows AS
        SELECT e.__account AS account_id, {day} AS churn_date,
               e.{ident(column)} IS NOT NULL AND {day} IS NULL AS unreadable
        FROM {ident(rel)} AS e WHERE e.__account IS NOT NULL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE churn_events AS
        SELECT account_id, min(churn_date) AS churn_date FROM __churn_rows
        WHERE churn_date IS NOT NULL AND account_id IN (SELECT __account FROM {ident(acc_rel)})
        GROUP BY account_id""")
    events, unreadable, latest = con.execute(
        "SELECT count(*) FILTER (WHERE churn_date IS NOT NULL), count(*) FILTER (WHERE unreadable), "
        "max(churn_date) FROM __churn_rows").fetchall()[0]
    unknown = con.execute(
        f"SELECT count(*), list(DISTINCT account_id ORDER BY account_id)[1:5] FROM __churn_rows "
        f"WHERE churn_date IS NOT NULL AND account_id NOT IN (SELECT __account FROM {ident(acc_rel)})").fetchall()[0]
    observed = cfg.outcomes.observed_until or latest  # type: ignore[union-attr]
    return Outcomes(events=int(events), unknown_accounts=int(unknown[0]), unknown_samples=list(unknown[1] or []),
                    unreadable_dates=int(unreadable), observed_until=observed)


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = $n", {"n": name}).fetchall()
    rows2 = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $n", {"n": name}).fetchall()
    return bool(rows[0][0] or rows2[0][0])


def labels_sql(snapshots: str, horizons: list[Step], observed_until: dt.date) -> str:
    """The snapshot table `snapshots` (as_of, account_id, ...) with one label column per horizon,
    `label_<i>`: true when the account churns in (D, D + H], false when it does not, NULL when
    D + H > observed_until (censored: the outcome is not known yet). Pairs of accounts already
    gone on D are left out."""
    observed = f"DATE '{observed_until.isoformat()}'"
    labels = []
    for i, step in enumerate(horizons):
        end = step.sql_add("t.as_of")
        labels.append(f"CASE WHEN {end} <= {observed} THEN coalesce(e.churn_date <= {end}, false) END AS label_{i}")
    return (f"SELECT t.*, {', '.join(labels)}\n"
            f"FROM {snapshots} AS t LEFT JOIN churn_events AS e ON e.account_id = t.account_id\n"
            f"WHERE e.churn_date IS NULL OR e.churn_date > t.as_of")
