"""Load one export into DuckDB as the raw relation `raw_<source>` (DESIGN 2, 6.2).

CSV/TSV: DuckDB's reader with the source's options; text that DuckDB cannot read as it is
(cp1252, a `sep=;` line, extra header rows, a report footer) goes through a temporary UTF-8
copy (`chs.transcode`). A column the sniffer left as text although it is *mostly* numbers or
dates (one bad cell) and every column in `types:` is read again with that type, so the bad
cell's row is rejected (counted, sampled) and its neighbours kept.
JSON/JSONL/NDJSON (gz, or a zip of them): nested fields become columns named by dotted path
(`properties.plan`), next to the nested value itself.
Parquet stays a view. Then the preset's renames, units, codes and zones, declared types,
epoch times and the account-key mapping (`via`) are applied in one SELECT.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

import duckdb

from chs.config import LoadedConfig
from chs.config.models import CsvOptions, Source
from chs.errors import ConfigError, DataError
from chs.presets import PRESETS, THREE_DECIMAL, ZERO_DECIMAL, Preset
from chs.readers.files import file_format, source_files, temp_dir, unzip
from chs.readers.json_load import flattened, load_json
from chs.readers.types import columns_of, first_line, infer_types, is_number
from chs.sql import ident, string, string_list
from chs.transcode import NATIVE_ENCODINGS, TextCopies, TextFile, canonical_encoding, needs_copy, text_copy

# Aggregates that need numbers: in an export without rows their columns are typed DOUBLE, so an
# empty export counts 0 rows instead of failing on a column type.
NUMBER_AGGS = {"sum", "avg", "median", "nps", "min", "max", "pct_change"}
MAPPED_KEY = "__account_key"  # the key mapped through `account.via`
REJECT_SAMPLES = 3


@dataclass
class RawLoad:
    """The raw relation of one source and what loading it found."""

    relation: str
    files: list[str]
    fmt: str
    rejected: int = 0
    reject_samples: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key_column: str | None = None  # set when the key is mapped (`via`): the column to key on
    extra_header: list[list[str]] = field(default_factory=list)  # rows after the header (surveys)


# ---------------------------------------------------------------- CSV
def csv_reader(files: list[str], fmt: str, opts: CsvOptions, rejects: str | None, *,
               encoding: str | None = None, delimiter: str | None = None,
               types: dict[str, str] | None = None) -> str:
    """`read_csv(...)` with the source's options (and overrides for a transcoded copy)."""
    file_list = string_list(files)
    args: list[str] = [file_list]
    if rejects is not None:
        args += [f"rejects_table = {string(rejects + '_errors')}", f"rejects_scan = {string(rejects + '_scans')}",
                 "store_rejects = true"]
    delim = opts.delimiter or delimiter or ("\t" if fmt == "tsv" else None)
    pairs: dict[str, Any] = {
        "delim": delim, "decimal_separator": opts.decimal, "thousands": opts.thousands, "quote": opts.quote,
        "dateformat": opts.date_format, "timestampformat": opts.timestamp_format,
        "encoding": encoding, "nullstr": opts.null,
    }
    # A decimal comma needs '.' as thousands separator, or amounts stay VARCHAR (EXPORTS.md).
    if pairs["decimal_separator"] == "," and pairs["thousands"] is None:
        pairs["thousands"] = "."
    args += [f"{k} = {string(v)}" for k, v in pairs.items() if v is not None]
    if opts.skip is not None:
        args.append(f"skip = {int(opts.skip)}")
    if opts.header is not None:
        args.append(f"header = {'true' if opts.header else 'false'}")
    if types:
        args.append("types = {" + ", ".join(f"{string(c)}: {string(t)}" for c, t in types.items()) + "}")
    return f"read_csv({', '.join(args)})"


def rejects_of(con: duckdb.DuckDBPyConnection, rejects: str, files: list[TextFile] | None = None) -> tuple[int, list[str]]:
    """Rows DuckDB could not parse: count and the first few as `file line N: column error`."""
    try:
        rows = con.execute(
            f"SELECT count(DISTINCT (e.file_id, e.line)), "
            f"list(DISTINCT s.file_path || ' line ' || e.line || ': ' || coalesce(e.column_name, '') || ' ' "
            f"|| e.error_type || coalesce(' (' || left(e.csv_line, 60) || ')', '') "
            f"ORDER BY s.file_path || ' line ' || e.line || ': ' || coalesce(e.column_name, '') || ' ' "
            f"|| e.error_type || coalesce(' (' || left(e.csv_line, 60) || ')', ''))[1:{REJECT_SAMPLES}] "
            f"FROM {ident(rejects + '_errors')} AS e JOIN {ident(rejects + '_scans')} AS s "
            f"ON e.scan_id = s.scan_id AND e.file_id = s.file_id").fetchall()
    except duckdb.Error:
        return 0, []
    samples = list(rows[0][1] or [])
    for f in files or []:  # name the export, not its temporary UTF-8 copy
        samples = [s.replace(f.path, f.original) for s in samples]
    return int(rows[0][0] or 0), samples


