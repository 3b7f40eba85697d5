"""Writers that append frames chunk by chunk, so no export is ever held in memory whole."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import polars as pl
import pyarrow.parquet as pq


class CsvAppender:
    """Appends frames to one CSV file: header once, optional legacy encoding.

    ``german=True`` writes what a German Excel "CSV (Trennzeichen-getrennt)" export looks
    like: ``;`` delimiter, decimal comma, dd.mm.yyyy dates, CRLF line ends, latin-1 bytes.
    """

    def __init__(self, path: Path, *, german: bool = False) -> None:
        self.path = path
        self.german = german
        self.rows = 0
        self._file = path.open("wb")
        self._header = True

    def write(self, frame: pl.DataFrame) -> None:
        if self.german:
            text = frame.write_csv(
                include_header=self._header, separator=";", decimal_comma=True,
                date_format="%d.%m.%Y", line_terminator="\r\n",
            )
            # Characters outside latin-1 would make the export unreadable for its consumer;
            # failing loudly here keeps the word lists honest.
            self._file.write(text.encode("latin-1"))
        else:
            frame.write_csv(self._file, include_header=self._header)
        self._header = False
        self.rows += frame.height

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._file.close()


class ParquetAppender:
    """Appends frames as row groups of one Parquet file (schema taken from the first frame).

    Callers write every frame, even empty ones, so that a file always gets its schema.
    """

    def __init__(self, path: Path, dictionary: Sequence[str] = ()) -> None:
        self.path = path
        self.rows = 0
        # Dictionary-encode only columns with few distinct values per row group: on
        # high-cardinality ids it costs time and saves nothing. zstd level 1 compresses
        # these files as well as the default level, at twice the speed.
        self._dictionary = list(dictionary)
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", compression_level=1,
                use_dictionary=self._dictionary or False,
            )
        self._writer.write_table(table, row_group_size=1_000_000)
        self.rows += frame.height

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
