"""Command groups whose commands are imported on first use, so `depin --help` imports none of them.

A `LazyGroup` lists its lazy commands (and the commands packages add through the `opendepin.commands`
entry points) by name and one line of help, without importing them; a command is imported when it is run
or asked for its own help. Every loaded command is tidied: boolean flags show no `<bool>` type, its help
texts are shown as written, and the examples of `EXAMPLES` (by command path) become its epilog.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import click
import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class Lazy:
    """Where a lazy command lives: `target` is `module:attribute`, a Typer app; `command` names one of its
    commands (None: the whole app is the group). `help` is the line `depin --help` shows without importing
    it (a test holds it equal to the command's own first line)."""

    target: str
    help: str
    command: str | None = None
    panel: str | None = None
    loader: Callable[[], click.Command] | None = None
    """Builds the command instead of `target` (commands of installed packages)."""


def examples_epilog(lines: list[str]) -> str:
    """An epilog listing examples, one per line."""
    return "\n".join(["Examples:", *(f"  $ {line}" for line in lines)])


def hide_flag_types(command: click.Command) -> None:
    """Boolean flags (and --help) show no `<bool>` type in the help: they take no value."""
    help_option = command.get_help_option(click.Context(command))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def reflow(text: str) -> str:
    """`text` (a docstring) with each paragraph's lines joined, as Typer does for the first paragraph only
    (the others kept their line breaks, so `--help` broke sentences mid-line); a paragraph of list items
    or indented lines, or one marked `\\b`, is kept as written."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    out = []
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        kept = paragraph.startswith("\b") or any(
            line[:1].isspace() or line.lstrip().startswith(("- ", "* ", "$ ")) for line in lines[1:]
        )
        out.append(paragraph if kept else " ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def show_as_written(command: click.Command) -> None:
    """The help texts of `command` and its options shown as written: Typer reads them as Rich markup, where
    a bracketed word is a style tag and vanishes (`[remembered; 8080]`, `[[makers]]`, `[chain] kind`);
    opendepin's help texts are plain prose, so every `[` is escaped, and each paragraph is one run of text
    (`reflow`)."""
    from rich.markup import escape

    if command.help:
        command.help = escape(reflow(command.help))
    for param in command.params:
        text = getattr(param, "help", None)
        if text:
            param.help = escape(text)  # type: ignore[attr-defined]


def tidy(command: click.Command, path: str, examples: Mapping[str, list[str]]) -> click.Command:
    """Boolean flags without a `<bool>` type, help texts shown as written (`show_as_written`) and
    `examples[path]` at the end of the help, for `command` and every command under it (`path` is its name
    under `depin`, e.g. `epoch show`)."""
    hide_flag_types(command)
    show_as_written(command)
    if path in examples:
        shown = examples_epilog(examples[path])
        command.epilog = f"{command.epilog}\n\n{shown}" if command.epilog else shown
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            tidy(sub, f"{path} {name}".strip(), examples)
    return command


def load_target(spec: Lazy) -> click.Command:
    """Import the Typer app `spec.target` names and build the click command (or group) it stands for."""
    module, _, attribute = spec.target.partition(":")
    obj: Any = getattr(importlib.import_module(module), attribute)
    if not isinstance(obj, typer.Typer):
        raise TypeError(f"{spec.target} is not a Typer app")
    group = typer.main.get_group(obj)
    if spec.command is None:
        if not group.help:
            group.help = spec.help
        return group
    return group.commands[spec.command]


class LazyGroup(TyperGroup):
    """A Typer group with commands imported on first use (`lazy`, by name, in listing order)."""

    lazy: ClassVar[dict[str, Lazy]] = {}
    examples: ClassVar[dict[str, list[str]]] = {}
    prefix: ClassVar[str] = ""
    """This group's path under `depin` ("" for the root), to find the examples of its commands."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loaded: dict[str, click.Command] = {}
        self._listing = False

    def extra(self) -> dict[str, Lazy]:
        """More lazy commands found at run time (the root adds the entry points' here)."""
        return {}

    def _lazy(self) -> dict[str, Lazy]:
        return {**self.lazy, **{k: v for k, v in self.extra().items() if k not in self.lazy}}

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in self._lazy() if name not in eager)]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        hide_flag_types(self)
        self._listing = True  # list lazy commands by their one line of help, importing none
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def load(self, name: str, spec: Lazy) -> click.Command:
        """The command `name` stands for, imported and tidied once."""
        if name not in self._loaded:
            command = spec.loader() if spec.loader is not None else load_target(spec)
            command.name = name
            self._loaded[name] = tidy(command, f"{self.prefix} {name}".strip(), self.examples)
        return self._loaded[name]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        spec = self._lazy().get(cmd_name)
        if spec is None:
            return None
        if self._listing and cmd_name not in self._loaded:
            return TyperCommand(cmd_name, help=spec.help, rich_help_panel=spec.panel)
        return self.load(cmd_name, spec)
