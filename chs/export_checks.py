"""Exports that would otherwise score silently wrong, or fail with DuckDB's raw words.

* Parquet data pages are decoded only when a query reads them, and a corrupt page in a
  column no variable reads would never be noticed; `check_exports` decodes every column of
  every Parquet export once, before anything is scored, and names the broken file (65).
* A glob over Parquet files with different columns would be unioned by name, the missing
  columns read as NULL: the numbers change with no warning. It is an error naming the files
  that differ and how.
* DuckDB reports some CSV errors on the wrong line (a line over `max_line_size` is "Line: 1"
  wherever it is); `read_error` finds the real line in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from chs.config import LoadedConfig
from chs.errors import DataError
from chs.sql import string, string_list

EXPORT_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl", ".ndjson", ".zip")

_FILE_LINE = re.compile(r"^\s*file\s*=\s*(.+?)\s*$", re.M)
_ORIGINAL = re.compile(r"^Original Line:\s?(.*)$", re.M)
_GLOB_MISMATCH = re.compile(r'column "([^"]+)" was read from the original file "([^"]+)", '
                            r'but could not be found in file "([^"]+)"')
_CSV_LINE = re.compile(r"CSV Error on Line:\s*(\d+)")


def is_export_path(path: str) -> bool:
    """A path whose name says it is a data export (so its first line may be shown as columns)."""
    return path.lower().removesuffix(".gz").endswith(EXPORT_SUFFIXES)


def _files(loaded: LoadedConfig, name: str) -> list[str]:
    from chs.readers.files import source_files
    return source_files(loaded, name, loaded.config.sources[name])


def _is_parquet(path: str) -> bool:
    return path.lower().removesuffix(".gz").endswith(".parquet")


def check_exports(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, names: set[str],
                  decode: bool = True) -> None:
    """Every Parquet export of the sources `names`: same columns across a glob (metadata
    only) and, with `decode`, every data page decodable. DataError (65) naming the file.

    `chs validate` decodes; `chs score` does not (it would read every export one extra time,
    a third of a run at 100M events): a run that fails reading asks `corrupt_export` instead."""
    for name in sorted(names):
        files = _files(loaded, name)
        parquet = [f for f in files if _is_parquet(f)]
        if not parquet:
            continue
        label = loaded.config.sources[name].path
        columns = {f: _parquet_columns(con, f, label) for f in parquet}
        _same_columns(label, columns)
        if decode:
            _decode_all(con, label, parquet)


@contextmanager
def naming_corrupt_exports(loaded: LoadedConfig) -> Iterator[None]:
    """Around any work that reads the exports (score, diff, rescoring): a query that fails
    because a Parquet page is corrupt becomes a DataError (65) naming the file."""
    try:
        yield
    except duckdb.Error:
        from chs.compiler import needed_sources
        corrupt = corrupt_export(loaded, needed_sources(loaded) | {loaded.config.accounts.source})
        if corrupt is not None:
            raise corrupt from None
        raise


def corrupt_export(loaded: LoadedConfig, names: set[str]) -> DataError | None:
    """After a query failed: is a Parquet export of `names` undecodable? DuckDB's own words
    ("don't know what type") name no file. Decoded on a fresh in-memory connection, since
    the failed one may sit in an aborted transaction."""
    con = duckdb.connect()
    try:
        for name in sorted(names):
            parquet = [f for f in _files(loaded, name) if _is_parquet(f)]
            if parquet:
                try:
                    _decode_all(con, loaded.config.sources[name].path, parquet)
                except DataError as exc:
                    return exc
        return None
    finally:
        con.close()


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: str, label: str) -> list[str]:
    try:
        return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({string(path)})").fetchall()]
    except duckdb.Error as exc:
        raise DataError(f"{path}: not a readable Parquet file ({_first(exc)}) (source path {label})") from None


def _same_columns(label: str, columns: dict[str, list[str]]) -> None:
    """All files of a glob must have the same column names; else name each file that differs."""
    sets = [frozenset(c) for c in columns.values()]
    if len(set(sets)) <= 1:
        return
    # The column set most files have is the reference; the others are the odd ones out.
    common = max(set(sets), key=lambda s: (sets.count(s), -len(s)))
    reference = next(f for f, c in columns.items() if frozenset(c) == common)
    odd = []
    for f, cols in columns.items():
        have = set(cols)
        if have == common:
            continue
        parts = []
        if common - have:
            parts.append("lacks " + ", ".join(sorted(common - have)))
        if have - common:
            parts.append("has extra " + ", ".join(sorted(have - common)))
        odd.append(f"{Path(f).name} {' and '.join(parts)}")
    raise DataError(f"{label}: the files have different columns, which would score with NULLs in "
                    f"their place: {'; '.join(odd[:5])}{' ...' if len(odd) > 5 else ''} "
                    f"(compared with {Path(reference).name} and {sets.count(common) - 1} other(s)); "
                    f"make the exports agree or point the source at one kind")


def _decode_all(con: duckdb.DuckDBPyConnection, label: str, files: list[str]) -> None:
    """Read every value of every column (a hash of each forces the pages to be decoded; a
    count would be answered from metadata). One query for the export; on failure one per
    file, to name it."""
    def scan(paths: list[str]) -> None:
        listed = string_list(paths)
        con.execute(f"SELECT max(hash(COLUMNS(*))) FROM read_parquet({listed}, union_by_name = true)").fetchall()

    try:
        scan(files)
        return
    except duckdb.Error as exc:
        first_error = exc
    for f in files:
        try:
            scan([f])
        except duckdb.Error as exc:
            raise DataError(f"{f}: corrupt Parquet data ({_first(exc)}); re-export the file "
                            f"(source path {label})") from None
    raise DataError(f"{label}: cannot read the Parquet export ({_first(first_error)})")


def _first(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# ---------------------------------------------------------------- CSV errors
def read_error(label: str, exc: duckdb.Error, originals: dict[str, str] | None = None,
               encoding: str | None = None) -> DataError:
    """A DataError for an export DuckDB could not read: the file, the real line, the reason.
    `originals` maps the paths DuckDB read (maybe temporary UTF-8 copies) to the user's files,
    which are searched (in their `encoding`) for the line DuckDB quotes."""
    originals = originals or {}
    text = str(exc)
    if "Schema mismatch between globbed files" in text:
        main = re.search(r"Main file schema:\s*(.+)", text)
        current = re.search(r"Current file:\s*(.+)", text)
        column = re.search(r"Column with name:?\s*(.+)", text)

        def shown(m: re.Match[str] | None) -> str:
            return originals.get(m.group(1).strip(), m.group(1).strip()) if m else "?"

        detail = f"{shown(current)} differs from {shown(main)}"
        if column:
            detail += f" (column {column.group(1).strip()})"
        return DataError(f"{label}: the files have different columns: {detail}")
    glob_mismatch = _GLOB_MISMATCH.search(text)
    if glob_mismatch is not None:
        column, first, other = glob_mismatch.groups()
        first, other = originals.get(first, first), originals.get(other, other)
        return DataError(f"{label}: the files have different columns: column '{column}' of "
                         f"{Path(first).name} is not in {Path(other).name}")
    line_match = _CSV_LINE.search(text)
    if line_match is None:
        return DataError(f"{label}: cannot read ({_first(exc)})")
    file_match = _FILE_LINE.search(text)
    read_path = file_match.group(1) if file_match else (next(iter(originals)) if len(originals) == 1 else label)
    path = originals.get(read_path, read_path)
    original = _ORIGINAL.search(text)
    reason = _reason(text, original)
    line = int(line_match.group(1))
    if original is not None and Path(path).is_file() and not path.lower().endswith((".gz", ".zip")):
        found = _find_line(Path(path), original.group(1), encoding if path != read_path else None)
        if found is not None:
            line = found
    return DataError(f"{path}: line {line}: {reason}")


def _reason(text: str, original: re.Match[str] | None) -> str:
    """The sentence after `Original Line:` (DuckDB's why), else the first line."""
    lines = text.splitlines()
    if original is not None:
        after = text[original.end():].lstrip("\n").splitlines()
        for candidate in after:
            if candidate.strip() and not candidate.startswith(("Possible Solution", "  ")):
                return candidate.strip()
    return lines[0].split(":", 1)[-1].strip()


def _find_line(path: Path, original: str, encoding: str | None) -> int | None:
    """1-based number of the first physical line starting with `original`'s first characters.
    Reads in bounded pieces, so a line of hundreds of MB is never held whole."""
    head = original[:80]
    if not head:
        return None
    try:
        prefix = head.encode(encoding or "utf-8", errors="replace")
    except LookupError:
        prefix = head.encode("utf-8", errors="replace")
    number, at_start = 0, True
    try:
        with path.open("rb") as fh:
            while chunk := fh.readline(1 << 16):
                if at_start:
                    number += 1
                    if chunk.startswith(prefix):
                        return number
                at_start = chunk.endswith(b"\n")
    except OSError:
        return None
    return None


def columns_listing(path: str, columns: list[str] | dict[str, str]) -> str:
    """`columns: a, b` for an export; for any other file (a path mistyped to /etc/passwd,
    a log), the header is its first line of content: not shown."""
    if is_export_path(path):
        return "columns: " + ", ".join(columns)
    return "not a .csv/.tsv/.parquet export, so its first line is not shown as columns"

