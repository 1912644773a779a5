"""The test sector `probe`, installed through an entry point for the tests of this package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sectors.probe.install import install, uninstall


@pytest.fixture
def probe_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    site = tmp_path_factory.mktemp("site")
    install(site)
    yield site
    uninstall(site)
