"""`chs report` as the Monday review: what is at risk, revenue without name guessing, the new
sections (trend, backlog, renewals, churned/new accounts, per-CSM change, NPS) and print.

A hand-computable project: one weighted leaf, seat use = active users / 10 seats, so every
score is 10 × users; the other leaves (NPS, MRR, days to renewal) have weight 0 and are
only there for their raw values. 14 weekly snapshots, the last two differ:

    account owner  users 01-08 -> 01-15   score/band 01-08 -> 01-15   arr (€/year)  renewal (days at 01-15)
    B1      anna   8 -> 3                 80 green -> 30 red          120,000       30
    B2      anna   5 -> 5                 50 yellow -> 50 yellow       24,000       166
    B3      bert   6 -> 2                 60 yellow -> 20 red          60,000       10
    B4      bert   1 -> 1                 10 red -> 10 red             12,000       90
    B5      carl   3 -> 7                 30 red -> 70 green           36,000       > 90
    B6      carl   9 -> 6                 90 green -> 60 yellow        48,000       45
    B7      anna   4 -> 4                 40 yellow -> 40 yellow        6,000       -5 (past)
    B8      dora   2 -> (churned 01-10)   20 red -> –                  18,000
    B9      dora   – -> 9 (new 01-12)     – -> 90 green                30,000       > 90

Bands: green >= 65, yellow >= 35, red >= 0 (no score sits on a threshold).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_report import chs, section  # noqa: E402 - the CLI runner and HTML helper of test_report
from test_report_browser import chromium, decode_png, run_browser  # noqa: E402

AS_OF = dt.date(2026, 1, 15)
COMPARED = dt.date(2026, 1, 8)
DATES = [AS_OF - dt.timedelta(days=7 * k) for k in range(13, -1, -1)]  # 2025-10-16 .. 2026-01-15
LONG = "customer-success.example.com"
OWNERS = {"anna": f"anna.lange-schmidt@{LONG}", "bert": f"bert.oberhuber-maier@{LONG}",
          "carl": f"carl.vandenberghe@{LONG}", "dora": f"dora.kowalczyk-nowak@{LONG}"}
ACCOUNTS = [  # id, name, owner, arr (yearly), mrr column (for the name fallback), contract_end, since, churned
    ("B1", "Bravo Maschinenbau Aktiengesellschaft", "anna", 120000, 700, "2026-02-14", "2024-01-01", ""),
    ("B2", "Bravo Two Logistics", "anna", 24000, 200, "2026-06-30", "2024-01-01", ""),
    ("B3", "Bravo Three Retail", "bert", 60000, 300, "2026-01-25", "2024-01-01", ""),
    ("B4", "Bravo Four Foods", "bert", 12000, 100, "2026-04-15", "2024-01-01", ""),
    ("B5", "Bravo Five Energy", "carl", 36000, 400, "2026-12-31", "2024-01-01", ""),
    ("B6", "Bravo Six Telecom", "carl", 48000, 600, "2026-03-01", "2024-01-01", ""),
    ("B7", "Bravo Seven Media", "anna", 6000, 50, "2026-01-10", "2024-01-01", ""),
    ("B8", "Bravo Eight Gone", "dora", 18000, 80, "2026-05-01", "2024-01-01", "2026-01-10"),
    ("B9", "Bravo Nine Newcomer", "dora", 30000, 900, "2027-01-12", "2026-01-12", ""),
]
USERS = {"B1": (8, 3), "B2": (5, 5), "B3": (6, 2), "B4": (1, 1), "B5": (3, 7), "B6": (9, 6),
         "B7": (4, 4), "B8": (2, 0), "B9": (9, 9)}  # (every snapshot up to 01-08, at 01-15)
NPS = [("B1", "2025-09-01", 10), ("B5", "2025-09-01", 8), ("B3", "2025-12-20", 0)]  # +100, 0, -100


def config(accounts_extra: str = "revenue: arr, revenue_unit: year", report: str = "{currency: EUR}") -> str:
    return f"""\
version: 1
name: review-test
storage: {{database: chs.duckdb, output_dir: out}}
accounts: {{source: accounts, id: account_id, name: account_name, owner: csm_email, segment: tier,
           start: customer_since, end: churned_at{', ' + accounts_extra if accounts_extra else ''}}}
sources:
  accounts: {{path: data/accounts.csv}}
  usage: {{path: data/usage.csv, account: account_id, time: event_time}}
  nps: {{path: data/nps.csv, account: account_id, time: responded_at}}
