"""Per-run exports: written to a staging folder, then switched into `output_dir` as one set.

Layout (DESIGN 3: "replaced atomically: a crashed run leaves the previous files"):

    out/.set-<run>/scores.parquet ...     one folder per complete set of exports
    out/.current -> .set-<run>            the set in use (a relative symlink)
    out/scores.parquet -> .current/scores.parquet   (one stable link per file)

A run writes every file into `.staging-*`, renames that folder to `.set-<run>` and then
replaces `.current` by one atomic rename of a new symlink: the switch. Readers keep using
the documented paths (`out/scores.parquet`), which always resolve into one complete set; a
kill at any point leaves either the previous set or the new one, never a mix. Folders of a
killed run (`.staging-*`, a `.set-*` that `.current` does not name) are removed by the next
run. Outputs from before this layout (plain files) are first moved into a set of their own,
so even that one-time migration never shows a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from chs.errors import OutputError
from chs.sql import string

if TYPE_CHECKING:
    from chs.privacy import Redactor

CURRENT = ".current"
SET_PREFIX = ".set-"
STAGING_PREFIX = ".staging-"


def _fail(path: Path, exc: OSError, what: str = "cannot write outputs") -> OutputError:
    return OutputError(f"{path}: {what} ({exc.strerror or exc})")


def current_set(output_dir: Path) -> Path | None:
    """The folder `.current` names, or None (no run yet, or outputs from before sets)."""
    link = output_dir / CURRENT
    if not link.is_symlink():
        return None
    return output_dir / os.readlink(link)


def clean_stale(output_dir: Path) -> None:
    """Remove what killed runs left: staging folders and sets that `.current` does not name."""
    current = current_set(output_dir)
    try:
        entries = list(output_dir.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if current is not None and entry.name == current.name:
            continue
        if entry.name.startswith((STAGING_PREFIX, SET_PREFIX)) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f"{CURRENT}.tmp-") or entry.name.startswith(".link.tmp-"):
            entry.unlink(missing_ok=True)


def _symlink_replace(target: str, link: Path) -> None:
    """Point `link` at `target` in one step: a new symlink renamed over the old entry."""
    tmp = link.with_name(f".link.tmp-{uuid.uuid4().hex[:8]}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _link_target(name: str) -> str:
    return f"{CURRENT}/{name}"


def _migrate_plain_files(output_dir: Path, names: list[str]) -> None:
    """Outputs written before sets existed are plain files: move them into a set of their own
    (hard links, then `.current`, then each plain file replaced by its link), so every state
    on the way shows the same old files."""
    plain = [n for n in names if (output_dir / n).is_file() and not (output_dir / n).is_symlink()]
    if not plain or current_set(output_dir) is not None:
        return
    legacy = Path(tempfile.mkdtemp(prefix=SET_PREFIX + "previous-", dir=output_dir))
    for name in plain:
        os.link(output_dir / name, legacy / name)
    _symlink_replace(legacy.name, output_dir / CURRENT)
    for name in plain:
        _symlink_replace(_link_target(name), output_dir / name)


class Staging:
    """A temp folder inside output_dir (same filesystem, so renames are atomic)."""

    def __init__(self, output_dir: Path, redactor: Redactor | None = None):
        self.output_dir = output_dir
        # --redact / privacy.redact: names, owners and the names in free text are pseudonymised
        # in every file written through `copy` (chs/privacy.py).
        self.redactor = redactor
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            clean_stale(output_dir)
            self.path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=output_dir))
            # mkdtemp makes the folder private (0700); as the set it must be as readable as
            # plain files written here would be (the umask decides).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.path, 0o777 & ~umask)
        except OSError as exc:
            raise _fail(output_dir, exc) from None
        self.files: list[str] = []

    def copy(self, con: duckdb.DuckDBPyConnection, query: str, name: str, redacted: bool = False,
             rows: int = 0) -> None:
        """COPY a query's result to `name` (format by extension). CSV text cells that a
        spreadsheet would run as a formula are neutralised as in actions.csv. `redacted`: the
        query is already pseudonymised (else the staging's redactor, if any, applies here,
        before the neutralising, which would hide a name starting with `=` from it). `rows`:
        the caller's count of result rows; a large CSV is written through polars."""
        if self.redactor is not None and not redacted:
            query = self.redactor.wrap(con, query)
        target = self.path / name
        csv = not name.endswith(".parquet")
        types: list[str] = []
        if csv:
            query, types = _neutralised_query(con, query)
        if csv and rows >= POLARS_CSV_MIN_ROWS and set(types) <= POLARS_CSV_TYPES:
            _write_csv(con, query, target)
        else:
            fmt = "(FORMAT csv, HEADER true)" if csv else "(FORMAT parquet)"
            try:
                con.execute(f"COPY ({query}) TO {string(str(target))} {fmt}")
            except (duckdb.IOException, duckdb.PermissionException) as exc:
                raise OutputError(f"{target}: cannot write ({str(exc).splitlines()[0]})") from None
        self.files.append(name)

    def write_text(self, name: str, text: str) -> None:
        try:
            (self.path / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(self.path / name, exc, "cannot write") from None
        self.files.append(name)

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, default=str) + "\n")

    def commit(self) -> list[Path]:
        """Switch output_dir to the staged set in one atomic rename; returns the file paths."""
        out = self.output_dir
        names = list(dict.fromkeys(self.files))
        try:
            _migrate_plain_files(out, names)
            previous = current_set(out)
            final = out / f"{SET_PREFIX}{uuid.uuid4().hex[:12]}"
            os.rename(self.path, final)
            self.path = final
            _symlink_replace(final.name, out / CURRENT)  # the switch: every link now sees the new set
            for name in names:
                link = out / name
                if not (link.is_symlink() and os.readlink(link) == _link_target(name)):
                    _symlink_replace(_link_target(name), link)
            # Links of files the previous set had and this one has not would dangle: drop them.
            for entry in out.iterdir():
                if entry.is_symlink() and os.readlink(entry) == _link_target(entry.name) \
                        and entry.name not in names:
                    entry.unlink(missing_ok=True)
            if previous is not None and previous != final:
                shutil.rmtree(previous, ignore_errors=True)
        except OSError as exc:
            raise _fail(out, exc, "cannot replace outputs") from None
        return [out / name for name in names]

    def discard(self) -> None:
        """Remove the staging folder (not a set that was already switched in)."""
        if self.path.name.startswith(STAGING_PREFIX):
            shutil.rmtree(self.path, ignore_errors=True)


