"""Turn a text export DuckDB cannot read as it is into a temporary UTF-8 copy, in a stream.

DuckDB's CSV reader knows utf-8, utf-16 and latin-1 only; Windows exports are cp1252 (€ „ –
are bytes 0x80-0x9F, which latin-1 maps to control characters and DuckDB refuses). German
Excel writes a first line `sep=;`; survey tools write extra header rows (question texts, an
ImportId row) after the header; CRM reports append a footer after a blank line. Each of these
is handled here while copying, so the reader sees one header line and data rows only.
The copy is deleted as soon as the export is loaded (`TextCopies.close`).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass, field

# Encodings DuckDB reads itself (everything else is transcoded here).
NATIVE_ENCODINGS = {"utf-8", "utf-16", "latin-1"}
CHUNK = 1 << 20
FOOTER_MAX_LINES = 10  # a footer is at most this many lines after the last blank line
_SEP_LINE = re.compile(r"^\ufeff?\"?sep=(.)\"?\s*$")


def canonical_encoding(name: str | None) -> str:
    """'UTF8', 'Windows-1252', 'ISO-8859-1' -> Python's canonical codec name."""
    if not name:
        return "utf-8"
    info = codecs.lookup(name)
    return {"iso8859-1": "latin-1", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(info.name, info.name)


@dataclass
class TextFile:
    """A file as the reader should see it, with what was taken out of it on the way."""

    path: str  # the original, or a temporary UTF-8 copy
    original: str
    delimiter: str | None = None  # from a `sep=;` first line
    extra_header: list[list[str]] = field(default_factory=list)  # rows dropped after the header
    footer: list[str] = field(default_factory=list)  # lines dropped after the last blank line
    temporary: bool = False


@dataclass
class TextCopies:
    """Temporary copies made for one source; `close` removes them."""

    files: list[TextFile] = field(default_factory=list)

    def close(self) -> None:
        for f in self.files:
            if f.temporary:
                try:
                    os.unlink(f.path)
                except FileNotFoundError:
                    pass


def _first_line(path: str, encoding: str) -> str:
    with _open_text(path, encoding) as f:
        return f.readline()


def _open_text(path: str, encoding: str) -> io.TextIOWrapper:
    if path.lower().endswith(".gz"):
        import gzip
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the caller


def needs_copy(path: str, encoding: str | None, header_rows: int, footer: bool) -> bool:
    enc = canonical_encoding(encoding)
    if enc not in NATIVE_ENCODINGS or header_rows or footer:
        return True
    if enc == "utf-16":
        return False
    try:
        return bool(_SEP_LINE.match(_first_line(path, "latin-1" if enc == "latin-1" else "utf-8")))
    except (OSError, UnicodeDecodeError):
        return False  # DuckDB reports the file's problem in its own words


def text_copy(path: str, encoding: str | None, header_rows: int = 0, footer: bool = False,
              delimiter: str | None = None) -> TextFile:
    """A UTF-8 copy of `path` without a `sep=` line, the `header_rows` rows after the header
    and (with `footer`) the lines after the last blank line. Raises UnicodeDecodeError /
    OSError for the caller to locate."""
    enc = canonical_encoding(encoding)
    out = TextFile(path=path, original=path)
    fd, tmp = tempfile.mkstemp(prefix="chs-", suffix=".csv")
    out.path, out.temporary = tmp, True
    try:
        with _open_text(path, enc) as src, open(fd, "w", encoding="utf-8", newline="") as dst:
            first = src.readline()
            m = _SEP_LINE.match(first)
            if m:
                out.delimiter = m.group(1)
                first = src.readline()
            dst.write(first.lstrip("\ufeff"))
            if header_rows:
                # The extra header rows may hold quoted newlines (question texts): parse them as
                # CSV records, then copy the rest of the stream as it is.
                dialect_delim = delimiter or out.delimiter or _guess_delimiter(first)
                reader = csv.reader(_LineSource(src), delimiter=dialect_delim)
                for _ in range(header_rows):
                    row = next(reader, None)
                    if row is None:
                        break
                    out.extra_header.append(row)
            if footer:
                _copy_without_footer(src, dst, out)
            else:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return out


class _LineSource:
    """Feeds csv.reader one line at a time, so the file position stays at a record boundary."""

    def __init__(self, f: io.TextIOBase):
        self.f = f

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        line = self.f.readline()
        if not line:
            raise StopIteration
        return line


def _guess_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _copy_without_footer(src: io.TextIOBase, dst: io.TextIOBase, out: TextFile) -> None:
    """Copy lines; hold back what follows a blank line until it is clear it is not a footer
    (more than FOOTER_MAX_LINES lines follow, or a data row continues)."""
    held: list[str] = []
    holding = False
    for line in iter(src.readline, ""):
        if not line.strip():
            if holding:  # footers have blank lines of their own: keep holding
                held.append(line)
            else:
                held, holding = [line], True
            continue
        if holding:
            held.append(line)
            if len(held) > FOOTER_MAX_LINES + 1:
                dst.writelines(held)
                held, holding = [], False
            continue
        dst.write(line)
    out.footer = [h.strip() for h in held if h.strip()]
