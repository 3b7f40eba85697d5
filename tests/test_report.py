"""`chs report`: a self-contained HTML review whose numbers are the stored snapshot's.

A tiny project (8 accounts, usage that changes week to week) is scored for three weekly
dates in a subprocess; the report is then rendered and checked against scores.parquet.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

DATES = ["2026-01-01", "2026-01-08", "2026-01-15"]
EVIL = "<script>alert(1)</script>"

CONFIG = """\
version: 1
name: report-test
storage: {database: chs.duckdb, output_dir: out}
accounts: {source: accounts, id: account_id, name: account_name, owner: csm_email, segment: tier}
sources:
  accounts: {path: data/accounts.csv}
  usage: {path: data/usage.csv, account: account_id, time: event_time}
  nps: {path: data/nps.csv, account: account_id, time: responded_at}
variables:
  active_users_30d: {source: usage, agg: count_distinct, column: user_id, window: 30d}
  seats: {source: accounts, column: seats}
  seat_use: {expr: "active_users_30d / nullif(seats, 0)"}
  nps: {source: nps, agg: nps, column: score, window: 365d}
  mrr: {source: accounts, column: mrr}
  days_to_renewal: {source: accounts, expr: "date_diff('day', as_of, contract_end)"}
score:
  bands: {green: 70, yellow: 40, red: 0}
  tree:
    usage: {weight: 50, variable: seat_use, scale: {thresholds: [[0, 0], [1, 100]]}}
    loyalty: {weight: 30, variable: nps, scale: {thresholds: [[-100, 0], [100, 100]]}}
    value:
      weight: 20
      children:
        volume: {weight: 50, variable: mrr, scale: {percentile: {}}}
        renewal: {weight: 50, variable: days_to_renewal, scale: {thresholds: [[0, 0], [365, 100]]}}
"""

ACCOUNTS = [  # id, name, owner, tier, mrr, seats, contract_end
    ("A1", "Alpha GmbH", "anna@example.com", "enterprise", 9000, 10, "2026-03-01"),
    ("A2", EVIL, "bert@example.com", "smb", 300, 4, "2026-06-30"),
    ("A3", "Gamma & Söhne", "anna@example.com", "smb", 450, 5, "2026-12-31"),
    ("A4", "Delta Ltd", "carl@example.com", "mid", 2000, 8, "2026-02-01"),
    ("A5", "Epsilon SA", "bert@example.com", "mid", 1200, 6, "2026-09-30"),
    ("A6", "Zeta Oy", "carl@example.com", "smb", 150, 2, "2026-04-15"),
    ("A7", "Eta AB", "anna@example.com", "enterprise", 7000, 20, "2027-01-31"),
    ("A8", "Theta BV", "dora@example.com", "smb", 90, 3, "2026-01-20"),
]
# Active users per account in the 30 days before each date: accounts rise, fall, switch band.
USERS = {
    "A1": [9, 5, 2], "A2": [1, 2, 4], "A3": [5, 5, 5], "A4": [2, 6, 8],
    "A5": [6, 3, 1], "A6": [2, 2, 0], "A7": [18, 18, 17], "A8": [0, 1, 3],
}
NPS = [("A1", "2025-11-01", 10), ("A1", "2025-12-01", 3), ("A3", "2025-10-10", 9), ("A5", "2025-12-20", 2),
       ("A7", "2025-09-01", 9), ("A7", "2025-12-28", 10), ("A4", "2025-12-30", 7)]


def write_project(root: Path) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    (root / "chs.yaml").write_text(CONFIG)
    lines = ["account_id,account_name,csm_email,tier,mrr,seats,contract_end"]
    for row in ACCOUNTS:
        name = '"' + row[1].replace('"', '""') + '"'
        lines.append(",".join([row[0], name, *map(str, row[2:])]))
    (data / "accounts.csv").write_text("\n".join(lines) + "\n")
    usage = ["account_id,event_time,user_id"]
    for account, counts in USERS.items():
        for date, n in zip(DATES, counts, strict=True):
            day = dt.date.fromisoformat(date) - dt.timedelta(days=2)
            usage += [f"{account},{day}T10:00:00,{account}-u{date}-{k}" for k in range(n)]
    (data / "usage.csv").write_text("\n".join(usage) + "\n")
    (data / "nps.csv").write_text("account_id,responded_at,score\n"
                                  + "\n".join(f"{a},{d},{s}" for a, d, s in NPS) + "\n")
    return root / "chs.yaml"


def chs(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chs", "--config", str(config), *args], check=False,
                          capture_output=True, text=True, cwd=config.parent, timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scored project: three weekly snapshots; out/ holds the exports of the last one."""
    config = write_project(tmp_path_factory.mktemp("report"))
    done = chs(config, "score", "--from", DATES[0], "--to", DATES[-1], "--every", "7d")
    assert done.returncode == 0, done.stderr
    return config


@pytest.fixture(scope="module")
def report(project: Path) -> str:
    done = chs(project, "report")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path == project.parent / "out" / "report.html"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def scores(project: Path, report: str) -> pl.DataFrame:
    return pl.read_parquet(project.parent / "out" / "scores.parquet")


def section(text: str, ident: str) -> str:
    start = text.index(f'<section id="{ident}">')
    return text[start:text.index("</section>", start)]


def test_report_is_one_self_contained_file(report: str) -> None:
    lowered = report.lower()
    assert "<script" not in lowered  # the evil account name is escaped, see below
    assert "<link" not in lowered and "<iframe" not in lowered and "<img" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert "@import" not in lowered and "url(" not in lowered
    assert re.search(r"(src|href)=\"(?!#)", report) is None  # only in-page references
    assert "@media print" in report and "print-color-adjust: exact" in report
    assert "break-inside: avoid" in report
    assert "<svg" in report and len(report.encode()) < 500_000


