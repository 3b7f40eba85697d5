"""Which files a source reads and in which format (by extension, DESIGN 2 and 6.2)."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from chs.config import LoadedConfig
from chs.config.models import Source
from chs.errors import DataError, InputMissingError

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def source_files(loaded: LoadedConfig, name: str, src: Source) -> list[str]:
    pattern = str(loaded.resolve(src.path))
    files = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
    files = [f for f in files if Path(f).is_file()]
    if not files:
        raise InputMissingError(f"{src.path}: no such file (source '{name}', resolved to {pattern})")
    return files


def file_format(path: str) -> str:
    """parquet | tsv | json | zip | csv (anything else), a trailing .gz allowed."""
    lower = path.lower().removesuffix(".gz")
    if lower.endswith(".parquet"):
        return "parquet"
    if lower.endswith(".tsv"):
        return "tsv"
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    if lower.endswith(".zip"):
        return "zip"
    return "csv"


def unzip(files: list[str], into: str) -> list[str]:
    """Extract the export files inside zips (e.g. Amplitude's zip of gzipped JSONL), streamed."""
    out: list[str] = []
    for archive in files:
        try:
            with zipfile.ZipFile(archive) as z:
                for i, member in enumerate(sorted(z.namelist())):
                    if member.endswith("/") or file_format(member) == "zip":
                        continue
                    base = os.path.basename(member)
                    target = os.path.join(into, f"{len(out):05d}-{i:05d}-{base}")
                    with z.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    out.append(target)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{archive}: not a readable zip file ({exc})") from None
    if not out:
        raise DataError(f"{files[0]}: the zip holds no export file (.json, .jsonl, .ndjson, .csv, .parquet)")
    return out


def temp_dir() -> str:
    return tempfile.mkdtemp(prefix="chs-")
