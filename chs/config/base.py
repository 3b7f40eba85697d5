"""The base of every config model, and the duration check several of them share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from chs.durations import parse_days


class Strict(BaseModel):
    """Base: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid")


def duration(value: str | None) -> str | None:
    if value is not None:
        parse_days(value)
    return value