def _read_text_files(files: list[str], opts: CsvOptions) -> TextCopies:
    copies = TextCopies()
    for path in files:
        try:
            if needs_copy(path, opts.encoding, opts.header_rows, opts.footer):
                copies.files.append(text_copy(path, opts.encoding, opts.header_rows, opts.footer, opts.delimiter))
            else:
                copies.files.append(TextFile(path=path, original=path))
        except UnicodeDecodeError as exc:
            copies.close()
            enc = canonical_encoding(opts.encoding)
            hint = " (a Windows export? try csv: {encoding: cp1252})" if enc == "utf-8" else ""
            raise DataError(f"{path}: not {enc} text: byte 0x{exc.object[exc.start]:02x} at offset "
                            f"{exc.start} cannot be decoded{hint}") from None
        except OSError as exc:
            copies.close()
            raise DataError(f"{path}: cannot read ({exc})") from None
    return copies


_AMBIGUOUS = re.compile(r"%d.%m|%m.%d")


def ambiguous_dates(con: duckdb.DuckDBPyConnection, relation: str, first_file: str, fmt: str,
                    opts: CsvOptions, encoding: str | None, delimiter: str | None,
                    columns: dict[str, str]) -> list[str]:
    """Warnings for date columns read with a sniffed day/month order that every value leaves
    open (each day <= 12): 01/02/2024 is 1 February or 2 January, and nothing says which."""
    checks = []
    args = csv_reader([first_file], fmt, opts, None, encoding=encoding, delimiter=delimiter)
    args = args.removeprefix("read_csv(").removesuffix(")").replace(f"[{string(first_file)}]", string(first_file), 1)
    try:
        sniffed = con.execute(f"SELECT DateFormat, TimestampFormat FROM sniff_csv({args})").fetchall()[0]
    except duckdb.Error:
        return []
    for c, t in columns.items():
        given = opts.date_format if t == "DATE" else opts.timestamp_format if t.startswith("TIMESTAMP") else "x"
        used = sniffed[0] if t == "DATE" else sniffed[1] if t.startswith("TIMESTAMP") else None
        if given is None and used and not used.startswith("%Y") and _AMBIGUOUS.search(used):
            checks.append((c, used, "date_format" if t == "DATE" else "timestamp_format"))
    if not checks:
        return []
    row = con.execute("SELECT " + ", ".join(
        f"count({ident(c)}) > 0 AND max(day({ident(c)})) <= 12" for c, _, _ in checks)
        + f" FROM {ident(relation)}").fetchall()[0]
    return [f"column '{c}': every date could be day-first or month-first (no day above 12); read as "
            f"{used} — set csv.{key} to say which" for (c, used, key), bad in zip(checks, row) if bad]


def _protected(loaded: LoadedConfig, name: str, src: Source) -> set[str]:
    """Key and label columns: text, whatever they look like (never a rejected row for them)."""
    back = {new: old for old, new in src.columns.items()}
    cfg = loaded.config
    keys = {src.account_column}
    if name == cfg.accounts.source:
        keys |= {cfg.accounts.id, cfg.accounts.name, cfg.accounts.owner, cfg.accounts.segment}
    for var in cfg.variables.values():  # a column counted distinct is an identifier
        if var.source == name and var.agg == "count_distinct" and var.column:
            keys.add(var.column)
    return {back.get(k, k) for k in keys if k}


def _declared(src: Source, columns: dict[str, str], renames: dict[str, str]) -> dict[str, str]:
    """`types:` by export name (a type may name the export's or the renamed column)."""
    back = {new: old for old, new in {**renames, **src.columns}.items()}
    out = {}
    for column, typ in src.types.items():
        export = column if column in columns else back.get(column, column)
        out[export] = typ
    return out