def _neutralised_query(con: duckdb.DuckDBPyConnection, query: str) -> tuple[str, list[str]]:
    """`query` with every text column passed through actions.csv's formula neutralising, and
    the result's column types."""
    from chs.actions.export import _neutralised  # chs.actions.export imports Staging: import late
    from chs.sql import ident
    columns = con.execute(f"DESCRIBE ({query})").fetchall()
    types = [t for _, t, *_ in columns]
    if "VARCHAR" not in types:
        return query, types
    select = ", ".join(_neutralised(c) if t == "VARCHAR" else ident(c) for c, t, *_ in columns)
    return f"SELECT {select} FROM ({query})", types


# Column types whose CSV text polars writes as DuckDB's COPY does (tests/test_csv_writer.py):
# numbers in shortest round-trip form, ISO dates, true/false, RFC 4180 quoting, NULL as an
# empty cell. Two spellings differ and read back as the same values: numbers between 1e-9 and
# 1e-4 (polars 0.000015 / 1e-7, COPY 1.5e-05 / 1e-07) and NaN (COPY nan). Anything else
# (timestamps, decimals, lists) goes through COPY.
POLARS_CSV_TYPES = {"VARCHAR", "DOUBLE", "FLOAT", "DATE", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER",
                    "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
# Below a few DuckDB row groups COPY runs on one core about as fast as polars, which would
# add its import (0.13 s) and ~100 MiB of its own buffers: at 100k accounts a loss, at 1M
# accounts 3.8 s -> 2.2 s.
POLARS_CSV_MIN_ROWS = 250_000
CSV_BATCH_ROWS = 122_880  # one DuckDB row group: memory stays at one batch, whatever the row count


def _write_csv(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Stream `query` to a CSV file through polars' writer. DuckDB's COPY spends most of its time
    turning doubles into text and does it on one thread per row group; polars formats the same
    shortest round-trip numbers in parallel: scores.csv at 1M accounts 3.8 s -> 2.2 s."""
    import polars as pl  # only the CSV exports need it: keep it off every command's start-up

    try:
        reader = con.sql(query).to_arrow_reader(CSV_BATCH_ROWS)
        with open(target, "wb") as out:
            header = True
            for batch in reader:
                pl.from_arrow(batch).write_csv(out, include_header=header)
                header = False
            if header:  # no rows: the header alone, as COPY writes it
                pl.from_arrow(reader.schema.empty_table()).write_csv(out)
    except OSError as exc:  # DuckDB only reads here: the file is polars' and this module's
        raise _fail(target, exc, "cannot write") from None
