"""`depin simulate NAME`: every installed sector's own headless simulations, one sub-command per sector.

The commands come from the sectors (`SectorPlugin.simulate_app`, found by entry point); this module names
none of them. `depin simulate wireless` is the wireless sector's proof-of-coverage scenarios.
"""

from __future__ import annotations

import typer

from opendepin.config import ConfigError
from opendepin.sectors.registry import available_sectors

app = typer.Typer(help="Headless simulations scored against the ground truth.", no_args_is_help=True)


@app.callback()
def simulate() -> None:
    """Headless simulations scored against the ground truth, one command per sector that has them."""


def mount(group: typer.Typer, name: str, sector_app: typer.Typer) -> None:
    """`sector_app` as `NAME`: its command itself when it holds one command and no callback (`depin
    simulate wireless --scenario ...`), else a group of its commands (`depin simulate NAME COMMAND`)."""
    commands = sector_app.registered_commands
    if len(commands) == 1 and sector_app.registered_callback is None and not sector_app.registered_groups:
        only = commands[0]
        assert only.callback is not None
        group.command(name, help=only.help, epilog=only.epilog)(only.callback)
    else:
        group.add_typer(sector_app, name=name)


def mount_sector_apps(group: typer.Typer) -> list[str]:
    """Add `NAME` under `group` for every installed sector with a `simulate_app`; returns the names.

    A sector package that cannot be loaded adds nothing here (commands that load the network's sectors
    report it, naming the package), so one broken plug-in does not take the whole command line down."""
    try:
        sectors = available_sectors()
    except ConfigError:
        return []
    mounted = []
    for name, cls in sorted(sectors.items()):
        sector_app = cls.simulate_app()
        if sector_app is not None:
            mount(group, name, sector_app)
            mounted.append(name)
    return mounted


mount_sector_apps(app)
