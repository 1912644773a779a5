"""Install the test sector `probe` the way pip would: a distribution's metadata on the import path that
registers `probe = tests.sectors.probe.plugin:ProbeSector` in the `opendepin.sectors` entry point group."""

from __future__ import annotations

import sys
from pathlib import Path

from opendepin.sectors.registry import available_sectors

REPO = Path(__file__).resolve().parents[3]


def write_distribution(site: Path) -> Path:
    """`site/opendepin_probe-0.1.dist-info` with METADATA and entry_points.txt; returns `site`."""
    info = site / "opendepin_probe-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opendepin-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        '[opendepin.sectors]\nprobe = tests.sectors.probe.plugin:ProbeSector\n'
    )
    return site


def install(site: Path) -> None:
    """Make `probe` discoverable in this process (and say where for subprocesses: PYTHONPATH)."""
    write_distribution(site)
    for path in (str(site), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)
    available_sectors.cache_clear()


def uninstall(site: Path) -> None:
    for path in (str(site),):
        if path in sys.path:
            sys.path.remove(path)
    available_sectors.cache_clear()
