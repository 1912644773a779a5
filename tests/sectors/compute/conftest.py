"""Make `compute` discoverable through its entry point even before the package metadata lists it (a
distribution's metadata on the import path, as pip would write it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opendepin.sectors.registry import available_sectors


@pytest.fixture
def compute_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if "compute" in available_sectors():
        yield
        return
    site = tmp_path_factory.mktemp("site")
    info = site / "opendepin_compute_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opendepin-compute-test\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[opendepin.sectors]\ncompute = opendepin.sectors.compute.plugin:ComputeSector\n"
    )
    sys.path.insert(0, str(site))
    available_sectors.cache_clear()
    yield
    sys.path.remove(str(site))
    available_sectors.cache_clear()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]
