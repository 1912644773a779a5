"""Packages add commands to `depin` through the `opendepin.commands` entry point group."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opendepin.commands import mount_commands

MODULE = '''
import typer
hello = typer.Typer()

@hello.command()
def greet(name: str) -> None:
    print(f"hello {name}")
'''


def test_dotted_names_nest_and_broken_packages_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "greeter_cli.py").write_text(MODULE)
    info = tmp_path / "greeter-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: greeter\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[opendepin.commands]\nhello = greeter_cli:hello\nprovider.hello = greeter_cli:hello\n"
        "broken = greeter_cli:missing\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        root = typer.Typer()

        @root.callback()
        def main() -> None:
            """root"""

        mounted = mount_commands(root)  # the installed sectors' commands too (storage, compute, …)
        assert "hello" in mounted and "provider.hello" in mounted and "broken" not in mounted
        assert "'broken' (greeter_cli:missing) cannot be loaded" in capsys.readouterr().err
        runner = CliRunner()
        assert runner.invoke(root, ["hello", "greet", "ada"]).output.strip() == "hello ada"
        assert runner.invoke(root, ["provider", "hello", "greet", "bob"]).output.strip() == "hello bob"
    finally:
        sys.path.remove(str(tmp_path))
