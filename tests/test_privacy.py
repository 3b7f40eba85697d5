"""Privacy: pseudonyms (HMAC-SHA256 in SQL = in Python), `--redact` on every command that
prints or writes names (byte scan of every output), the key's absence, `privacy.redact` as
the default, and `privacy.drop_columns`."""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from chs.config import load_config
from chs.init_project import init_project
from chs.privacy import SALT_ENV, Redactor

ROOT = Path(__file__).resolve().parents[1]
CHS = str(ROOT / ".venv" / "bin" / "chs")
KEY = "test-key-0123456789abcdef"


def run(folder: Path, *args: str, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (SALT_ENV, "CHS_CONFIG")}
    if key is not None:
        env[SALT_ENV] = key
    env["COLUMNS"] = "200"
    return subprocess.run([CHS, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- pseudonyms
def test_sql_pseudonyms_are_hmac_sha256_of_the_key() -> None:
    r = Redactor(KEY)
    con = duckdb.connect()
    values = ["ACME-00001", "Müller & Söhne GmbH", "x" * 300]
    got = con.execute(f"SELECT {r.account_sql('v')}, {r.owner_sql('v')} FROM unnest($v) AS t(v)",
                      {"v": values}).fetchall()
    for value, (account, owner) in zip(values, got):
        digest = hmac.new(KEY.encode(), b"account\0" + value.encode(), hashlib.sha256).hexdigest()
        assert account == f"Account {digest[:8]}" == r.account(value)
        digest = hmac.new(KEY.encode(), b"owner\0" + value.encode(), hashlib.sha256).hexdigest()
        assert owner == f"Owner {digest[:8]}" == r.owner(value)
    # A key longer than SHA-256's block is hashed first (RFC 2104), in SQL as in Python.
    long_key = "k" * 100
    (sql,) = con.execute(f"SELECT {Redactor(long_key).account_sql(chr(39) + 'A1' + chr(39))}").fetchall()[0]
    assert sql == "Account " + hmac.new(long_key.encode(), b"account\0A1", hashlib.sha256).hexdigest()[:8]
    assert Redactor("another-key-0123456").account("A1") != r.account("A1")


def test_free_text_loses_the_rows_own_name_and_owner() -> None:
    r = Redactor(KEY)
    con = duckdb.connect()
    rows = con.execute(r.wrap(con, "SELECT * FROM (VALUES ('A1', 'Acme', 'anna@acme.example', "
                                    "'Call Acme (anna@acme.example)', NULL), ('A2', NULL, NULL, 'no name', 'x'))"
                                    " AS t(account_id, account_name, owner, title, note)")).fetchall()
    owner = r.owner("anna@acme.example")
    assert rows[0] == ("A1", r.account("A1"), owner, f"Call {r.account('A1')} ({owner})", None)
    assert rows[1] == ("A2", None, None, "no name", "x")


# ---------------------------------------------------------------- the example, redacted
@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("private")
    init_project(folder, example="telecom", accounts=80)
    return folder


def _secrets(folder: Path) -> list[str]:
    with open(folder / "data" / "accounts.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    values = {r["account_name"] for r in rows} | {r["csm_email"] for r in rows}
    assert len(values) > 50
    # Each as written raw, in JSON without ensure_ascii off, and HTML-escaped.
    return sorted({v2 for v in values for v2 in (v, json.dumps(v)[1:-1], html.escape(v, quote=False))})


def test_no_name_or_owner_in_any_output_byte(example: Path) -> None:
    secrets = _secrets(example)
    runs = [
        run(example, "score", "--from", "2026-10-23", "--to", "2026-11-20", "--every", "7d", "--redact"),
        run(example, "scores", "--redact", "--format", "csv"),
        run(example, "scores", "--redact", "--format", "json"),
        run(example, "scores", "--redact", "--format", "table"),
        run(example, "actions", "--redact", "--status", "all", "--format", "csv"),
        run(example, "actions", "--redact", "--status", "all", "--format", "json"),
        run(example, "actions", "--redact", "--status", "all", "--format", "table"),
        run(example, "report", "--redact", "--json"),
    ]
    scored = json.loads(runs[2].stdout)
    assert len(scored) > 40
    for account in [s["account_id"] for s in scored[:5]]:
        runs.append(run(example, "explain", account, "--redact"))
        runs.append(run(example, "explain", account, "--redact", "--json"))
    for done in runs:
        assert done.returncode == 0, (done.args, done.stderr)
    actions = json.loads(runs[5].stdout)
    assert actions, "the example creates actions over four weekly snapshots"
    assert all(a["title"] and a["account_name"].startswith("Account ") for a in actions)
    # the rule titles embed the name: the pseudonym stands there instead
    assert any(a["account_name"] in a["title"] for a in actions)
    blobs = {f"{d.args[1:]} stdout": d.stdout.encode() for d in runs}
    blobs.update({f"{d.args[1:]} stderr": d.stderr.encode() for d in runs})
    files = [p for p in (example / "out").rglob("*") if p.is_file()]
    assert {"scores.csv", "scores.parquet", "drivers.parquet", "actions.csv", "actions.jsonl", "run.json",
            "report.html"} <= {p.name for p in files}
    blobs.update({str(p): p.read_bytes() for p in files})
    leaks = [(where, s) for where, blob in blobs.items() for s in secrets if s.encode() in blob]
    assert leaks == []
    # The same account has the same pseudonym in every output and in the next run.
    expected = Redactor(KEY).account(scored[0]["account_id"])
    assert scored[0]["account_name"] == expected
    assert expected.encode() in (example / "out" / "scores.csv").read_bytes()
    assert expected in run(example, "scores", "--redact", "--format", "json").stdout


def test_without_redaction_the_names_are_there(tmp_path: Path) -> None:
    # Its own project: under xdist this test may run on a worker that never scored `example`.
    example = tmp_path
    init_project(example, example="telecom", accounts=30)
    scored = run(example, "score", "--as-of", "2026-11-20", key=None)
    assert scored.returncode == 0, scored.stderr
    done = run(example, "scores", "--format", "csv", key=None)
    assert done.returncode == 0, done.stderr
    with open(example / "data" / "accounts.csv", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert first["csm_email"] in done.stdout


def test_redaction_without_the_key_is_a_config_error(example: Path) -> None:
    for args in (["scores", "--redact"], ["report", "--redact"], ["actions", "--redact"],
                 ["explain", "ACME-00001", "--redact"], ["score", "--as-of", "2026-11-20", "--redact"]):
        done = run(example, *args, key=None)
        assert done.returncode == 78, (args, done.stderr)
        assert "CHS_REDACT_SALT is not set" in done.stderr
    done = run(example, "scores", "--redact", key="short")
    assert done.returncode == 78 and "has only 5 characters" in done.stderr


def test_privacy_redact_is_the_default_and_no_redact_overrides(example: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((example / "chs.yaml").read_text())
    config["privacy"] = {"redact": True}
    config["storage"] = {"database": str(example / "chs.duckdb"), "output_dir": str(tmp_path / "out")}
    config["sources"] = {n: {**s, "path": str(example / s["path"])} for n, s in config["sources"].items()}
    path = tmp_path / "chs.yaml"
    path.write_text(yaml.safe_dump(config))
    done = run(tmp_path, "--config", str(path), "score", "--as-of", "2026-11-20", "--no-redact", key=None)
    assert done.returncode == 0, done.stderr
    done = run(tmp_path, "--config", str(path), "scores", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert all(r["account_name"].startswith("Account ") for r in json.loads(done.stdout))
    done = run(tmp_path, "--config", str(path), "scores", "--format", "json", key=None)
    assert done.returncode == 78 and "chs.yaml:" in done.stderr and "privacy.redact" in done.stderr
    done = run(tmp_path, "--config", str(path), "scores", "--format", "json", "--no-redact", key=None)
    assert done.returncode == 0, done.stderr
    assert not json.loads(done.stdout)[0]["account_name"].startswith("Account ")


# ---------------------------------------------------------------- drop_columns
def _dropping(tmp_path: Path, drop: list[str]) -> Path:
    folder = tmp_path / "dropped"
    init_project(folder, example="telecom", accounts=30)
    config = yaml.safe_load((folder / "chs.yaml").read_text())
    config["privacy"] = {"drop_columns": drop}
    (folder / "chs.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def test_dropped_columns_never_reach_the_database_or_outputs(tmp_path: Path) -> None:
    folder = _dropping(tmp_path, ["account_name", "industry"])
    done = run(folder, "score", "--as-of", "2026-11-20", key=None)
    assert done.returncode == 0, done.stderr
    names = {r["account_name"] for r in csv.DictReader(open(folder / "data" / "accounts.csv", encoding="utf-8"))}
    industries = {r["industry"] for r in csv.DictReader(open(folder / "data" / "accounts.csv", encoding="utf-8"))}
    blob = (folder / "chs.duckdb").read_bytes() + b"".join(
        p.read_bytes() for p in (folder / "out").rglob("*") if p.is_file())
    assert [n for n in names if n.encode() in blob] == []
    assert [i for i in industries if i.encode() in blob] == []
    con = duckdb.connect(str(folder / "chs.duckdb"), read_only=True)
    (total, named, owned), = con.execute("SELECT count(*), count(account_name), count(owner) FROM scores").fetchall()
    assert total > 15 and named == 0 and owned == total  # the name is NULL, the owner still routes actions


def test_drop_columns_are_checked(tmp_path: Path) -> None:
    folder = _dropping(tmp_path, ["nope", "account_id"])
    done = run(folder, "validate", key=None)
    assert done.returncode == 78, done.stderr
    assert "privacy.drop_columns.0: the account list (accounts) has no column 'nope'" in done.stderr
    assert "'account_id' is accounts.id, which scoring needs" in done.stderr


def test_privacy_keys_load(tmp_path: Path) -> None:
    folder = _dropping(tmp_path, ["industry"])
    loaded = load_config(folder / "chs.yaml")
    assert loaded.config.privacy.drop_columns == ["industry"] and loaded.config.privacy.redact is False
