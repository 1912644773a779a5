"""Known sector plug-ins and their construction from network.toml (`[sectors.NAME]`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from opendepin.sectors.base import SectorPlugin
from opendepin.sectors.wireless.plugin import WirelessSector

if TYPE_CHECKING:
    from opendepin.config import NetworkConfig

SECTORS: dict[str, type[SectorPlugin]] = {WirelessSector.name: WirelessSector}


def validate_sector_params(config: NetworkConfig) -> None:
    """Raise ConfigError naming `sectors.NAME.key` for any unknown sector or bad parameter."""
    load_sectors(config)


def load_sectors(config: NetworkConfig) -> dict[str, SectorPlugin]:
    """Instantiate every enabled sector with its validated parameters."""
    from opendepin.config import ConfigError

    plugins: dict[str, SectorPlugin] = {}
    for name in config.enabled_sectors:
        cls = SECTORS.get(name)
        if cls is None:
            raise ConfigError(f"sectors.{name}: unknown sector; available: {sorted(SECTORS)}")
        try:
            plugin = cls.from_table(config.sector_params(name))
        except ValidationError as error:
            details = "\n  ".join(
                f"sectors.{name}.{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
                for e in error.errors()
            )
            raise ConfigError(f"invalid network.toml:\n  {details}") from None
        for category in plugin.categories():
            if category not in config.rewards.device_categories:
                raise ConfigError(
                    f"sectors.{name}.category: {category!r} is not one of rewards.device_categories "
                    f"{config.rewards.device_categories}"
                )
        plugins[name] = plugin
    return plugins
