"""Commands of installed packages (`opendepin.commands` entry points), mounted lazily: `depin --help` lists
them by name from the packages' metadata and imports one only when it is run. A dotted name nests under a
group of that name (`provider.storage` → `depin provider storage`); a package that cannot be loaded is named
when its command is run, and the rest of the command line is unaffected."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click
import typer

from opendepin.cli.lazy import Lazy, LazyGroup
from opendepin.commands import COMMANDS_GROUP, label

PANEL = "Commands of installed packages"


def command_entries() -> list[EntryPoint]:
    """The `opendepin.commands` entry points, by name."""
    return sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name)


def load_entry(entry: EntryPoint) -> click.Command:
    """The click group of one entry point's Typer app; a click error naming the package if it fails."""
    try:
        command_app = entry.load()
    except Exception as error:  # a broken third-party package must name itself, not crash the CLI
        raise click.ClickException(f"{label(entry)} cannot be loaded: {error}") from None
    if not isinstance(command_app, typer.Typer):
        raise click.ClickException(f"{label(entry)} is not a Typer app")
    return typer.main.get_group(command_app)


def _package(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return f"the {dist.name} package" if dist is not None else "an installed package"


class EntryPointGroup(LazyGroup):
    """A group of entry-point commands under a dotted prefix (`provider` for `provider.storage`)."""

    def __init__(self, path: Sequence[str], entries: Sequence[EntryPoint], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = tuple(path)
        self.entries = list(entries)

    def extra(self) -> dict[str, Lazy]:
        return children(self.path, self.entries)


def children(path: tuple[str, ...], entries: Sequence[EntryPoint]) -> dict[str, Lazy]:
    """The commands directly under `path` (() for the root): an entry point named exactly there, or a
    group of the longer names that start there."""
    found: dict[str, Lazy] = {}
    depth = len(path)
    for entry in entries:
        parts = tuple(entry.name.split("."))
        if parts[:depth] != path or len(parts) <= depth:
            continue
        name = parts[depth]
        if len(parts) == depth + 1:
            found[name] = Lazy(
                entry.value,
                f"commands of {_package(entry)} (depin {' '.join(parts)} --help)",
                panel=PANEL,
                loader=lambda entry=entry: load_entry(entry),
            )
        elif name not in found:
            prefix = (*path, name)
            found[name] = Lazy(
                "",
                f"{' '.join(prefix)} commands of installed packages",
                panel=PANEL,
                loader=lambda prefix=prefix: EntryPointGroup(
                    prefix,
                    entries,
                    name=prefix[-1],
                    help=f"{' '.join(prefix)} commands of installed packages",
                ),
            )
    return found
