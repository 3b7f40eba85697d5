"""`preset: NAME` on a source (DESIGN 6.2): defaults for a known export, and `chs init --preset`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from chs.presets.catalog import PRESETS, THREE_DECIMAL, ZERO_DECIMAL, Preset

if TYPE_CHECKING:
    from chs.config.models import Source

__all__ = ["PRESETS", "Preset", "THREE_DECIMAL", "ZERO_DECIMAL", "apply_defaults", "starter_block"]

# Source keys a preset may set; the others (path, columns, max_age, ...) are the user's.
_SETTABLE = ("time", "account", "time_unit", "timezone")


def apply_defaults(src: Source) -> None:
    """Set on `src` what its preset sets and the user did not (called by the Source model)."""
    from chs.config.models import CsvOptions, JsonOptions
    preset = PRESETS[src.preset]  # type: ignore[index]
    given = set(src.model_fields_set)
    for key in _SETTABLE:
        if key in preset.source and key not in given:
            setattr(src, key, preset.source[key])
    for key, model, attr in (("csv", CsvOptions, "csv"), ("json", JsonOptions, "json_options")):
        defaults: dict[str, Any] = preset.source.get(key, {})
        if not defaults:
            continue
        current = getattr(src, attr)
        mine = current.model_dump(include=current.model_fields_set) if current is not None else {}
        setattr(src, attr, model(**{**defaults, **mine}))
    if "types" in preset.source:
        src.types = {**preset.source["types"], **src.types}


def starter_block(name: str, source_name: str | None = None) -> str:
    """A commented YAML `sources:` entry for the preset, to paste into chs.yaml."""
    preset = PRESETS[name]
    entry: dict[str, Any] = {"path": f"exports/{preset.sample.split('/', 1)[1]}", "preset": name}
    for key in ("account", "time"):
        value = preset.starter.get(key, preset.source.get(key))
        if value is not None:
            entry[key] = value
    body = f"sources:\n  {source_name or name}:\n"
    for key, value in entry.items():  # one key per line, a mapping value inline
        text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip().removesuffix("...").strip()
        body += f"    {key}: {text}\n"
    if preset.zone_from_import_id:
        body += "    # timezone: Europe/Berlin   # only when the export has no ImportId timeZone\n"
    lines = [f"# {preset.what}"]
    if preset.notes:
        lines.append(f"# {preset.notes}")
    renamed = sorted(set(preset.renames.values()))
    if renamed:
        lines.append("# columns renamed by the preset: " + ", ".join(renamed))
    return "\n".join(lines) + "\n" + body
