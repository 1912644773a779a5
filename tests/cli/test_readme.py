"""The README's first session: every command of its `sh` block, run in order in a fresh directory with the
installed `depin`, succeeds; and every command the README's command table names has a working `--help`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from opendepin.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = ROOT / ".venv" / "bin"


def session_lines() -> list[str]:
    """The lines of the `sh` block after "A first session" in the README's command-line section."""
    text = README.read_text()
    section = text[text.index("## The command line") :]
    section = section[: section.index("\n## ", 1)]
    match = re.search(r"A first session.*?```sh\n(.*?)```", section, re.S)
    assert match, "the README's command-line section has no first session"
    return [line for line in match.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_session_runs_in_order_on_a_fresh_directory(tmp_path: Path) -> None:
    lines = session_lines()
    assert lines[0].startswith("depin ") and len(lines) >= 10
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200"}
    env.pop("DEPIN_KEYSTORE_PASSWORD", None)
    for line in lines:
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", line],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (
            f"README command failed: {line}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
        assert "Traceback" not in result.stderr, (line, result.stderr[-2000:])
        if line.startswith(("depin claim", "depin credits buy", "depin wallet balance")):
            assert " ODP" in result.stdout and "token units" not in result.stdout, (line, result.stdout)


def table_commands() -> set[tuple[str, ...]]:
    """The commands of the README's command table: `depin chain deploy / status / price --usd X` gives
    (chain, deploy), (chain, status), (chain, price)."""
    text = README.read_text()
    section = text[text.index("## The command line") :]
    section = section[: section.index("\n## ", 1)]
    commands: set[tuple[str, ...]] = set()
    for cell in re.findall(r"^\| `(depin [^`]+)`", section, re.M):
        variants = [[w for w in v.split() if re.fullmatch(r"[a-z][a-z-]*", w)] for v in cell.split(" / ")]
        first = variants[0][1:]
        commands.add(tuple(first))
        for words in variants[1:]:
            commands.add((*first[:-1], *words[:1]))
    return commands


def test_every_command_in_the_readme_table_has_help() -> None:
    commands = table_commands()
    assert {("explain",), ("devices", "list"), ("chain", "status"), ("wallet", "balance")} <= commands
    runner = CliRunner()
    for command in sorted(commands):
        result = runner.invoke(app, [*command, "--help"], prog_name="depin", terminal_width=200)
        assert result.exit_code == 0, (command, result.output[-1000:])
        assert "Usage: depin " + " ".join(command) in " ".join(result.output.split()), command
        assert "Examples:" in result.output, command
