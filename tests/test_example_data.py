"""The example company generator: determinism, shapes, export formats, churn, init."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from chs.example_data import DEFAULT_END, generate
from chs.init_project import InitError, bundled_config, init_project

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = 120
MONTHS = 18
SMALL = {"accounts": ACCOUNTS, "events_per_account_month": 30.0}
# DuckDB read_csv argument for each key of a source's `csv:` block in the config.
CSV_OPTION = {"delimiter": "delim", "decimal": "decimal_separator", "date_format": "dateformat",
              "encoding": "encoding"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("example") / "data"
    return out, generate(out, **SMALL)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _sql(folder: Path, query: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW accounts AS SELECT * FROM read_csv('{folder}/accounts.csv')")
    con.execute(f"CREATE VIEW usage AS SELECT * FROM read_parquet('{folder}/usage/*.parquet')")
    con.execute(f"CREATE VIEW churn AS SELECT * FROM read_csv('{folder}/churn.csv')")
    con.execute(f"CREATE VIEW invoices AS SELECT * FROM read_parquet('{folder}/invoices.parquet')")
    con.execute(f"CREATE VIEW nps AS SELECT * FROM read_csv('{folder}/nps.csv')")
    con.execute(
        f"CREATE VIEW tickets AS SELECT * FROM read_csv('{folder}/tickets.csv', delim=';', "
        "decimal_separator=',', dateformat='%d.%m.%Y', encoding='latin-1')"
    )
    return con.execute(query).fetchall()


def test_same_seed_gives_identical_files(data: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = data
    generate(tmp_path / "again", **SMALL)
    first, second = _files(folder), _files(tmp_path / "again")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_other_seed_gives_other_company(data: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = data
    generate(tmp_path / "other", seed=8, **SMALL)
    assert (folder / "accounts.csv").read_bytes() != (tmp_path / "other" / "accounts.csv").read_bytes()


def test_summary_matches_files(data: tuple[Path, dict]) -> None:
    folder, summary = data
    usage = [name for name in summary["files"] if name.startswith("usage/")]
    assert len(usage) == MONTHS
    assert usage[-1] == f"usage/usage-{DEFAULT_END:%Y-%m}.parquet"
    for name, info in summary["files"].items():
        assert info["bytes"] == (folder / name).stat().st_size > 0
    rows = {name: info["rows"] for name, info in summary["files"].items()}
    assert rows["accounts.csv"] == ACCOUNTS
    assert rows["users.csv"] >= ACCOUNTS
    counted = _sql(folder, "SELECT (SELECT count(*) FROM usage), (SELECT count(*) FROM tickets), "
                           "(SELECT count(*) FROM nps), (SELECT count(*) FROM invoices)")[0]
    assert counted == (summary["totals"]["usage_events"], rows["tickets.csv"], rows["nps.csv"],
                       rows["invoices.parquet"])
    assert all(count > 0 for count in counted)
    assert rows["invoices.parquet"] <= ACCOUNTS * MONTHS


def test_events_knob_scales_volume(data: tuple[Path, dict], tmp_path: Path) -> None:
    _, summary = data
    doubled = generate(tmp_path / "double", accounts=ACCOUNTS, events_per_account_month=60.0)
    ratio = doubled["totals"]["usage_events"] / summary["totals"]["usage_events"]
    assert 1.8 < ratio < 2.2


def test_keys_and_time_range(data: tuple[Path, dict]) -> None:
    folder, summary = data
    orphans = _sql(folder, """
        SELECT (SELECT count(*) FROM usage WHERE account_id NOT IN (SELECT account_id FROM accounts)),
               (SELECT count(*) FROM tickets WHERE org_id NOT IN (SELECT account_id FROM accounts)),
               (SELECT count(*) FROM nps WHERE account_id NOT IN (SELECT account_id FROM accounts))""")[0]
    assert orphans == (0, 0, 0)
    first, last = _sql(folder, "SELECT min(event_time), max(event_time) FROM usage")[0]
    assert dt.date.fromisoformat(summary["start"]) <= first.date() and last.date() <= DEFAULT_END
    # Events are never before the account became a customer.
    assert _sql(folder, "SELECT count(*) FROM usage JOIN accounts USING (account_id) "
                        "WHERE event_time::DATE < customer_since")[0][0] == 0
    # Active accounts renew in the future; ids look like a CRM's.
    assert _sql(folder, f"SELECT count(*) FROM accounts WHERE churned_at IS NULL "
                        f"AND contract_end <= DATE '{DEFAULT_END}'")[0][0] == 0
    assert _sql(folder, "SELECT bool_and(regexp_full_match(account_id, 'ACME-[0-9]{5}')) FROM accounts")[0][0]


def test_tickets_are_a_german_excel_export(data: tuple[Path, dict]) -> None:
    folder, _ = data
    raw = (folder / "tickets.csv").read_bytes()
    header, first_row = raw.split(b"\r\n")[:2]
    assert header.split(b";")[:4] == [b"Ticket-ID", b"org_id", b"created", b"Priority"]
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # latin-1 umlauts are not valid UTF-8
    text = raw.decode("latin-1")
    assert any(ch in text for ch in "äöüÄÖÜß")
    created, hours = first_row.decode("latin-1").split(";")[2], first_row.decode("latin-1").split(";")[6]
    assert dt.datetime.strptime(created, "%d.%m.%Y")
    assert "," in hours and "." not in hours

    # The example config's csv options are what DuckDB needs to read it.
    config = yaml.safe_load(bundled_config("example"))
    options = config["sources"]["tickets"]["csv"]
    args = ", ".join(f"{CSV_OPTION[key]}='{value}'" for key, value in options.items())
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_csv('{folder}/tickets.csv', {args})")
    types = dict(zip(rel.columns, [str(t) for t in rel.types]))
    assert types["created"] == "DATE"
    assert types["resolution_hours"] == "DOUBLE"
    assert types["csat"] == "BIGINT"
    subjects = {row[0] for row in rel.select("subject").fetchall()}
    assert subjects & {"Rückfrage zum Vertrag", "Störung der API-Schnittstelle", "Änderung der Rechnungsadresse",
                       "Softphone stürzt ab", "Schulung gewünscht", "Echo bei Gesprächen"}
    assert set(rel.select("category").distinct().fetchall()) >= {("complaint",), ("question",)}


def test_churners_stop_generating_activity(data: tuple[Path, dict]) -> None:
    folder, _ = data
    churned, matching = _sql(folder, """
        SELECT count(*), count(*) FILTER (WHERE a.churned_at = c.churn_date)
        FROM churn c JOIN accounts a USING (account_id)""")[0]
    assert churned > 0 and matching == churned
    assert _sql(folder, "SELECT count(*) FROM accounts WHERE churned_at IS NOT NULL")[0][0] == churned
    after = _sql(folder, """
        SELECT (SELECT count(*) FROM usage u JOIN churn c USING (account_id) WHERE u.event_time >= c.churn_date),
               (SELECT count(*) FROM tickets t JOIN churn c ON t.org_id = c.account_id WHERE t.created >= c.churn_date),
               (SELECT count(*) FROM nps n JOIN churn c USING (account_id) WHERE n.responded_at::DATE >= c.churn_date),
               (SELECT count(*) FROM invoices i JOIN churn c USING (account_id) WHERE i.issued_date >= c.churn_date)""")[0]
    assert after == (0, 0, 0, 0)
    # Churners had activity before they left, so there is something to predict from.
    assert _sql(folder, "SELECT count(DISTINCT account_id) FROM usage JOIN churn USING (account_id)")[0][0] > 0


def test_nps_and_invoice_formats(data: tuple[Path, dict]) -> None:
    folder, _ = data
    line = (folder / "nps.csv").read_text().splitlines()[1]
    assert line.split(",")[2].endswith("Z") and "T" in line.split(",")[2]
    low, high = _sql(folder, "SELECT min(score), max(score) FROM nps")[0]
    assert 0 <= low and high <= 10
    unpaid, wrong = _sql(folder, "SELECT count(*) FILTER (WHERE paid_date IS NULL), "
                                 "count(*) FILTER (WHERE due_date <= issued_date) FROM invoices")[0]
    assert unpaid > 0 and wrong == 0


def test_command_line_prints_summary(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chs.example_data", str(tmp_path / "cli"), "--accounts", "20",
         "--events-per-account-month", "5"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    summary = json.loads(out)
    assert summary["accounts"] == 20
    assert (tmp_path / "cli" / "accounts.csv").exists()


def test_invalid_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, accounts=0)


@pytest.mark.parametrize("name", ["example", "saas", "starter"])
def test_bundled_configs_point_at_generated_files(name: str, data: tuple[Path, dict]) -> None:
    folder, _ = data
    config = yaml.safe_load(bundled_config(name))
    assert config["version"] == 1
    assert config["storage"] == {"database": "chs.duckdb", "output_dir": "out"}
    assert config["accounts"]["end"] == "churned_at"
    for source in config["sources"].values():
        assert source["path"].startswith("data/")
        assert list(folder.parent.glob(source["path"])), source["path"]


@pytest.mark.parametrize("name", ["example", "saas"])
def test_repo_configs_are_links_to_the_bundled_ones(name: str) -> None:
    link = ROOT / "configs" / f"{name}.yaml"
    assert link.is_symlink()
    assert link.read_text() == bundled_config(name)


def test_init_writes_config_and_data_and_refuses_to_overwrite(tmp_path: Path) -> None:
    result = init_project(tmp_path, accounts=15)
    assert result["kind"] == "starter"
    assert (tmp_path / "chs.yaml").read_text() == bundled_config("starter")
    assert (tmp_path / "data" / "accounts.csv").exists()
    with pytest.raises(InitError, match="already exists"):
        init_project(tmp_path, example=True, accounts=15)
    assert (tmp_path / "chs.yaml").read_text() == bundled_config("starter")
    result = init_project(tmp_path, example=True, accounts=15, force=True)
    assert result["kind"] == "example"
    assert (tmp_path / "chs.yaml").read_text() == bundled_config("example")
    assert "data/tickets.csv" in result["files"]
