"""`chs init`: a folder with a chs.yaml and data to try at once.

The examples live in the repository's top-level `examples/NAME/` (the source of truth: a
`chs.yaml`, a `README.md` explaining the scorecard and a `generate.yaml` with the data
generator's options). They ship inside the package as `chs/resources/examples/NAME/`, byte
for byte the same (tests/test_examples.py checks it), so an installed chs has them too.
The starter config (no example) is `chs/resources/configs/starter.yaml`.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

CONFIG_NAME = "chs.yaml"
README_NAME = "README.md"
GENERATE_NAME = "generate.yaml"
DATA_DIR = "data"
DEFAULT_EXAMPLE = "telecom"
STARTER_ACCOUNTS = 50
# Names used before examples/ existed: `bundled_config("example")` is the telecom example.
_ALIASES = {"example": "telecom"}
_GENERATE_KEYS = {"accounts", "seed", "months", "events_per_account_month"}


class InitError(Exception):
    """The target folder cannot be initialised (e.g. it already has a chs.yaml)."""


def _examples_root() -> Traversable:
    return resources.files("chs") / "resources" / "examples"


def example_names() -> list[str]:
    """The examples shipped with chs (folders of chs/resources/examples), sorted."""
    return sorted(p.name for p in _examples_root().iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file())


def example_file(name: str, file: str) -> str:
    """The text of one file of example `name` (chs.yaml, README.md, generate.yaml)."""
    name = _ALIASES.get(name, name)
    if name not in example_names():
        raise InitError(f"unknown example '{name}' (examples: {', '.join(example_names())})")
    return (_examples_root() / name / file).read_text(encoding="utf-8")


def generator_options(name: str) -> dict[str, Any]:
    """The example's data generator options (its generate.yaml)."""
    options = yaml.safe_load(example_file(name, GENERATE_NAME)) or {}
    unknown = set(options) - _GENERATE_KEYS
    if unknown:  # a packaging mistake, not a user error: the file ships with chs
        raise ValueError(f"examples/{name}/{GENERATE_NAME}: unknown keys {sorted(unknown)}")
    return options


def bundled_config(name: str) -> str:
    """The text of a shipped config: `starter`, or an example's chs.yaml (`telecom`, `saas`;
    `example` = telecom)."""
    if name == "starter":
        return (resources.files("chs") / "resources" / "configs" / "starter.yaml").read_text(encoding="utf-8")
    return example_file(name, CONFIG_NAME)


def init_project(target: Path, example: str | bool | None = None, accounts: int | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Write ``target/chs.yaml`` and generated exports into ``target/data/``.

    ``example`` names an example (``True`` = the default, telecom): its scorecard, its
    README (unless the folder has one) and data generated with its options (``accounts``
    overrides the size). Without it, a small commented starter config over 50 accounts.
    An existing chs.yaml is only replaced with ``force``; data files are regenerated in
    place either way. Returns what was written.
    """
    target = Path(target)
    name = DEFAULT_EXAMPLE if example is True else (example or None)
    if name is not None:
        example_file(name, CONFIG_NAME)  # an unknown name fails before anything is written
        name = _ALIASES.get(name, name)
    config_path = target / CONFIG_NAME
    if config_path.exists() and not force:
        raise InitError(f"{config_path} already exists (use force to overwrite it)")
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} exists and is not a folder")
    if accounts is not None and accounts < 1:
        raise InitError(f"accounts must be at least 1, got {accounts}")

    # Imported here: numpy and polars are not needed to parse `chs --help`.
    from chs.example_data import generate

    options: dict[str, Any] = generator_options(name) if name else {"accounts": STARTER_ACCOUNTS}
    if accounts is not None:
        options["accounts"] = accounts
    target.mkdir(parents=True, exist_ok=True)
    data = generate(target / DATA_DIR, **options)
    written = []
    if name is not None and not (target / README_NAME).exists():
        (target / README_NAME).write_text(example_file(name, README_NAME), encoding="utf-8")
        written.append(README_NAME)
    # The config is written last: a folder with a chs.yaml always has its data.
    tmp = config_path.with_name(CONFIG_NAME + ".tmp")
    tmp.write_text(bundled_config(name or "starter"), encoding="utf-8")
    tmp.replace(config_path)
    return {
        "config": str(config_path),
        "kind": "example" if name else "starter",
        "example": name,
        "accounts": options["accounts"],
        "data_end": data["end"],  # the last day with data: a sensible --as-of
        "files": {f"{DATA_DIR}/{n}": info for n, info in data["files"].items()},
        "docs": written,
    }