def load_csv(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, name: str, src: Source,
             files: list[str], fmt: str, relation: str, preset: Preset | None) -> RawLoad:
    opts = src.csv or CsvOptions()
    copies = _read_text_files(files, opts)
    out = RawLoad(relation=relation, files=files, fmt=fmt)
    try:
        copied = any(f.temporary for f in copies.files)
        enc = canonical_encoding(opts.encoding)
        encoding = "utf-8" if copied else (opts.encoding if enc in NATIVE_ENCODINGS and opts.encoding else None)
        delimiter = next((f.delimiter for f in copies.files if f.delimiter), None)
        paths = [f.path for f in copies.files]
        rejects = f"rej_{name}"

        def read(types: dict[str, str] | None, tag: str) -> None:
            reader = csv_reader(paths, fmt, opts, rejects + tag, encoding=encoding, delimiter=delimiter, types=types)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(relation)} AS SELECT * FROM {reader}")
            except duckdb.Error as exc:
                message = first_line(exc)
                if "not latin-1 encoded" in message or "not utf-8 encoded" in message.lower():
                    message += " (a Windows export? try csv: {encoding: cp1252})"
                    raise DataError(f"{src.path}: cannot read ({message})") from None
                from chs.export_checks import read_error  # the file and the real line (issue 15)
                raise read_error(src.path, exc, {f.path: f.original for f in copies.files}, opts.encoding) from None

        read(None, "")
        columns = columns_of(con, ident(relation))
        declared = _declared(src, columns, _renames(preset, list(columns), src))
        unknown = [c for c in declared if c not in columns]
        if unknown:
            raise DataError(f"{src.path}: `types:` names column(s) {', '.join(map(repr, unknown))} the export "
                            f"does not have (columns: {', '.join(columns)})")
        protected = _protected(loaded, name, src) | set(declared)
        candidates = [c for c, t in columns.items() if t == "VARCHAR" and c not in protected]
        inferred = infer_types(con, relation, candidates, opts)
        wanted = {c: t for c, t in {**inferred, **declared}.items() if columns.get(c) != t}
        tag = ""
        if wanted:
            tag = "_typed"
            read(wanted, tag)
            for c, t in inferred.items():
                out.notes.append(f"column '{c}' read as {t}: most cells are {t.lower()} values, "
                                 f"the rows whose cell is not are rejected")
        out.rejected, out.reject_samples = rejects_of(con, rejects + tag, copies.files)
        if not opts.date_format or not opts.timestamp_format:
            out.warnings += ambiguous_dates(con, relation, paths[0], fmt, opts, encoding, delimiter,
                                            columns_of(con, ident(relation)))
        for f in copies.files:
            if f.footer:
                out.notes.append(f"{f.original}: report footer left out ({'; '.join(f.footer[:2])})")
        _check_report_totals(con, relation, copies.files, out)
        out.extra_header = [row for f in copies.files[:1] for row in f.extra_header]
    finally:
        copies.close()
    return out


_TOTALS = re.compile(r"Grand Totals \((\d+) records?\)", re.I)


def _check_report_totals(con: duckdb.DuckDBPyConnection, relation: str, files: list[TextFile], out: RawLoad) -> None:
    """A report footer that states its record count (Salesforce) must match the rows read."""
    stated = [int(m.group(1)) for f in files for line in f.footer if (m := _TOTALS.search(line))]
    if not stated or len(stated) != len(files):
        return
    rows = con.execute(f"SELECT count(*) FROM {ident(relation)}").fetchall()[0][0]
    if rows + out.rejected != sum(stated):
        out.warnings.append(f"the report footer says {sum(stated)} records, {rows} rows were read"
                            f"{f' and {out.rejected} rejected' if out.rejected else ''}: the export may be cut off")


# ---------------------------------------------------------------- transforms
def _renames(preset: Preset | None, columns: list[str], src: Source) -> dict[str, str]:
    """Preset renames that apply: the column exists, the user does not rename it, the new name is
    free (aliases: the first present wins)."""
    if preset is None:
        return {}
    taken = set(columns)
    out: dict[str, str] = {}
    for old, new in preset.renames.items():
        if old in columns and old not in src.columns and new not in taken:
            out[old] = new
            taken.add(new)
    return out


def _import_id_zone(extra_header: list[list[str]], header: list[str], columns: tuple[str, ...],
                    renames: dict[str, str]) -> str | None:
    """The `timeZone` Qualtrics writes into the ImportId row for its date columns."""
    for row in extra_header:
        for i, cell in enumerate(row):
            if i < len(header) and renames.get(header[i], header[i]) in columns and "timeZone" in cell:
                try:
                    zone = json.loads(cell).get("timeZone")
                except (ValueError, AttributeError):
                    continue
                if zone:
                    return str(zone)
    return None


