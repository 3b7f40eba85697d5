"""Regression tests for the "data in" bugs of issue 12 (DESIGN 6.2): one bad cell rejects one
row, never the source; cp1252; offset-less survey times; header-only exports."""

from __future__ import annotations

from pathlib import Path

from tests.contract.conftest import base_config, leaves_tree, make_project, run_chs, score

ACCOUNTS = "account_id,account_name,owner\nA1,Alpha,x@y\nA2,Beta,x@y\n"


def _project(tmp_path: Path, sources: dict, variables: dict, files: dict[str, str]) -> Path:
    cfg = base_config(sources=sources, variables=variables, tree=leaves_tree(*variables))
    return make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS, **files})


def test_one_unparsable_date_rejects_only_its_row_not_the_glob(tmp_path: Path) -> None:
    # Before: the whole source (and the clean second file) was rejected, counts 0, exit 0.
    first = "account_id;day;n\n" + "".join(f"A1;{d:02d}.06.2024;1\n" for d in range(1, 10)) + "A1;3x.06.2024;1\n"
    second = "account_id;day;n\nA2;01.06.2024;1\nA2;15.06.2024;1\n"
    cfg = _project(tmp_path, {"t": {"path": "data/t_*.csv", "account": "account_id", "time": "day",
                                    "csv": {"delimiter": ";", "date_format": "%d.%m.%Y"}}},
                   {"rows": {"source": "t", "agg": "count", "window": "30d"}},
                   {"data/t_1.csv": first, "data/t_2.csv": second})
    run = score(cfg)
    assert run.raw("A1", "rows") == 9
    assert run.raw("A2", "rows") == 2
    src = run.run["sources"]["t"]
    assert src["rows"] == 11 and src["rejected"] == 1
    assert any("line 11" in s and "day" in s for s in src["reject_samples"]), src["reject_samples"]
    assert "1 rows could not be read" in run.proc.stderr


def test_one_text_cell_in_a_numeric_column_is_a_rejected_row(tmp_path: Path) -> None:
    # Before: the column became VARCHAR and `avg` failed the run (exit 65).
    rows = "".join(f"A1,2024-06-{d:02d},{d}\n" for d in range(1, 10)) + "A1,2024-06-10,n/a\nA2,2024-06-10,4.5\n"
    cfg = _project(tmp_path, {"s": {"path": "data/s.csv", "account": "account_id", "time": "day"}},
                   {"csat": {"source": "s", "agg": "avg", "column": "csat", "window": "30d"}},
                   {"data/s.csv": "account_id,day,csat\n" + rows})
    run = score(cfg)
    assert run.raw("A1", "csat") == 5.0  # (1+...+9)/9, the n/a row left out
    assert run.raw("A2", "csat") == 4.5
    src = run.run["sources"]["s"]
    assert src["rejected"] == 1
    assert any("csat" in s and "n/a" in s for s in src["reject_samples"]), src["reject_samples"]
    assert "warning: source s: 1 rows could not be read" in run.proc.stderr


def test_mostly_text_column_stays_text(tmp_path: Path) -> None:
    # 2 numbers of 4 cells: the column is text, nothing rejected; a numeric agg names the fix.
    rows = "A1,1\nA1,abc\nA1,def\nA2,2\n"
    cfg = _project(tmp_path, {"s": {"path": "data/s.csv", "account": "account_id"}},
                   {"total": {"source": "s", "agg": "sum", "column": "v"}},
                   {"data/s.csv": "account_id,v\n" + rows})
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode == 65
    assert "column 'v' is VARCHAR" in proc.stderr


def test_declared_type_rejects_the_cells_that_do_not_convert(tmp_path: Path) -> None:
    # Half text: inference keeps it text, `types:` says it is a number; bad rows rejected.
    rows = "A1,4\nA1,good\nA1,2\nA2,bad\n"
    cfg = _project(tmp_path, {"s": {"path": "data/s.csv", "account": "account_id", "types": {"csat": "DOUBLE"}}},
                   {"csat": {"source": "s", "agg": "avg", "column": "csat"}},
                   {"data/s.csv": "account_id,csat\n" + rows})
    run = score(cfg)
    assert run.raw("A1", "csat") == 3.0
    assert run.raw("A2", "csat") is None
    assert run.run["sources"]["s"]["rejected"] == 2


def test_cp1252_export_keeps_euro_and_quotes(tmp_path: Path) -> None:
    text = "sep=;\r\nkunde;notiz;betrag\r\nA1;Preis 5 \u20ac \u201eok\u201c \u2013 gut;1.234,50\r\nA2;x;10,00\r\n"
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "data" / "r.csv").write_bytes(text.encode("cp1252"))
    cfg = _project(tmp_path, {"r": {"path": "data/r.csv", "account": "kunde", "preset": "excel_de"}},
                   {"amount": {"source": "r", "agg": "sum", "column": "betrag"},
                    "euro": {"source": "r", "agg": "count", "where": "notiz = 'Preis 5 \u20ac \u201eok\u201c \u2013 gut'"}},
                   {})
    run = score(cfg)
    assert run.raw("A1", "amount") == 1234.5
    assert run.raw("A2", "amount") == 10.0
    assert run.raw("A1", "euro") == 1