variables:
  active_users_7d: {{source: usage, agg: count_distinct, column: user_id, window: 7d}}
  seats: {{source: accounts, column: seats}}
  seat_use: {{expr: "active_users_7d / nullif(seats, 0)"}}
  nps: {{source: nps, agg: nps, column: score, window: 365d}}
  mrr: {{source: accounts, column: mrr}}
  days_to_renewal: {{source: accounts, expr: "date_diff('day', as_of, contract_end)"}}
score:
  bands: {{green: 65, yellow: 35, red: 0}}
  tree:
    usage: {{weight: 100, variable: seat_use, scale: {{thresholds: [[0, 0], [1, 100]]}}}}
    loyalty: {{weight: 0, variable: nps, scale: {{thresholds: [[-100, 0], [100, 100]]}}}}
    volume: {{weight: 0, variable: mrr, scale: {{thresholds: [[0, 0], [1000, 100]]}}}}
    renewal: {{weight: 0, variable: days_to_renewal, scale: {{thresholds: [[0, 0], [365, 100]]}}}}
report: {report}
"""


def write_review_project(root: Path) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    (root / "chs.yaml").write_text(config())
    lines = ["account_id,account_name,csm_email,tier,arr,mrr,seats,contract_end,customer_since,churned_at"]
    for aid, name, owner, arr, mrr, end, since, churned in ACCOUNTS:
        lines.append(f"{aid},{name},{OWNERS[owner]},smb,{arr},{mrr},10,{end},{since},{churned}")
    (data / "accounts.csv").write_text("\n".join(lines) + "\n")
    usage = ["account_id,event_time,user_id"]
    for account, (before, last) in USERS.items():
        for date in DATES:
            n = last if date == AS_OF else before
            day = date - dt.timedelta(days=1)  # inside this snapshot's 7-day window only
            usage += [f"{account},{day}T10:00:00,{account}-{date}-{k}" for k in range(n)]
    (data / "usage.csv").write_text("\n".join(usage) + "\n")
    (data / "nps.csv").write_text("account_id,responded_at,score\n"
                                  + "\n".join(f"{a},{d},{s}" for a, d, s in NPS) + "\n")
    return root / "chs.yaml"


ACTIONS = [  # id, account, owner, created, due, status: the backlog at 01-15 is hand-counted
    (1, "B1", "anna", "2026-01-01", "2026-01-10", "open"),     # anna: open, overdue
    (2, "B1", "anna", "2026-01-08", "2026-01-20", "open"),     # anna: open, not yet due
    (3, "B2", "anna", "2026-01-08", "2026-01-15", "open"),     # anna: due on as_of is not overdue
    (4, "B2", "anna", "2025-12-01", "2026-01-01", "done"),     # closed: not in the backlog
    (5, "B3", "bert", "2026-01-08", "2026-01-14", "open"),     # bert: open, overdue
    (6, "B4", "bert", "2026-01-08", "2026-01-09", "dismissed"),
    (7, "B5", None, "2026-01-01", "2026-01-02", "open"),       # no owner: open, overdue
    (8, "B6", "carl", "2026-01-20", "2026-01-21", "open"),     # created after as_of: not counted
]


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scored project (14 weekly snapshots) with a hand-made action history."""
    cfg = write_review_project(tmp_path_factory.mktemp("review"))
    done = chs(cfg, "score", "--from", str(DATES[0]), "--to", str(DATES[-1]), "--every", "7d")
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(cfg.parent / "chs.duckdb"))
    try:
        con.execute("DELETE FROM actions")
        con.executemany(
            "INSERT INTO actions (action_id, rule, account_id, owner, created_as_of, due_date, status) "
            "VALUES (?, 'call', ?, ?, ?, ?, ?)",
            [(i, a, OWNERS[o] if o else None, c, d, s) for i, a, o, c, d, s in ACTIONS])
    finally:
        con.close()
    return cfg


def build(cfg: Path, text: str | None = None, **options):
    """The report model for the project, with the config `text` (default: the scored one)."""
    from chs.config import load_config
    from chs.db import connect
    from chs.report import ReportOptions, build_report

    path = cfg
    if text is not None:
        path = cfg.parent / f"variant-{abs(hash(text))}.yaml"
        path.write_text(text)
    loaded = load_config(str(path))
    settings = loaded.config.report
    risk = tuple(settings.at_risk_bands) if settings.at_risk_bands is not None else None
    opts = ReportOptions(bands=dict(loaded.config.score.bands), name=loaded.config.name,
                         at_risk_bands=risk, currency=settings.currency, **options)
    con = connect(loaded.database, read_only=True)
    try:
        return build_report(con, opts, loaded.digest, loaded)
    finally:
        con.close()