def _currency_divisor(currency_expr: str) -> str:
    c = f"upper(CAST({currency_expr} AS VARCHAR))"
    zero = ", ".join(string(x) for x in ZERO_DECIMAL)
    three = ", ".join(string(x) for x in THREE_DECIMAL)
    return f"(CASE WHEN {c} IN ({zero}) THEN 1.0 WHEN {c} IN ({three}) THEN 1000.0 ELSE 100.0 END)"


def _epoch(expr: str, unit: str) -> str:
    factor = 1_000_000 if unit == "s" else 1_000
    return f"make_timestamp(CAST({expr} AS BIGINT) * {factor})"


def load_raw(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, name: str, src: Source) -> RawLoad:
    """Load the source's files into `raw_<name>` with everything up to the user's renames applied."""
    files = source_files(loaded, name, src)
    fmt = file_format(files[0])
    relation = f"raw_{name}"
    tmp: str | None = None
    try:
        read_files = files
        if fmt == "zip":
            tmp = temp_dir()
            read_files = unzip(files, tmp)
            fmt = file_format(read_files[0])
        preset = PRESETS[src.preset] if src.preset else None
        base = f"__base_{name}"
        if fmt == "parquet":
            file_list = string_list(read_files)
            reader = f"read_parquet({file_list}, union_by_name = true)"
            try:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(base)} AS SELECT * FROM {reader}")
            except duckdb.Error as exc:
                raise DataError(f"{src.path}: cannot read ({first_line(exc)})") from None
            load = RawLoad(relation=base, files=files, fmt=fmt)
        elif fmt == "json":
            load_json(con, src, read_files, base)
            load = RawLoad(relation=base, files=files, fmt=fmt)
        else:
            load = load_csv(con, loaded, name, src, read_files, fmt, base, preset)
        load.files = files
        _transform(con, loaded, name, src, preset, load, relation)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return load


