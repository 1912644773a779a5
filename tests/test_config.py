"""network.toml: defaults, the commented template, and errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from opendepin.config import ConfigError, NetworkConfig, load_config, parse_config
from opendepin.rewards.digest import compute_params_digest
from opendepin.template import render_template, write_template


def test_template_equals_defaults() -> None:
    parsed = parse_config(tomllib.loads(render_template()))
    assert compute_params_digest(parsed) == compute_params_digest(NetworkConfig())


def test_init_writes_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_template(tmp_path)
    assert load_config(path).name == "opendepin-local"
    with pytest.raises(ConfigError, match="exists"):
        write_template(tmp_path)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"token": {"decimals": 40}}, "token.decimals"),
        ({"emission": {"kind": "inflation"}}, "emission"),
        ({"rewards": {"categories": {"coverage": 9000}}}, "10000 basis points"),
        ({"epochs": {"length_seconds": 5}}, "epochs.length_seconds"),
        ({"sectors": {"wireless": {"min_heartbeats_per_day": 0}}}, "sectors.wireless.min_heartbeats_per_day"),
        ({"sectors": {"wireless": {"category": "nope"}}}, "sectors.wireless.category"),
        ({"sectors": {"teleport": {}}}, "sectors.teleport"),
        ({"makers": [{"name": "m", "address": "0x12"}]}, "makers.0.address"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_value_names_key(patch: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(patch)
    assert expected in str(info.value)


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text("name = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file_says_how_to_create(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="depin init"):
        load_config(tmp_path / "network.toml")


def test_shipped_examples_are_valid() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    files = sorted(examples.glob("*.toml"))
    assert files
    for path in files:
        config = load_config(path)
        assert config.enabled_sectors
