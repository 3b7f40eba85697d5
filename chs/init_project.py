"""`chs init`: a folder with a chs.yaml and data to try at once."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

CONFIG_NAME = "chs.yaml"
DATA_DIR = "data"
EXAMPLE_ACCOUNTS = 500
STARTER_ACCOUNTS = 50


class InitError(Exception):
    """The target folder cannot be initialised (e.g. it already has a chs.yaml)."""


def bundled_config(name: str) -> str:
    """The text of a config shipped in chs/resources/configs (example, saas, starter)."""
    return (resources.files("chs") / "resources" / "configs" / f"{name}.yaml").read_text(encoding="utf-8")


def init_project(target: Path, example: bool = False, accounts: int | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Write ``target/chs.yaml`` and generated exports into ``target/data/``.

    ``example=True`` writes the full telecom example scorecard over the example company
    (500 accounts unless ``accounts`` says otherwise); otherwise a small commented starter
    config over 50 accounts. An existing chs.yaml is only replaced with ``force``; data
    files are regenerated in place either way. Returns what was written.
    """
    target = Path(target)
    config_path = target / CONFIG_NAME
    if config_path.exists() and not force:
        raise InitError(f"{config_path} already exists (use force to overwrite it)")
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} exists and is not a folder")
    if accounts is not None and accounts < 1:
        raise InitError(f"accounts must be at least 1, got {accounts}")

    # Imported here: numpy and polars are not needed to parse `chs --help`.
    from chs.example_data import generate

    kind = "example" if example else "starter"
    size = accounts if accounts is not None else (EXAMPLE_ACCOUNTS if example else STARTER_ACCOUNTS)
    target.mkdir(parents=True, exist_ok=True)
    data = generate(target / DATA_DIR, accounts=size)
    # The config is written last: a folder with a chs.yaml always has its data.
    tmp = config_path.with_name(CONFIG_NAME + ".tmp")
    tmp.write_text(bundled_config(kind), encoding="utf-8")
    tmp.replace(config_path)
    return {
        "config": str(config_path),
        "kind": kind,
        "accounts": size,
        "data_end": data["end"],  # the last day with data: a sensible --as-of
        "files": {f"{DATA_DIR}/{name}": info for name, info in data["files"].items()},
    }