def _transform(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, name: str, src: Source,
               preset: Preset | None, load: RawLoad, relation: str) -> None:
    """One SELECT over the base relation: nested fields, preset renames, declared types (JSON,
    Parquet), epoch times, codes, money, zones, the mapped key. Rows whose declared-type cell
    does not convert are rejected here (CSV: already by the reader)."""
    base = load.relation
    columns = columns_of(con, ident(base))
    nested = flattened(con, ident(base)) if load.fmt in ("json", "parquet") else {}
    exprs: dict[str, str] = {c: ident(c) for c in columns}
    for dotted, expr in nested.items():
        exprs.setdefault(dotted, expr)
    types_now = dict(columns)
    if nested:
        types_now.update(columns_of(con, f"SELECT {', '.join(f'{e} AS {ident(d)}' for d, e in nested.items())} "
                                         f"FROM {ident(base)}"))
    renames = _renames(preset, list(exprs), src)
    named: dict[str, str] = {}
    for column, expr in exprs.items():
        named[renames.get(column, column)] = expr
    types_now = {renames.get(c, c): t for c, t in types_now.items()}
    back = {new: old for old, new in src.columns.items()}  # user renames apply later: our name -> export name

    def here(column: str | None) -> str | None:
        """A name as the user writes it (after `columns:`) -> its name at this stage."""
        return None if column is None else back.get(column, column)

    rows = con.execute(f"SELECT count(*) FROM {ident(base)}").fetchall()[0][0]
    reject_checks: list[tuple[str, str, str]] = []
    # Declared types of JSON / Parquet columns (CSV: the reader did it, with line numbers).
    if load.fmt != "csv" and load.fmt != "tsv":
        for column, typ in src.types.items():
            c = here(column) if here(column) in named else column
            if c not in named:
                raise DataError(f"{src.path}: `types:` names column '{column}' the export does not have "
                                f"(columns: {', '.join(named)})")
            if types_now.get(c) != typ:
                reject_checks.append((c, named[c], typ))
                named[c] = f"TRY_CAST({named[c]} AS {typ})"
                types_now[c] = typ
    # Epoch times: the preset's, and the time column with `time_unit`.
    epoch_cols = set(preset.epoch if preset else ())
    if src.time_unit and src.time:
        epoch_cols.add(here(src.time))  # type: ignore[arg-type]
    unit = src.time_unit or "s"
    for c in sorted(epoch_cols):
        if c in named and is_number(types_now.get(c, "")):
            named[c] = _epoch(named[c], unit)
            types_now[c] = "TIMESTAMP"
    if preset is not None:
        for c, codes in preset.codes.items():
            if c in named:
                whens = " ".join(f"WHEN {string(str(k))} THEN {string(v)}" for k, v in codes.items())
                named[c] = f"CASE CAST({named[c]} AS VARCHAR) {whens} ELSE CAST({named[c]} AS VARCHAR) END"
                types_now[c] = "VARCHAR"
        if preset.money and load.fmt == "json" and preset.currency in named:
            converted = [c for c in preset.money if c in named and is_number(types_now.get(c, ""))]
            for c in converted:
                named[c] = f"CAST({named[c]} AS DOUBLE) / {_currency_divisor(named[preset.currency])}"
                types_now[c] = "DOUBLE"
            if converted:
                load.notes.append(f"money columns converted from minor units to major units by "
                                  f"the currency in '{preset.currency}' (JPY 0 decimals, KWD 3, else 2): "
                                  f"{', '.join(converted)}")
        if preset.zone_columns and src.timezone is None:
            header = list(columns)
            zone = _import_id_zone(load.extra_header, header, preset.zone_columns, renames)
            if zone is None:
                raise ConfigError([f"{loaded.at('sources', name)}: the {preset.name} export names no time "
                                   f"zone (no ImportId row with timeZone): set `timezone:` on the source"])
            for c in preset.zone_columns:
                if c in named:
                    named[c] = f"timezone({string(zone)}, TRY_CAST({named[c]} AS TIMESTAMP))"
                    types_now[c] = "TIMESTAMP WITH TIME ZONE"
            load.notes.append(f"times in {', '.join(c for c in preset.zone_columns if c in named)} are "
                              f"local to {zone} (the export's ImportId timeZone)")
    # An export with a header and no rows: columns that numeric aggregates read become DOUBLE.
    if rows == 0:
        for var in loaded.config.variables.values():
            c = here(var.column)
            if var.source == name and var.agg in NUMBER_AGGS and c in named and not is_number(types_now[c]):
                named[c] = f"CAST({named[c]} AS DOUBLE)"
    select = ", ".join(f"{e} AS {ident(c)}" for c, e in named.items())
    where = ""
    if reject_checks:
        bad = " OR ".join(f"({named[c]} IS NULL AND {orig} IS NOT NULL)" for c, orig, _ in reject_checks)
        where = f" WHERE NOT ({bad})"
        samples = []
        for c, orig, typ in reject_checks:
            found = con.execute(
                f"SELECT count(*), list(CAST({orig} AS VARCHAR))[1:{REJECT_SAMPLES}] FROM {ident(base)} "
                f"WHERE TRY_CAST({orig} AS {typ}) IS NULL AND {orig} IS NOT NULL").fetchall()[0]
            if found[0]:
                samples.append(f"column '{c}': {found[0]} value(s) not {typ}, e.g. "
                               + ", ".join(repr(v) for v in found[1]))
        load.rejected += con.execute(f"SELECT count(*) FROM {ident(base)} WHERE {bad}").fetchall()[0][0]
        load.reject_samples += samples[:REJECT_SAMPLES]
    sql = f"SELECT {select} FROM {ident(base)}{where}"
    via = src.account_via
    if via is not None:
        sql = _mapped(loaded, name, src, sql, here(src.account_column))  # type: ignore[arg-type]
        load.key_column = MAPPED_KEY
    kind = "VIEW" if load.fmt == "parquet" else "TABLE"
    con.execute(f"DROP VIEW IF EXISTS {ident(relation)}")
    con.execute(f"DROP TABLE IF EXISTS {ident(relation)}")
    untouched = via is None and not where and named == {c: ident(c) for c in columns}
    if untouched and kind == "TABLE":
        # Nothing to change: keep the loaded table (a copy would double the load of a big CSV).
        con.execute(f"ALTER TABLE {ident(base)} RENAME TO {ident(relation)}")
    else:
        con.execute(f"CREATE TEMP {kind} {ident(relation)} AS {sql}")
        if kind == "TABLE":
            con.execute(f"DROP TABLE IF EXISTS {ident(base)}")
    load.relation = relation


def _mapped(loaded: LoadedConfig, name: str, src: Source, sql: str, key: str) -> str:
    """Add `__account_key`: the account whose `via` column holds this row's key (NULL: none)."""
    from chs.sources import relation_name
    cfg = loaded.config
    accounts = relation_name(cfg.accounts.source)
    via = ident(src.account_via)  # type: ignore[arg-type]
    return (f"SELECT r.*, m.__account AS {ident(MAPPED_KEY)} FROM ({sql}) AS r LEFT JOIN "
            f"(SELECT CAST({via} AS VARCHAR) AS __via, min(__account) AS __account FROM {ident(accounts)} "
            f"WHERE {via} IS NOT NULL GROUP BY 1) AS m ON CAST(r.{ident(key)} AS VARCHAR) = m.__via")
