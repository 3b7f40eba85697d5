"""Pydantic models of an export in the config (`sources:`, DESIGN 2 and 6.2): its file or glob,
account key (or the column it is mapped through), time and validity columns, and the CSV and
JSON reader options. Re-exported by `models.py`."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from chs.config.base import Strict, duration


class CsvOptions(Strict):
    """Options for reading a CSV export (German Excel, odd encodings, header rows)."""

    delimiter: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    quote: str | None = None
    date_format: str | None = None
    timestamp_format: str | None = None
    encoding: str | None = None
    skip: int | None = Field(default=None, ge=0)
    header: bool | None = None
    null: str | None = None
    # v1.1 (DESIGN 6.2): rows after the header that are not data (Qualtrics' question-text and
    # ImportId rows, SurveyMonkey's sub-answer row), and a report footer after the last blank
    # line (Salesforce: "Grand Totals (N records)", confidentiality and copyright lines).
    header_rows: int = Field(default=0, ge=0)
    footer: bool = False

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding '{value}' (e.g. utf-8, utf-16, latin-1, cp1252)") from None
        return value


class JsonOptions(Strict):
    """Options for JSON / JSONL / NDJSON exports (DESIGN 6.2)."""

    # Dotted path of the array holding the records when the file is one API response, e.g.
    # `data` (Stripe's list object) or `list.invoice` (Chargebee: each element wraps one invoice).
    records: str | None = None
    # Text columns that hold a JSON document (PostHog's `properties`): parsed into nested
    # fields, addressable as `properties.plan`.
    parse: list[str] = Field(default_factory=list)


class AccountKey(Strict):
    """`account: {column: customer, via: stripe_customer}`: the source's key, mapped through a
    column of the account list (a help desk's org id, a billing customer id, a CRM record id)."""

    column: str
    via: str | None = None


class Validity(Strict):
    """Rows that hold over an interval (subscriptions, contracts): visible at D when from <= D < to."""

    from_: str = Field(alias="from")
    to: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Source(Strict):
    """One export: a file or glob, its account key and time column."""

    path: str
    account: str | AccountKey | None = None
    time: str | None = None
    valid: Validity | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    csv: CsvOptions | None = None
    timezone: str | None = None
    # A source whose newest row is older than this at as_of is stale: warned, and with
    # `chs score --strict` an error (exit 65).
    max_age: str = "7d"
    # v1.1 (DESIGN 6.2): a known export's reader options, renames, units and zones; every key
    # it sets can be overridden here. `types`: declared column types (a cell that does not
    # convert is a rejected row). `time_unit`: epoch seconds or milliseconds in time columns.
    preset: str | None = None
    types: dict[str, str] = Field(default_factory=dict)
    time_unit: Literal["s", "ms"] | None = None
    json_options: JsonOptions | None = Field(default=None, alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    _max_age = field_validator("max_age")(duration)

    @field_validator("types")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        from chs.readers.types import normalise_type
        return {column: normalise_type(t) for column, t in value.items()}

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str | None) -> str | None:
        from chs.presets import PRESETS
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown preset '{value}' (presets: {', '.join(PRESETS)})")
        return value

    @model_validator(mode="after")
    def _apply_preset(self) -> Source:
        """Fill what the preset sets and the source does not (the user overrides any key)."""
        if self.preset is not None:
            from chs.presets import apply_defaults
            apply_defaults(self)
        return self

    @property
    def account_column(self) -> str | None:
        """The column holding the account key (after `columns:` renames)."""
        return self.account.column if isinstance(self.account, AccountKey) else self.account

    @property
    def account_via(self) -> str | None:
        """The account-list column the key is mapped through, if any."""
        return self.account.via if isinstance(self.account, AccountKey) else None
