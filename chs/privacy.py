"""Pseudonymised outputs (`--redact`, `privacy.redact`) and account columns kept out (`drop_columns`).

A pseudonym is an HMAC-SHA256 of the value, keyed by the secret in the environment variable
CHS_REDACT_SALT: `Account 3f9a2c1d` (keyed on the account id, so an account keeps its
pseudonym when it is renamed) and `Owner 81be04aa` (keyed on the owner). The same secret
gives the same pseudonyms in every run, command and output; without it nobody can test a
guessed name against a pseudonym. There is deliberately no fallback key: a constant or a
config-derived salt would let anyone with the config or the source code reverse the names
by guessing, so asking for redaction without the variable is a config error (exit 78).

The hash runs in DuckDB (`sha256` over the HMAC's inner and outer padded keys), so a whole
output is redacted by one set-based query; `hmac` in Python gives the same digest for the
single values that are not in a table (tested).

Free text (action title, detail, reason, note) gets each row's own owner and account name
replaced by their pseudonyms; names of *other* accounts typed into free text by hand cannot
be recognised and are not replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import duckdb

from chs.errors import ConfigError
from chs.sql import ident, string

if TYPE_CHECKING:
    import polars as pl

    from chs.config import LoadedConfig

SALT_ENV = "CHS_REDACT_SALT"
MIN_SALT_CHARS = 16
DIGITS = 8  # hex digits shown: 4 billion values, so 100k accounts rarely share a pseudonym
_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104)

# Column roles by name, as they appear in scores, actions, explain and report rows.
NAME_COLUMNS = ("account_name",)
OWNER_COLUMNS = ("owner",)
TEXT_COLUMNS = ("title", "detail", "reason", "note")
ACCOUNT_PREFIX = "Account"
OWNER_PREFIX = "Owner"


def _padded_keys(secret: str) -> tuple[bytes, bytes]:
    key = secret.encode("utf-8")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


class Redactor:
    """Replaces names, owners and the names inside free text, in SQL or for single values."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("a redaction key must not be empty")
        self._secret = secret.encode("utf-8")
        inner, outer = _padded_keys(secret)
        self._inner, self._outer = inner.hex(), outer.hex()

    # ------------------------------------------------------------ single values (Python)
    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()[:DIGITS]

    def account(self, account_id: str) -> str:
        return f"{ACCOUNT_PREFIX} {self._digest('account', account_id)}"

    def owner(self, owner: str | None) -> str | None:
        return None if owner is None else f"{OWNER_PREFIX} {self._digest('owner', owner)}"

    def text(self, value: str | None, account_id: str, name: str | None, owner: str | None) -> str | None:
        """Free text of one account with its owner, then its name, replaced (owner first: an
        e-mail address may contain the company name, and must vanish whole)."""
        if value is None:
            return None
        if owner:
            value = value.replace(owner, self.owner(owner) or "")
        if name:
            value = value.replace(name, self.account(account_id))
        return value

    # ------------------------------------------------------------ SQL
    def _sql_digest(self, kind: str, value_sql: str) -> str:
        message = f"encode({string(kind + chr(0))} || CAST({value_sql} AS VARCHAR))"
        inner = f"unhex(sha256(unhex('{self._inner}') || {message}))"
        return f"left(sha256(unhex('{self._outer}') || {inner}), {DIGITS})"

    def account_sql(self, id_sql: str) -> str:
        return f"CASE WHEN {id_sql} IS NOT NULL THEN {string(ACCOUNT_PREFIX + ' ')} || {self._sql_digest('account', id_sql)} END"

    def owner_sql(self, owner_sql: str) -> str:
        return f"CASE WHEN {owner_sql} IS NOT NULL THEN {string(OWNER_PREFIX + ' ')} || {self._sql_digest('owner', owner_sql)} END"

    def text_sql(self, text_sql: str, id_sql: str | None, name_sql: str | None, owner_sql: str | None) -> str:
        out = text_sql
        if owner_sql is not None:
            out = (f"CASE WHEN coalesce({owner_sql}, '') = '' THEN {out} "
                   f"ELSE replace({out}, {owner_sql}, {self.owner_sql(owner_sql)}) END")
        if name_sql is not None and id_sql is not None:
            out = (f"CASE WHEN coalesce({name_sql}, '') = '' THEN {out} "
                   f"ELSE replace({out}, {name_sql}, {self.account_sql(id_sql)}) END")
        return out

    def replacements(self, columns: Iterable[str], alias: str = "q") -> dict[str, str]:
        """column -> redacted SQL expression, for the personal columns among `columns`."""
        cols = list(columns)
        col = {c: f"{alias}.{ident(c)}" for c in cols}
        id_sql = col.get("account_id")
        name_sql = next((col[c] for c in NAME_COLUMNS if c in col), None)
        owner_sql = next((col[c] for c in OWNER_COLUMNS if c in col), None)
        out: dict[str, str] = {}
        for c in cols:
            if c in NAME_COLUMNS:
                # Keyed on the id when the row has one (a renamed account keeps its pseudonym).
                # A missing name stays missing (the views then show the id).
                out[c] = f"CASE WHEN {col[c]} IS NOT NULL THEN {self.account_sql(id_sql or col[c])} END"
            elif c in OWNER_COLUMNS:
                out[c] = self.owner_sql(col[c])
            elif c in TEXT_COLUMNS:
                out[c] = self.text_sql(col[c], id_sql or name_sql, name_sql, owner_sql)
        return out

    def wrap(self, con: duckdb.DuckDBPyConnection, query: str) -> str:
        """`query` with its personal columns replaced; the column order is kept."""
        columns = [d[0] for d in con.execute(f"SELECT * FROM ({query}) LIMIT 0").description]
        return self.wrap_columns(query, columns)

    def wrap_columns(self, query: str, columns: list[str]) -> str:
        repl = self.replacements(columns)
        if not repl:
            return query
        return f"SELECT * REPLACE ({', '.join(f'{e} AS {ident(c)}' for c, e in repl.items())}) FROM ({query}) AS q"

    def frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        """A Polars frame with its personal columns replaced (one query in an in-memory DuckDB)."""
        if not self.replacements(frame.columns):
            return frame
        con = duckdb.connect()
        try:
            con.register("__redact_in", frame)
            return con.sql(self.wrap_columns("SELECT * FROM __redact_in", frame.columns)).pl()
        finally:
            con.close()

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows (dicts with the same keys) redacted as a frame; types and order are kept."""
        if not rows:
            return rows
        import polars as pl
        frame = pl.DataFrame(rows, infer_schema_length=None)
        return self.frame(frame).to_dicts()


def redaction_key(where: str, environ: dict[str, str] | None = None) -> str:
    """The secret in CHS_REDACT_SALT; a config error (78) naming `where` when it is unset or short."""
    secret = (environ if environ is not None else os.environ).get(SALT_ENV, "")
    if len(secret) < MIN_SALT_CHARS:
        state = "is not set" if not secret else f"has only {len(secret)} characters"
        raise ConfigError([
            f"{where}: redaction needs a secret key: the environment variable {SALT_ENV} {state} "
            f"(set it to a random string of at least {MIN_SALT_CHARS} characters, e.g. "
            f"`export {SALT_ENV}=$(openssl rand -hex 16)`, and keep it: the same key gives the same pseudonyms)"])
    return secret


def wanted_key(loaded: LoadedConfig, flag: bool | None) -> str | None:
    """The redaction key when `flag` (--redact / --no-redact) or else `privacy.redact` asks for
    redaction; None when nothing is to be redacted."""
    wanted = loaded.config.privacy.redact if flag is None else flag
    if not wanted:
        return None
    return redaction_key("--redact" if flag else loaded.at("privacy", "redact"))


def redactor_for(loaded: LoadedConfig, flag: bool | None) -> Redactor | None:
    """A Redactor when redaction is asked for (see `wanted_key`), else None."""
    key = wanted_key(loaded, flag)
    return Redactor(key) if key is not None else None


def dropped_columns(loaded: LoadedConfig, columns: Iterable[str]) -> list[str]:
    """The `privacy.drop_columns` of the account list, checked against its columns.

    The key column and the columns that decide who is scored or how (start, end, segment,
    revenue) cannot be dropped; name and owner can (they become NULL: no display name, no
    routing of actions to an owner)."""
    privacy, acc = loaded.config.privacy, loaded.config.accounts
    available = set(columns)
    problems = []
    needed = {getattr(acc, role): role for role in ("id", "start", "end", "segment", "revenue")
              if getattr(acc, role, None)}
    for i, column in enumerate(privacy.drop_columns):
        if column in needed:
            problems.append(f"{loaded.at('privacy', 'drop_columns', i)}: '{column}' is accounts.{needed[column]}, "
                            "which scoring needs; it cannot be dropped")
        elif column not in available:
            problems.append(f"{loaded.at('privacy', 'drop_columns', i)}: the account list "
                            f"({acc.source}) has no column '{column}' (columns: {', '.join(sorted(available))})")
    if problems:
        raise ConfigError(problems)
    return list(privacy.drop_columns)


def redact_explanation(result: Any, redactor: Redactor) -> Any:
    """An `chs.explain` Explanation with the account's name, owner and the names in its
    actions' texts replaced (one account: a handful of values, done in Python)."""
    from dataclasses import replace
    aid, name, owner = result.account_id, result.account_name, result.owner

    def text(value: str | None, action_owner: str | None) -> str | None:
        if action_owner and action_owner != owner and value:
            value = value.replace(action_owner, redactor.owner(action_owner) or "")
        return redactor.text(value, aid, name, owner)

    actions = [replace(a, title=text(a.title, a.owner), reason=text(a.reason, a.owner),
                       owner=redactor.owner(a.owner)) for a in result.actions]
    return replace(result, account_name=redactor.account(aid) if name is not None else None,
                   owner=redactor.owner(owner), actions=actions)
