"""network.toml: defaults, the commented template, and errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from opendepin.config import ConfigError, NetworkConfig, load_config, parse_config
from opendepin.rewards.digest import compute_params_digest
from opendepin.sectors.registry import load_sectors
from opendepin.template import render_template, write_template


def test_template_equals_defaults() -> None:
    parsed = parse_config(tomllib.loads(render_template()))
    assert compute_params_digest(parsed, load_sectors(parsed)) == compute_params_digest(
        NetworkConfig(), load_sectors(NetworkConfig())
    )


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
        ({"sectors": {"wireless": {"category": "nope"}}}, "sectors.wireless: category 'nope'"),
        ({"sectors": {"teleport": {}}}, "sectors.teleport"),
        ({"makers": [{"name": "m", "address": "0x12"}]}, "makers.0.address"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_value_names_key(patch: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_sectors(parse_config(patch))  # the core's keys, then each sector's own table
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


def test_sectors_come_from_entry_points() -> None:
    from opendepin.sectors.registry import available_sectors

    assert "wireless" in available_sectors()


def test_overlapping_sectors_are_named_unless_shared() -> None:
    from collections.abc import Mapping, Sequence
    from typing import ClassVar

    from pydantic import BaseModel

    from opendepin.sectors.base import SectorInput, SectorOutcome, SectorPlugin
    from opendepin.sectors.registry import check_overlaps

    class Flat(BaseModel):
        pass

    def plugin(sector: str, kinds: tuple[str, ...], category: str) -> SectorPlugin:
        class Plugin(SectorPlugin):
            name: ClassVar[str] = sector
            params_model: ClassVar[type[BaseModel]] = Flat

            def report_kinds(self) -> Mapping[str, type[BaseModel]]:
                return dict.fromkeys(kinds, Flat)

            def evaluate(self, data: SectorInput) -> SectorOutcome:
                return SectorOutcome([], [])

            def categories(self) -> Sequence[str]:
                return (category,)

        return Plugin(Flat())

    config = NetworkConfig()
    same_kind = {"a": plugin("a", ("x.obs",), "coverage"), "b": plugin("b", ("x.obs",), "data_transfer")}
    with pytest.raises(ConfigError, match=r"'x\.obs' is claimed by sectors 'a' and 'b'"):
        check_overlaps(config, same_kind)
    check_overlaps(parse_config({"shared": {"kinds": ["x.obs"]}}), same_kind)
    same_category = {"a": plugin("a", ("x",), "coverage"), "b": plugin("b", ("y",), "coverage")}
    with pytest.raises(ConfigError, match="'coverage' is claimed by sectors 'a' and 'b'"):
        check_overlaps(config, same_category)
    check_overlaps(parse_config({"shared": {"categories": ["coverage"]}}), same_category)


def test_unused_flows_may_not_loop() -> None:
    flows = {"coverage": {"data_transfer": 10_000}, "data_transfer": {"coverage": 10_000}}
    with pytest.raises(ConfigError, match="flows back to itself"):
        parse_config({"rewards": {"unused_flows_to": flows}})