@pytest.fixture(scope="module")
def model(review: Path):
    return build(review)


def ids(rows) -> list[str]:
    return [r.account_id for r in rows]


def test_snapshot_scores_are_as_designed(model) -> None:
    # The table in the module docstring, as the report sees it: 10 × users, 8 accounts each.
    assert model.header.as_of == AS_OF and model.header.compared == COMPARED
    assert {t.band.name: t.accounts for t in model.headline.bands} == {"green": 2, "yellow": 3, "red": 3}
    assert model.headline.avg_score == pytest.approx(370 / 8)
    assert model.headline.prev_avg_score == pytest.approx(380 / 8)


def test_default_at_risk_is_the_lowest_band_only(model) -> None:
    assert [b.name for b in model.bands if b.at_risk] == ["red"]
    assert model.headline.at_risk_accounts == 3  # B1, B3, B4
    assert model.at_risk.total == 3
    # Revenue from accounts.revenue (arr, yearly): / 12. Red: 10,000 + 5,000 + 1,000 of 28,000.
    assert model.headline.mrr_at_risk == pytest.approx(16000)
    assert model.headline.mrr_total == pytest.approx(28000)
    assert model.headline.mrr_at_risk_share == pytest.approx(16000 / 28000)
    # Ranked by revenue × (100 − score): B1 700,000 > B3 400,000 > B4 90,000.
    assert ids(model.at_risk.rows) == ["B1", "B3", "B4"]
    assert [r.mrr for r in model.at_risk.rows] == pytest.approx([10000, 5000, 1000])
    assert model.warnings == []


def test_prev_at_risk_counts_the_compared_snapshot(model) -> None:
    assert model.headline.prev_at_risk_accounts == 3  # at 01-08 red: B4 (10), B5 (30), B8 (20)


def test_at_risk_bands_red_and_yellow_rank_red_first(review: Path) -> None:
    m = build(review, config(report="{currency: EUR, at_risk_bands: [red, yellow]}"))
    assert [b.name for b in m.bands if b.at_risk] == ["yellow", "red"]
    assert m.headline.at_risk_accounts == 6 and m.at_risk.total == 6
    assert m.headline.mrr_at_risk == pytest.approx(22500)  # + B2 2,000 + B6 4,000 + B7 500
    # Red before yellow although B6 (yellow, 4,000 × 40 = 160,000) outranks B4 (red, 90,000)
    # on revenue × (100 − score); within yellow: B6 160,000 > B2 100,000 > B7 30,000.
    assert ids(m.at_risk.rows) == ["B1", "B3", "B4", "B6", "B2", "B7"]


def test_unknown_band_name_is_a_config_error(review: Path) -> None:
    path = review.parent / "bad-band.yaml"
    path.write_text(config(report="{at_risk_bands: [purple]}"))
    done = chs(path, "report", "-o", str(review.parent / "bad.html"))
    assert done.returncode == 78, done.stderr
    assert "report.at_risk_bands" in done.stderr and "'purple'" in done.stderr
    from chs.errors import ConfigError  # the report checks it too when called as a library
    from chs.report.model import make_bands
    with pytest.raises(ConfigError, match="'purple' is not a band"):
        make_bands({"green": 65, "yellow": 35, "red": 0}, ["purple"])


def test_revenue_unit_month_is_not_divided(review: Path) -> None:
    m = build(review, config(accounts_extra="revenue: arr, revenue_unit: month"))
    assert m.headline.mrr_at_risk == pytest.approx(192000) and m.headline.mrr_total == pytest.approx(336000)
    assert m.warnings == []