def test_band_counts_and_average_equal_the_snapshot(report: str, scores: pl.DataFrame) -> None:
    headline = section(report, "headline")
    counts = dict(scores.group_by("band").len().iter_rows())
    for band in ("green", "yellow", "red"):
        pattern = rf'<tr data-band="{band}"><td>.*?</td><td class="n">([\d,]+)</td>'
        row = re.search(pattern, headline, re.DOTALL)
        assert row, band
        assert int(row.group(1).replace(",", "")) == counts.get(band, 0)
    avg = scores["score"].mean()
    assert f'<div class="v" id="avg-score">{avg:.1f}</div>' in headline
    at_risk = counts.get("red", 0)  # by default only the lowest band is at risk (report.at_risk_bands)
    assert f"At risk: {at_risk} accounts" in section(report, "at-risk")


def test_mrr_at_risk_and_changes_equal_the_snapshot(project: Path, report: str, scores: pl.DataFrame) -> None:
    mrr = pl.DataFrame({"account_id": [a[0] for a in ACCOUNTS], "mrr": [float(a[4]) for a in ACCOUNTS]})
    joined = scores.join(mrr, on="account_id")
    risk = joined.filter(pl.col("band").is_in(["red"]))["mrr"].sum()  # default: the lowest band only
    total = joined["mrr"].sum()
    assert f"{risk / total * 100:.1f}%" in section(report, "headline")
    assert f"{round(risk):,} of {round(total):,} MRR" in section(report, "headline")
    # With weekly snapshots, the change since the compared snapshot is the stored delta_7d.
    movers = section(report, "movers")
    moved = scores.filter(pl.col("delta_7d").is_not_null())
    worst = moved.sort(["delta_7d", "account_id"]).row(0, named=True)
    assert worst["delta_7d"] < 0
    assert f">{worst['delta_7d']:+.1f}<" in movers
    assert movers.index(worst["account_id"]) < movers.index("Largest gains")
    changed = scores.filter(pl.col("band") != pl.col("previous_score").map_elements(
        lambda s: "green" if s >= 70 else "yellow" if s >= 40 else "red", return_dtype=pl.String))
    assert f"Band changes ({changed.height})" in movers


def test_account_names_are_escaped(report: str) -> None:
    assert html.escape(EVIL, quote=False) in report  # &lt;script&gt;alert(1)&lt;/script&gt;
    assert EVIL not in report
    assert "Gamma &amp; Söhne" in report


def test_redact_replaces_names_and_owners_but_keeps_ids(project: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHS_REDACT_SALT", "a-test-key-of-32-characters-long")
    target = tmp_path / "redacted.html"
    done = chs(project, "report", "--redact", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    text = target.read_text(encoding="utf-8")
    for _, name, owner, *_ in ACCOUNTS:
        assert html.escape(name, quote=False) not in text and name not in text
        assert owner not in text
    assert "@example.com" not in text and "alert(1)" not in text
    assert re.search(r"Account [0-9a-f]{8}", text) and re.search(r"Owner [0-9a-f]{8}", text)
    assert "A1" in text
    again = tmp_path / "again.html"
    assert chs(project, "report", "--redact", "-o", str(again)).returncode == 0
    pseudonyms = sorted(set(re.findall(r"(?:Account|Owner) [0-9a-f]{8}", text)))
    assert pseudonyms == sorted(set(re.findall(r"(?:Account|Owner) [0-9a-f]{8}", again.read_text())))


def test_as_of_picks_an_older_snapshot_and_compares_with_since(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "old.html"
    done = chs(project, "report", "--as-of", "2026-01-10", "--since", "1w", "-o", str(target))
    assert done.returncode == 0, done.stderr
    text = target.read_text(encoding="utf-8")
    assert "Snapshot <strong>2026-01-08</strong> compared with <strong>2026-01-01</strong>" in text
    first = tmp_path / "first.html"
    assert chs(project, "report", "--as-of", DATES[0], "-o", str(first)).returncode == 0
    assert "nothing to compare with" in first.read_text(encoding="utf-8")


def test_errors_have_exit_codes(project: Path, tmp_path: Path) -> None:
    done = chs(project, "report", "--as-of", "2025-12-01", "-o", str(tmp_path / "x.html"))
    assert done.returncode == 2 and "no snapshot on or before 2025-12-01" in done.stderr
    done = chs(project, "report", "--since", "soon")
    assert done.returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "chs.yaml").write_text(CONFIG)
    done = chs(empty / "chs.yaml", "report")
    assert done.returncode == 66 and "chs score" in done.stderr
    assert not (empty / "out" / "report.html").exists()


def test_pseudonyms_are_stable_and_salted() -> None:
    from chs.report.redact import Pseudonyms
    a, b = Pseudonyms("salt1"), Pseudonyms("salt2")
    assert a.account("A1") == Pseudonyms("salt1").account("A1")
    assert a.account("A1") != b.account("A1") and a.account("A1") != a.account("A2")
    assert re.fullmatch(r"Owner [0-9a-f]{8}", a.owner("anna@example.com"))


def test_svg_escapes_band_names() -> None:
    from chs.report.model import make_bands
    from chs.report.svg import histogram
    bands = make_bands({"<b>good": 60, "bad": 0})
    svg = str(histogram([1] * 10, bands))
    assert "&lt;b&gt;good" in svg and "<b>" not in svg
    assert bands[0].colour == "#009E73" and bands[1].colour == "#D55E00" and bands[2].name == "unknown"
