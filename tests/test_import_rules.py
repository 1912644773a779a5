"""The import rules of docs/architecture.md, checked over src/opendepin so a regression fails the suite:

- the core and the shell never name a sector: only a sector's own package imports it;
- production code never imports a simulator: `opendepin.fleet` is imported only by the faces that run it
  (`fleet/`, `simulate/`, `up.py`, the `cli` package), never by a sector; a sector's own simulator
  (`sectors/NAME/sim/`) is imported only lazily (inside a function: `simulation()`, `simulate_app()`), so
  importing a plug-in never loads it;
- a sector imports neither another sector nor the store, the node, the services or the faces.

`test_acceptance_greps` is the issue's check verbatim (line by line, as grep reads it); the others read the
import statements with `ast`, indented (lazy) imports included.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "opendepin"
SECTORS = sorted(p.name for p in (PACKAGE / "sectors").iterdir() if (p / "__init__.py").is_file())
FLEET_USERS = re.compile(r"^opendepin/(fleet/|simulate/|up\.py$|cli\.py$|cli/)")
SECTOR_MAY_NOT = ("opendepin.store", "opendepin.node", "opendepin.services", "opendepin.api", "opendepin.up")


def modules() -> Iterator[tuple[str, Path]]:
    """(path relative to src, file) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), path


def module_name(relative: str) -> str:
    name = relative.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def imports(relative: str, path: Path) -> Iterator[tuple[str, bool]]:
    """(absolute module imported, imported at module level) for every import statement of a module."""
    package = module_name(relative).split(".")
    if not relative.endswith("__init__.py"):
        package = package[:-1]
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(node) for node in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, ast.If) for n in node.body}  # TYPE_CHECKING
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            yield base, id(node) in top
            for alias in node.names:
                yield f"{base}.{alias.name}", id(node) in top


def is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_acceptance_greps() -> None:
    """`grep -rlE` of the issue: no module outside sectors/wireless names it; only faces import the fleet."""
    wireless = re.compile(r"(from|import) +opendepin\.sectors\.wireless|from +\.+wireless")
    fleet = re.compile(r"^(from|import) +opendepin\.fleet", re.MULTILINE)
    allowed = re.compile(r"/(fleet|simulate|cli|up)(/|\.py)|/cli/")
    bad, sim = [], []
    for relative, path in modules():
        text, shown = path.read_text(), f"src/{relative}"
        if wireless.search(text) and "/sectors/wireless/" not in shown:
            bad.append(shown)
        if fleet.search(text) and not allowed.search(shown):
            sim.append(shown)
    assert bad == [] and sim == [], (bad, sim)


def test_only_a_sector_names_itself() -> None:
    found = [
        f"{relative} imports {name}"
        for relative, path in modules()
        for name, _ in imports(relative, path)
        for sector in SECTORS
        if is_within(name, f"opendepin.sectors.{sector}")
        and not relative.startswith(f"opendepin/sectors/{sector}/")
    ]
    assert found == []


def test_production_code_never_imports_a_simulator() -> None:
    found = []
    for relative, path in modules():
        for name, at_top in imports(relative, path):
            if is_within(name, "opendepin.fleet") and not FLEET_USERS.match(relative):
                found.append(f"{relative} imports {name}")
            for sector in SECTORS:
                sim = f"opendepin.sectors.{sector}.sim"
                if is_within(name, sim) and at_top and not is_within(module_name(relative), sim):
                    found.append(f"{relative} imports {name} at module level")
    assert found == []


def test_a_sector_uses_neither_other_sectors_nor_the_shell() -> None:
    found = [
        f"{relative} imports {name}"
        for relative, path in modules()
        if relative.startswith("opendepin/sectors/") and relative.count("/") > 2
        for name, _ in imports(relative, path)
        if any(is_within(name, banned) for banned in SECTOR_MAY_NOT)
        or any(
            is_within(name, f"opendepin.sectors.{other}")
            for other in SECTORS
            if not relative.startswith(f"opendepin/sectors/{other}/")
        )
    ]
    assert found == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The checker reads relative, lazy and guarded imports (a rule that sees nothing proves nothing)."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..fleet import simulator\n"
        "def f():\n    import opendepin.sectors.wireless.sim.cli\n"
    )
    found = list(imports("opendepin/api/m.py", source))
    assert ("opendepin.fleet.simulator", True) in found
    assert ("opendepin.sectors.wireless.sim.cli", False) in found


def test_every_package_has_an_init() -> None:
    """A directory of modules without `__init__.py` is left out of the wheel (`packages.find`), so an
    installed `depin` would miss it (sectors/wireless/sim once did)."""
    missing = [
        directory.relative_to(SRC).as_posix()
        for directory in sorted({path.parent for _, path in modules()})
        if not (directory / "__init__.py").is_file()
    ]
    assert missing == []