def test_cp1252_encoding_option_without_preset(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "data" / "r.csv").write_bytes("account_id,note\nA1,\u20ac\nA1,\u2013\n".encode("cp1252"))
    cfg = _project(tmp_path, {"r": {"path": "data/r.csv", "account": "account_id", "csv": {"encoding": "cp1252"}}},
                   {"euros": {"source": "r", "agg": "count", "where": "note = '\u20ac'"}}, {})
    assert score(cfg).raw("A1", "euros") == 1


def test_latin1_on_a_cp1252_file_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "data" / "r.csv").write_bytes("account_id,note\nA1,\u20ac \u201e\n".encode("cp1252"))
    cfg = _project(tmp_path, {"r": {"path": "data/r.csv", "account": "account_id", "csv": {"encoding": "latin-1"}}},
                   {"n": {"source": "r", "agg": "count"}}, {})
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode == 65
    assert "cp1252" in proc.stderr


def test_header_only_export_counts_zero_rows(tmp_path: Path) -> None:
    cfg = _project(tmp_path, {"s": {"path": "data/s.csv", "account": "account_id", "time": "day"}},
                   {"n": {"source": "s", "agg": "count", "window": "30d"},
                    "csat": {"source": "s", "agg": "avg", "column": "csat", "window": "30d"}},
                   {"data/s.csv": "account_id,day,csat\n"})
    run = score(cfg)
    assert run.raw("A1", "n") == 0
    assert run.raw("A1", "csat") is None
    assert run.run["sources"]["s"]["rows"] == 0


QUALTRICS_HEAD = (
    'StartDate,EndDate,RecordedDate,ResponseId,ExternalReference,Q1\n'
    '"Start Date","End Date","Recorded Date","Response ID","External Data Reference",'
    '"How likely are you to recommend us?\nPlease answer 0-10."\n'
)


def _import_ids(zone: str | None) -> str:
    tz = f',""timeZone"":""{zone}""' if zone else ""
    return (f'"{{""ImportId"":""startDate""{tz}}}","{{""ImportId"":""endDate""{tz}}}",'
            f'"{{""ImportId"":""recordedDate""{tz}}}","{{""ImportId"":""_recordId""}}",'
            f'"{{""ImportId"":""externalDataReference""}}","{{""ImportId"":""QID1""}}"\n')


def test_qualtrics_times_use_the_import_id_zone(tmp_path: Path) -> None:
    # 2024-06-30 20:30 in Denver is 2024-07-01 02:30 UTC: not visible as of 2024-06-30.
    rows = ("2024-06-30 20:00:00,2024-06-30 20:30:00,2024-06-30 20:30:00,R_1,A1,9\n"
            "2024-06-30 10:00:00,2024-06-30 10:05:00,2024-06-30 10:05:00,R_2,A1,3\n")
    cfg = _project(tmp_path, {"q": {"path": "data/q.csv", "preset": "qualtrics", "account": "external_reference"}},
                   {"answers": {"source": "q", "agg": "count", "window": "1d"}},
                   {"data/q.csv": QUALTRICS_HEAD + _import_ids("America/Denver") + rows})
    run = score(cfg)
    assert run.raw("A1", "answers") == 1
    assert any("America/Denver" in n for n in run.run["sources"]["q"]["notes"])


def test_qualtrics_without_zone_requires_timezone(tmp_path: Path) -> None:
    rows = "2024-06-30 20:00:00,2024-06-30 20:30:00,2024-06-30 20:30:00,R_1,A1,9\n"
    files = {"data/q.csv": QUALTRICS_HEAD + _import_ids(None) + rows}
    cfg = _project(tmp_path, {"q": {"path": "data/q.csv", "preset": "qualtrics", "account": "external_reference"}},
                   {"answers": {"source": "q", "agg": "count", "window": "1d"}}, files)
    proc = run_chs(cfg, "score", "--as-of", "2024-06-30")
    assert proc.returncode == 78
    assert "set `timezone:`" in proc.stderr
    # With `timezone:` the local times are read in that zone.
    cfg = _project(tmp_path, {"q": {"path": "data/q.csv", "preset": "qualtrics", "account": "external_reference", "timezone": "Asia/Tokyo"}},
                   {"answers": {"source": "q", "agg": "count", "window": "1d"}}, files)
    assert score(cfg).raw("A1", "answers") == 1  # 20:30 Tokyo = 11:30 UTC the same day
