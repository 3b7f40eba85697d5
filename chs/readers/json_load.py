"""JSON/JSONL/NDJSON exports (plain, gz, or a zip of them) as a raw relation (DESIGN 6.2):
`json.records` unnests the array that holds the records, `json.parse` reads a column of JSON
text as a struct, and `flattened` names every nested field by its dotted path
(`properties.plan`) so that config fragments can use it like a column."""

from __future__ import annotations

import duckdb

from chs.config.models import Source
from chs.errors import DataError
from chs.readers.types import columns_of, first_line
from chs.sql import ident, string, string_list

MAX_STRUCT_DEPTH = 4


def load_json(con: duckdb.DuckDBPyConnection, src: Source, files: list[str], relation: str) -> None:
    """The records of `files` as the temp table `relation`."""
    file_list = string_list(files)
    reader = f"read_json({file_list}, format = 'auto', union_by_name = true)"
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(relation)} AS SELECT * FROM {reader}")
    except duckdb.Error as exc:
        raise DataError(f"{src.path}: cannot read as JSON ({first_line(exc)})") from None
    opts = src.json_options
    columns = columns_of(con, ident(relation))
    if opts is not None and opts.records:
        parts = opts.records.split(".")
        if parts[0] in columns and columns[parts[0]].endswith("[]"):
            sql = f"SELECT unnest({ident(parts[0])}) AS __r FROM {ident(relation)}"
            for part in parts[1:]:
                sql = f"SELECT __r.{ident(part)} AS __r FROM ({sql})"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(relation)} AS SELECT __r.* FROM ({sql})")
        elif "records" in opts.model_fields_set and len(columns) == 1:
            raise DataError(f"{src.path}: no array '{parts[0]}' holding the records (json.records; "
                            f"top-level keys: {', '.join(columns)})")
    for column in (opts.parse if opts is not None else []):
        if column not in columns_of(con, ident(relation)):
            raise DataError(f"{src.path}: column '{column}' not found (json.parse; columns: "
                            f"{', '.join(columns_of(con, ident(relation)))})")
        q = ident(column)
        structure = con.execute(f"SELECT json_group_structure(TRY_CAST({q} AS JSON)) FROM {ident(relation)}"
                                ).fetchall()[0][0]
        if structure and structure.startswith("{"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(relation)} AS SELECT * REPLACE "
                        f"(from_json(TRY_CAST({q} AS JSON), {string(structure)}) AS {q}) FROM {ident(relation)}")


def flattened(con: duckdb.DuckDBPyConnection, relation_sql: str) -> dict[str, str]:
    """Every nested field as `dotted.name -> SQL expression` (structs only; lists stay values)."""
    out: dict[str, str] = {}

    def walk(prefix: str, expr: str, depth: int) -> None:
        if depth > MAX_STRUCT_DEPTH:
            return
        fields = columns_of(con, f"SELECT __s.* FROM (SELECT {expr} AS __s FROM {relation_sql})")
        for fname, ftype in fields.items():
            sub = f"struct_extract({expr}, {string(fname)})"
            out[f"{prefix}.{fname}"] = sub
            if ftype.startswith("STRUCT("):
                walk(f"{prefix}.{fname}", sub, depth + 1)

    for column, col_type in columns_of(con, relation_sql).items():
        if col_type.startswith("STRUCT("):
            walk(column, ident(column), 1)
    return out
