"""Commands that packages add to `depin` through the entry point group `opendepin.commands`.

A package declares, in its `pyproject.toml`,

    [project.entry-points."opendepin.commands"]
    storage = "my_sector.cli:storage_app"            # depin storage ...
    "provider.storage" = "my_sector.cli:provider_app"  # depin provider storage ...

where each value is a Typer app. A dotted name nests under groups created as needed. The modules named
here are imported every time `depin` starts, so they must be light: import heavy things inside the
commands. A package that fails to load is named on stderr and its commands are left out; the rest of the
command line keeps working.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points

import typer

COMMANDS_GROUP = "opendepin.commands"


def label(entry: EntryPoint) -> str:
    return f"commands {entry.name!r} ({entry.value})"


def _group(root: typer.Typer, path: list[str], groups: dict[tuple[str, ...], typer.Typer]) -> typer.Typer:
    """The Typer group at `path` under `root`, created empty if missing."""
    parent = root
    for depth in range(len(path)):
        key = tuple(path[: depth + 1])
        if key not in groups:
            group = typer.Typer(no_args_is_help=True, help=f"{' '.join(key)} commands of installed packages")
            parent.add_typer(group, name=path[depth])
            groups[key] = group
        parent = groups[key]
    return parent


def mount_commands(
    root: typer.Typer, existing: dict[tuple[str, ...], typer.Typer] | None = None
) -> list[str]:
    """Mount every `opendepin.commands` entry point on `root` (`existing`: groups already there by path);
    returns the names mounted."""
    groups = dict(existing or {})
    mounted = []
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            command_app = entry.load()
        except Exception as error:  # a broken third-party package must not take the command line down
            print(f"depin: {label(entry)} cannot be loaded: {error}", file=sys.stderr)
            continue
        if not isinstance(command_app, typer.Typer):
            print(f"depin: {label(entry)} is not a Typer app", file=sys.stderr)
            continue
        *parents, name = entry.name.split(".")
        _group(root, parents, groups).add_typer(command_app, name=name)
        mounted.append(entry.name)
    return mounted
