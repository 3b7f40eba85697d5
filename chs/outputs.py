"""Per-run exports written to a staging folder, then swapped into `output_dir` (DESIGN 3).

A crash before the swap leaves the previous files untouched; the swap is one os.replace
per file, each atomic.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from chs.errors import OutputError
from chs.sql import string


class Staging:
    """A temp folder inside output_dir (same filesystem, so renames are atomic)."""

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=".staging-", dir=output_dir))
        except OSError as exc:
            raise OutputError(f"{output_dir}: cannot write outputs ({exc.strerror})") from None
        self.files: list[str] = []

    def copy(self, con: duckdb.DuckDBPyConnection, query: str, name: str) -> None:
        """COPY a query's result to `name` (format by extension)."""
        target = self.path / name
        fmt = "(FORMAT parquet)" if name.endswith(".parquet") else "(FORMAT csv, HEADER true)"
        try:
            con.execute(f"COPY ({query}) TO {string(str(target))} {fmt}")
        except duckdb.IOException as exc:
            raise OutputError(f"{target}: cannot write ({str(exc).splitlines()[0]})") from None
        self.files.append(name)

    def write_text(self, name: str, text: str) -> None:
        try:
            (self.path / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{self.path / name}: cannot write ({exc.strerror})") from None
        self.files.append(name)

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, default=str) + "\n")

    def commit(self) -> list[Path]:
        """Move every staged file into output_dir, then drop the staging folder."""
        done = []
        try:
            for name in self.files:
                os.replace(self.path / name, self.output_dir / name)
                done.append(self.output_dir / name)
        except OSError as exc:
            raise OutputError(f"{self.output_dir}: cannot replace outputs ({exc.strerror})") from None
        finally:
            self.discard()
        return done

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
