"""`depin --help` imports no command (each loads on first use); every command's help has examples, shows
defaults, and no `<bool>` on a flag; the root's one-line help of a lazy command is the command's own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opendepin.cli import COMMANDS, app
from opendepin.cli.lazy import load_target

runner = CliRunner()
HEAVY = ("numpy", "fastapi", "eth_account", "cbor2", "nacl", "opendepin.node", "opendepin.store", "polars")


def test_root_help_imports_no_command_module() -> None:
    code = (
        "import sys, json\n"
        "from typer.testing import CliRunner\n"
        "from opendepin.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(json.dumps(sorted(m for m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert not [m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")]
    commands = [m for m in loaded if m.startswith("opendepin.cli.")]
    assert set(commands) <= {"opendepin.cli.lazy", "opendepin.cli.plugins"}, commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_lazy_line_is_the_commands_own_first_line(name: str) -> None:
    spec = COMMANDS[name]
    command = load_target(spec)
    first = " ".join((command.help or "").strip().split("\n\n")[0].split())
    own = first if first.startswith(spec.help.removesuffix(".")) else first.split(". ")[0] + "."
    assert spec.help == own or first.startswith(spec.help), (
        f"depin --help says {spec.help!r}, depin {name} --help says {own!r}"
    )


def _paths(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    if hasattr(command, "commands"):  # a group (Typer's click or its own)
        found: list[tuple[str, ...]] = []
        for name, sub in command.commands.items():
            found += _paths(sub, (*path, name))
        return found
    return [path]


def _command_paths() -> list[tuple[str, ...]]:
    """Every command's path under `depin` (a group's commands, not the group)."""
    paths: list[tuple[str, ...]] = []
    for name, spec in sorted(COMMANDS.items()):
        paths += _paths(load_target(spec), (name,))
    return paths


def _command(path: tuple[str, ...]) -> Any:
    """The loaded (and tidied) command at `path`."""
    command: Any = typer.main.get_command(app)
    for part in path:
        command = command.get_command(None, part)
    return command


def test_every_command_has_examples_defaults_and_no_bool_metavar() -> None:
    paths = _command_paths()
    assert ("devices", "list") in paths and ("explain",) in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], prog_name="depin", terminal_width=200)
        assert result.exit_code == 0, (path, result.output[-500:])
        assert "Examples:" in result.output, f"depin {' '.join(path)} --help has no examples"
        assert "<bool>" not in result.output, path
    up = runner.invoke(app, ["up", "--help"], terminal_width=200).output
    assert "[default: 3]" in up and "numbered from 0" in up
    assert isinstance(app, typer.Typer)


def test_bracketed_words_in_help_are_shown_as_written() -> None:
    """Typer reads help as Rich markup, where `[word]` is a style tag and vanishes: every bracketed part of
    every command's and option's help is in what `--help` prints (e.g. `[remembered; 8080]`, `[[makers]]`)."""
    from rich.text import Text

    paths = _command_paths()
    checked = 0
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], prog_name="depin", terminal_width=4000)
        assert result.exit_code == 0, (path, result.output[-500:])
        shown = " ".join(result.output.replace("│", " ").split())
        command = _command(path)
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        for text in texts:
            written = " ".join(Text.from_markup(text).plain.split())  # the text as its author wrote it
            for bracketed in re.findall(r"\[[^\]]*\]+", written):
                checked += 1
                assert bracketed in shown, f"depin {' '.join(path)} --help drops {bracketed!r}"
    assert checked >= 10  # serve's [remembered …] markers, load's [[makers]] among them


def test_each_paragraph_of_a_commands_help_runs_on_as_one_text() -> None:
    """Typer joins the lines of a help's first paragraph only: the others kept their docstring line breaks,
    so `depin up --help` broke a sentence after "owner keys are". Every prose paragraph of every command's
    help is printed as one line on a wide terminal."""
    from rich.text import Text

    from opendepin.cli.lazy import reflow

    assert (
        reflow("First line\n    goes on.\n\n    Second\n    paragraph.")
        == "First line goes on.\n\nSecond paragraph."
    )
    assert reflow("A list:\n- one\n- two") == "A list:\n- one\n- two"  # items kept on their lines
    paths = _command_paths()
    joined = 0
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], prog_name="depin", env={"COLUMNS": "4000"})
        lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
        command = _command(path)
        for paragraph in Text.from_markup(command.help or "").plain.split("\n\n"):
            if "\n" in paragraph:
                continue  # a list, kept as written
            text = " ".join(paragraph.split())
            joined += 1
            assert any(text in line for line in lines), f"depin {' '.join(path)} --help breaks {text[:60]!r}…"
    assert joined > len(paths)