def test_without_accounts_revenue_the_mrr_leaf_is_used_with_a_warning(review: Path) -> None:
    m = build(review, config(accounts_extra="", report="{}"))
    assert m.headline.has_mrr
    assert m.headline.mrr_at_risk == pytest.approx(700 + 300 + 100)  # the `mrr` column via the leaf
    assert m.headline.mrr_total == pytest.approx(3250)
    assert len(m.warnings) == 1 and "no accounts.revenue declared" in m.warnings[0]
    assert "volume" in m.warnings[0]
    # The CLI prints it to stderr and the page shows it.
    path = review.parent / "no-revenue.yaml"
    path.write_text(config(accounts_extra="", report="{}"))
    target = review.parent / "no-revenue.html"
    done = chs(path, "report", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert "warning: no accounts.revenue declared" in done.stderr
    assert 'id="warnings"' in target.read_text(encoding="utf-8")


def test_declared_revenue_is_not_guessed_from_names(review: Path, model) -> None:
    # accounts.revenue is declared: the `mrr` leaf (700 for B1) is not used, arr / 12 is.
    assert model.at_risk.rows[0].mrr == pytest.approx(10000)
    assert "column 'arr'" in model.revenue_note and "12" in model.revenue_note
    done = chs(review, "report", "-o", str(review.parent / "declared.html"))
    assert done.returncode == 0 and "warning" not in done.stderr


def test_missing_revenue_column_is_a_data_error(review: Path) -> None:
    path = review.parent / "bad-column.yaml"
    path.write_text(config(accounts_extra="revenue: annual_value"))
    done = chs(path, "report", "-o", str(review.parent / "bad-column.html"))
    assert done.returncode == 65 and "'annual_value' not found" in done.stderr


def test_band_changes_worst_first(model) -> None:
    # B1 two bands down; B3 (-40) and B6 (-30) one band down; B5 two bands up.
    assert ids(model.movers.band_changes) == ["B1", "B3", "B6", "B5"]
    assert model.movers.band_changes_total == 4


def test_backlog_counts_open_and_overdue(model) -> None:
    bl = model.backlog
    assert bl.available and (bl.open, bl.overdue) == (5, 3)
    rows = [(r.owner, r.open, r.overdue) for r in bl.rows]
    assert rows == [(OWNERS["anna"], 3, 1), (OWNERS["bert"], 1, 1), (None, 1, 1)]
    assert bl.rows[0].oldest_due == dt.date(2026, 1, 10)
    # The at-risk list counts B1's two open actions.
    assert model.at_risk.rows[0].open_actions == 2


def test_churned_and_new_accounts_by_name(model) -> None:
    ch = model.churn
    assert (ids(ch.churned), ch.churned_total) == (["B8"], 1)
    assert ch.churned[0].name == "Bravo Eight Gone" and ch.churned[0].score == pytest.approx(20)
    assert ch.churned_mrr == pytest.approx(1500)
    assert (ids(ch.new), ch.new_total) == (["B9"], 1)
    assert ch.new[0].name == "Bravo Nine Newcomer" and ch.new_mrr == pytest.approx(2500)


def test_per_owner_change(model) -> None:
    rows = {r.owner: r for r in model.owner_changes.rows}
    anna, bert, carl, dora = (rows[OWNERS[k]] for k in ("anna", "bert", "carl", "dora"))
    assert (anna.accounts, anna.prev_accounts, anna.worse, anna.dropped, anna.better) == (3, 3, 1, 1, 0)
    assert anna.avg_score == pytest.approx(40) and anna.prev_avg_score == pytest.approx(170 / 3)
    assert (bert.avg_score, bert.prev_avg_score, bert.worse) == (pytest.approx(15), pytest.approx(35), 1)
    assert (carl.change, carl.worse, carl.better, carl.dropped) == (pytest.approx(5), 1, 1, 1)
    assert (dora.accounts, dora.prev_accounts, dora.worse, dora.change) == (1, 1, 0, pytest.approx(70))
    # Most accounts worsened first, then the largest fall of the average.
    assert [r.owner for r in model.owner_changes.rows] == [OWNERS[k] for k in ("bert", "anna", "carl", "dora")]


def test_renewals_in_the_next_90_days(model) -> None:
    rn = model.renewals
    assert rn.available and rn.days == 90
    assert [(r.account_id, r.days_to_renewal) for r in rn.rows] == [("B3", 10), ("B1", 30), ("B6", 45), ("B4", 90)]
    assert [r.band.name for r in rn.rows] == ["red", "red", "yellow", "red"]
    assert rn.total == 4 and rn.mrr == pytest.approx(20000) and rn.mrr_at_risk == pytest.approx(16000)


def test_trend_has_up_to_12_points_with_average_and_nps(model) -> None:
    trend = model.trend
    assert len(trend) == 12  # 14 weekly snapshots, the last 12 periods
    assert [p.as_of for p in trend] == DATES[2:]
    assert trend[-1].avg_score == pytest.approx(370 / 8) and trend[0].avg_score == pytest.approx(380 / 8)
    assert trend[-1].counts[:3] == [2, 3, 3]
    # NPS: mean of per-account NPS. B1 +100 and B5 0 until B3's 0-score answer (-100) on 12-20.
    assert [p.nps for p in trend] == pytest.approx([50.0] * 8 + [0.0] * 4)
    assert [p.nps_accounts for p in trend] == [2] * 8 + [3] * 4
    assert model.has_nps_trend


def test_trend_of_an_early_snapshot_has_fewer_points(review: Path) -> None:
    early = build(review, as_of=DATES[3])
    assert [p.as_of for p in early.trend] == DATES[:4]
    assert early.header.compared == DATES[2]


@pytest.fixture(scope="module")
def html_report(review: Path) -> str:
    target = review.parent / "out" / "review.html"
    done = chs(review, "report", "-o", str(target))
    assert done.returncode == 0, done.stderr
    return target.read_text(encoding="utf-8")


def test_html_shows_the_new_sections(html_report: str) -> None:
    assert "<script" not in html_report.lower() and "http://" not in html_report and "https://" not in html_report
    assert re.search(r"(src|href)=\"(?!#)", html_report) is None
    headline = section(html_report, "headline")
    assert '<div class="v" id="at-risk-count">3</div>' in headline
    assert "57.1%" in headline and "16,000 of 28,000 EUR MRR" in headline
    assert "MRR (EUR)" in headline
    for ident in ("renewals", "churn", "owners", "actions", "distribution"):
        assert f'<section id="{ident}">' in html_report, ident
    assert "Bravo Eight Gone" in section(html_report, "churn") and "Bravo Nine Newcomer" in section(html_report, "churn")
    assert "mean of the accounts&#39; own NPS" in html_report or "mean of the accounts' own NPS" in html_report
    assert "5 open, 3 overdue" in section(html_report, "actions")


def test_print_and_narrow_screen_css(html_report: str) -> None:
    css = html_report[html_report.index("<style>"):html_report.index("</style>")]
    assert re.search(r"h1, h2, h3 \{ break-after: avoid;", css)
    assert "table { break-inside: auto; }" in css and re.search(r"tr, thead \{ break-inside: avoid; \}", css)
    assert "section { break-inside: avoid-page; }" not in css  # pushed whole sections to a new page
    assert re.search(r"\.scroll \{[^}]*overflow-x: auto", css)
    assert re.search(r"\.id \{[^}]*white-space: nowrap", css)
    assert html_report.count('<div class="scroll"><table') >= 8
    assert '<span class="muted id">B1</span>' in html_report


# ---- in a real browser ------------------------------------------------------------------------

def _pages(pdf: Path) -> int:
    info = shutil.which("pdfinfo")
    if info:
        out = subprocess.run([info, str(pdf)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE).group(1))
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


def test_print_to_pdf_has_no_near_empty_pages(review: Path, html_report: str, tmp_path: Path) -> None:
    page = review.parent / "out" / "review.html"
    pdf = tmp_path / "review.pdf"
    run_browser(page, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert pdf.exists() and pdf.stat().st_size > 10_000, "Chromium wrote no PDF"
    pages = _pages(pdf)
    # Measured 4 pages on A4/Letter; sections that were pushed whole onto new pages made more.
    assert 2 <= pages <= 6, pages
    text = shutil.which("pdftotext")
    if text:  # every page but the last carries a real amount of text
        for number in range(1, pages):
            out = subprocess.run([text, "-f", str(number), "-l", str(number), "-layout", str(pdf), "-"],
                                 capture_output=True, text=True, check=True).stdout
            lines = [line for line in out.splitlines() if line.strip()]
            assert len(lines) >= 25, f"page {number} is nearly empty ({len(lines)} lines)"


def test_800px_screen_does_not_scroll_sideways(review: Path, html_report: str, tmp_path: Path) -> None:
    chromium()  # skip (or fail with CHS_REQUIRE_BROWSER) before any work
    page = review.parent / "out" / "review.html"
    shot = tmp_path / "narrow.png"
    run_browser(page, tmp_path, f"--screenshot={shot}", "--window-size=800,3000", "--hide-scrollbars")
    pixels = decode_png(shot)
    assert pixels.shape[:2] == (3000, 800)
    assert (pixels < 245).any(axis=2).mean() > 0.02, "screenshot looks blank"
    # Measure the layout on a copy with a probe appended (the report itself has no scripts).
    probe = tmp_path / "probe.html"
    probe.write_text(html_report.replace(
        "</body>", '<script>document.body.setAttribute("data-probe", '
        'document.documentElement.scrollWidth + "x" + document.documentElement.clientWidth);</script></body>'),
        encoding="utf-8")
    dom = run_browser(probe, tmp_path, "--window-size=800,3000", "--hide-scrollbars", "--dump-dom").stdout
    found = re.search(r'data-probe="(\d+)x(\d+)"', dom)
    assert found, "the probe did not run"
    width, viewport = int(found.group(1)), int(found.group(2))
    assert width <= viewport, f"page is {width}px wide in a {viewport}px window"
