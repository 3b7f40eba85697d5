"""Read chs.yaml into a validated `Config`, reporting every problem as `file:line: key.path: message`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from chs.config.checks import cross_check
from chs.config.models import Config
from chs.config.yamlpos import Located, load_located
from chs.errors import ConfigError, InputMissingError

DEFAULT_CONFIG = "chs.yaml"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where it came from (relative paths resolve against `base_dir`)."""

    config: Config
    path: Path
    base_dir: Path
    digest: str
    located: Located | None = None

    def at(self, *path: Any) -> str:
        """`file:line: key.path` of a config key, for messages that point into the YAML."""
        line = self.located.line_of(path) if self.located else 1
        return f"{self.path}:{line}: " + ".".join(str(p) for p in path)

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database(self) -> Path:
        return self.resolve(self.config.storage.database)

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.config.storage.output_dir)


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """Flag > CHS_CONFIG > ./chs.yaml (DESIGN 2)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CHS_CONFIG")
    return Path(env) if env else Path(DEFAULT_CONFIG)


_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required key missing",
}


def _key_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic adds union/tuple branch names ("function-after[...]", "literal['skip']") to loc.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("float", "int", "str", "bool"))))


def _format(shown: str, located: Located, path: tuple[Any, ...], message: str) -> str:
    dotted = ".".join(str(p) for p in path)
    line = located.line_of(path)
    return f"{shown}:{line}: {dotted}: {message}" if dotted else f"{shown}:{line}: {message}"


def load_config(path: str | os.PathLike[str] | None = None) -> LoadedConfig:
    """Load and validate; raise ConfigError with every problem, InputMissingError if absent."""
    cfg_path = find_config(path)
    shown = str(cfg_path)
    if not cfg_path.is_file():
        raise InputMissingError(f"{shown}: config file not found (use --config PATH or CHS_CONFIG)")
    raw = cfg_path.read_bytes()
    try:
        located = load_located(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{shown}:1: not UTF-8 text ({exc.reason})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{shown}:{line}: YAML syntax error: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(located.data, dict):
        raise ConfigError([f"{shown}:1: the config must be a mapping of keys (version, sources, ...)"])
    problems = [f"{shown}:{line}: {'.'.join(map(str, p))}: duplicate key" for p, line in located.duplicates]
    try:
        config = Config.model_validate(located.data)
    except ValidationError as exc:
        for err in exc.errors():
            path = _key_path(err["loc"])
            msg = _FRIENDLY.get(err["type"], err["msg"].removeprefix("Value error, "))
            if err["type"] == "literal_error" and path == ("version",):
                msg = f"unsupported version {err.get('input')!r}; this chs reads version: 1"
            problems.append(_format(shown, located, path, msg))
        raise ConfigError(_dedupe(problems)) from None
    problems += [_format(shown, located, p, m) for p, m in cross_check(config)]
    if problems:
        raise ConfigError(_dedupe(problems))
    return LoadedConfig(
        config=config, path=cfg_path, base_dir=cfg_path.resolve().parent,
        digest=hashlib.sha256(raw).hexdigest()[:16], located=located,
    )


def _dedupe(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))
