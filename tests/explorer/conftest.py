"""A `depin up` network (embedded chain, misbehaving devices included), served by `depin serve` as a user
would, and headless Chromium (Debian's `chromium`, driven by Playwright) that refuses and records every
request leaving 127.0.0.1.

Screenshots are kept in `build/test-artifacts/explorer/` (or `$OPENDEPIN_TEST_ARTIFACTS/explorer/`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opendepin.up import UpOptions, run_network

CHROMIUM = os.environ.get("OPENDEPIN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("OPENDEPIN_TEST_ARTIFACTS", Path(__file__).parents[2] / "build" / "test-artifacts")
)
LOCAL_PREFIXES = ("data:", "blob:", "about:")


@dataclass
class Network:
    data_dir: Path
    summary: dict[str, Any]
    explored: dict[str, Any]
    """What `depin up`'s explore hook saw while the run kept serving (run_network(explore=...))."""


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    data_dir = tmp_path_factory.mktemp("explorer") / "data"
    explored: dict[str, Any] = {}

    def explore(url: str) -> None:
        explored["url"] = url
        with urllib.request.urlopen(url + "/", timeout=30) as page:
            explored["page"] = page.read().decode()
        last = json.loads(urllib.request.urlopen(url + "/v1/epochs", timeout=30).read())[-1]["number"]
        with urllib.request.urlopen(f"{url}/v1/epochs/{last}/settlement", timeout=30) as answer:
            explored["settlement"] = json.loads(answer.read())

    summary = run_network(
        UpOptions(data_dir=data_dir, epochs=2, devices=80, misbehaving_share=0.3, chain="embedded"),
        explore=explore,
    )
    return Network(data_dir, summary, explored)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`depin serve` on a copy of the network's data dir; yields its base URL."""
    data_dir = tmp_path_factory.mktemp("served") / "data"
    shutil.copytree(network.data_dir, data_dir)
    port = _free_port()
    depin = Path(sys.executable).with_name("depin")
    log = (data_dir.parent / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(depin), "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/v1/health", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "depin serve did not start: " + (data_dir.parent / "serve.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.2)
        _wait_for_chain(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_for_chain(url: str) -> None:
    """depin serve connects to its chain in the background: wait until the explorer reads it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        network = json.loads(urllib.request.urlopen(url + "/v1/network", timeout=30).read())
        if network["chain_total_supply"] is not None:
            return
        time.sleep(0.3)
    raise RuntimeError("depin serve never connected to its embedded chain")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


@dataclass
class Browser:
    """A browser context whose requests outside 127.0.0.1 are refused and recorded in `outside`."""

    context: Any
    base: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, path: str, ready: str | None = None) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto(self.base + path)
        page.wait_for_selector(f"body[data-ready='{ready}']" if ready else "body[data-ready]", timeout=30_000)
        return page

    def screenshot(self, page: Any, name: str, full_page: bool = False) -> Path:
        folder = ARTIFACTS / "explorer"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture(autouse=True)
def _no_event_loop_left_running() -> None:
    """Here a loop may run: Playwright's, while the module's browser is open (see `chromium`)."""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser per module, not per session: while Playwright's sync API runs, this thread has a running
    asyncio loop, so any later test in the same process that calls `asyncio.run` would fail (pytest tears
    a module's fixtures down before a test of another module runs here)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the explorer's browser tests need Debian's `chromium` package "
            "(apt-get install chromium) or OPENDEPIN_CHROMIUM=<path to a Chromium binary>"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium: Any, server: str) -> Iterator[Browser]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    wrapper = Browser(context, server)

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(server + "/") or url == server or url.startswith(LOCAL_PREFIXES):
            route.continue_()
        else:
            wrapper.outside.append(url)
            route.abort()

    context.route("**/*", route)
    yield wrapper
    context.close()
