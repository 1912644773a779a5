"""Sector plug-ins found by entry points (group `opendepin.sectors`) and built from network.toml.

Installing a package that declares, in its `pyproject.toml`,

    [project.entry-points."opendepin.sectors"]
    weather = "my_package.plugin:WeatherSector"

adds the sector `weather` to every network that enables `[sectors.weather]`: the core imports no sector.
Loading also enforces that sectors do not silently overlap: two sectors claiming the same report kind, reward
category or usage category is an error naming both, unless `[shared]` in network.toml lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points

from pydantic import ValidationError

from opendepin.config import ConfigError, NetworkConfig
from opendepin.sectors.base import SectorPlugin

ENTRY_POINT_GROUP = "opendepin.sectors"


@cache
def available_sectors() -> dict[str, type[SectorPlugin]]:
    """Every installed sector plug-in by name; an entry point that does not load is reported, not hidden."""
    found: dict[str, type[SectorPlugin]] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            cls = entry.load()
        except Exception as error:  # a broken third-party package must name itself
            raise ConfigError(
                f"sector plug-in {entry.name!r} ({entry.value}) cannot be loaded: {error}"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, SectorPlugin)):
            raise ConfigError(f"sector plug-in {entry.name!r} ({entry.value}) is not a SectorPlugin subclass")
        if cls.name != entry.name:
            raise ConfigError(
                f"sector plug-in {entry.value} is named {cls.name!r} but registered as {entry.name!r}"
            )
        found[entry.name] = cls
    return found


def build_sector(name: str, cls: type[SectorPlugin], table: Mapping[str, object]) -> SectorPlugin:
    """Validate `[sectors.NAME]` with the plug-in's own parameter model."""
    try:
        return cls.from_table(table)
    except ValidationError as error:
        details = "\n  ".join(
            f"sectors.{name}.{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
            for e in error.errors()
        )
        raise ConfigError(f"invalid network.toml:\n  {details}") from None


def check_overlaps(config: NetworkConfig, plugins: Mapping[str, SectorPlugin]) -> None:
    """Report kinds, reward categories and usage categories belong to one sector unless declared shared."""
    shared_kinds, shared_categories = set(config.shared.kinds), set(config.shared.categories)
    kind_owner: dict[str, str] = {}
    category_owner: dict[str, str] = {}
    for name, plugin in sorted(plugins.items()):
        for kind in plugin.report_kinds():
            other = kind_owner.setdefault(kind, name)
            if other != name and kind not in shared_kinds:
                raise ConfigError(
                    f"report kind {kind!r} is claimed by sectors {other!r} and {name!r}; "
                    f"list it in [shared] kinds if both must see it"
                )
        usage = plugin.usage_category()
        for category in {*plugin.categories(), *([usage] if usage else [])}:
            other = category_owner.setdefault(category, name)
            if other != name and category not in shared_categories:
                raise ConfigError(
                    f"reward category {category!r} is claimed by sectors {other!r} and {name!r}; "
                    f"list it in [shared] categories if their units may be pooled"
                )
            if category not in config.rewards.device_categories:
                hint = (
                    f"; it is the sector's usage category: add it to [rewards] categories and "
                    f"device_categories, or set sectors.{name}.usage_category = \"\" to meter no usage"
                    if category == usage
                    else ""
                )
                raise ConfigError(
                    f"sectors.{name}: category {category!r} is not one of rewards.device_categories "
                    f"{config.rewards.device_categories}{hint}"
                )


def load_sectors(config: NetworkConfig) -> dict[str, SectorPlugin]:
    """Instantiate every enabled sector with its validated parameters; raise ConfigError naming the key."""
    available = available_sectors()
    plugins: dict[str, SectorPlugin] = {}
    for name in config.enabled_sectors:
        cls = available.get(name)
        if cls is None:
            raise ConfigError(
                f"sectors.{name}: no installed sector plug-in has this name; installed: {sorted(available)} "
                f"(a sector is a package registering the entry point group {ENTRY_POINT_GROUP!r})"
            )
        plugins[name] = build_sector(name, cls, config.sector_params(name))
    check_overlaps(config, plugins)
    return plugins
