"""Config errors name file, line and key path; all problems are reported together."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from chs.config import load_config
from chs.errors import ConfigError, InputMissingError
from tests.engine.conftest import BASE_CONFIG


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chs.yaml"
    path.write_text(text)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [p.replace(str(path), "chs.yaml") for p in info.value.problems]


def _yaml(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)


def test_unknown_key_and_bad_thresholds_reported_together(tmp_path: Path) -> None:
    text = _yaml(BASE_CONFIG).replace("variable: events_30d", "varible: events_30d")
    text = text.replace("- - 4\n", "- - -1\n")
    path = _write(tmp_path, text)
    lines = text.splitlines()
    problems = _problems(path)
    typo_line = next(i for i, t in enumerate(lines, 1) if "varible" in t)
    thresholds_line = next(i for i, t in enumerate(lines, 1) if "thresholds:" in t)
    assert f"chs.yaml:{typo_line}: score.tree.usage.varible: unknown key" in problems
    assert f"chs.yaml:{thresholds_line}: score.tree.usage.scale.thresholds: x values must increase" in problems


def test_unknown_source_variable_and_cycle(tmp_path: Path) -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["variables"]["tickets"] = {"source": "tickets", "agg": "count"}
    cfg["variables"]["a"] = {"expr": "b + 1"}
    cfg["variables"]["b"] = {"expr": "a * 2"}
    cfg["score"]["tree"]["size"]["variable"] = "sizes"
    problems = _problems(_write(tmp_path, _yaml(cfg)))
    text = "\n".join(problems)
    assert "variables.tickets.source: unknown source 'tickets' (sources: accounts, usage)" in text
    assert "cycle among variables: a -> b -> a" in text
    assert "score.tree.size.variable: unknown variable 'sizes'" in text


def test_fragment_syntax_weights_and_bands(tmp_path: Path) -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["variables"]["bad"] = {"source": "usage", "agg": "count", "where": "event_type = = 'x'"}
    cfg["score"]["tree"]["size"]["weight"] = -1
    cfg["score"]["bands"] = {"green": 70, "yellow": 140}
    problems = _problems(_write(tmp_path, _yaml(cfg)))
    text = "\n".join(problems)
    assert "score.tree.size.weight: Input should be greater than or equal to 0" in text
    assert "score.bands: band minimums must be within 0..100" in text
    cfg["score"]["tree"]["size"]["weight"] = 1
    cfg["score"]["bands"] = {"green": 70, "red": 0}
    problems = _problems(_write(tmp_path, _yaml(cfg)))
    assert any("variables.bad.where: does not compile" in p for p in problems)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, "version: 1\nsources:\n  a: {path: x\n"))
    assert problems[0].startswith("chs.yaml:4: YAML syntax error") or problems[0].startswith("chs.yaml:3:")


def test_duplicate_key_and_version(tmp_path: Path) -> None:
    text = _yaml(BASE_CONFIG).replace("version: 1", "version: 2\nname: a\nname: b")
    problems = _problems(_write(tmp_path, text))
    assert "chs.yaml:3: name: duplicate key" in problems
    assert "chs.yaml:1: version: unsupported version 2; this chs reads version: 1" in problems


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
