"""Explorer page weight and load time on a large network, in headless Chromium (Debian's `chromium`).

Makes (once, then reuses) a `depin up` network of --devices devices (default 10,000; one epoch, no chain),
serves it in-process, and loads each explorer page in a fresh browser context (no browser cache): the time
from navigation to the page's "drawn" mark (`body[data-ready]`) and the bytes transferred (compressed, as
on the wire; and decoded). Each page is loaded twice: `cold` is the node's first answer (it aggregates the
closed epoch, then keeps it: closed epochs never change), `warm` the next. Baseline in the same run: the
API documents at /docs (Swagger UI as FastAPI ships it, here served from the node's own files). Rounds are
interleaved and the best warm load kept: a busy shared machine slows single runs, not the best.

    .venv/bin/python benchmarks/explorer.py [--devices 10000] [--data-dir build/bench-explorer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]


def ensure_network(data_dir: Path, devices: int) -> None:
    if (data_dir / "network.toml").exists():
        return
    depin = Path(sys.executable).with_name("depin")
    print(f"making a {devices:,}-device network in {data_dir} (depin up, one epoch, no chain)…", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [
            depin,
            "up",
            "--devices",
            str(devices),
            "--epochs",
            "1",
            "--chain",
            "none",
            "--json",
            "--data-dir",
            data_dir,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  made in {time.perf_counter() - started:.0f} s", flush=True)


def measure(context_factory: Any, url: str, ready: str | None) -> dict[str, float]:
    """Load `url` in a fresh context: seconds to drawn, bytes on the wire and decoded."""
    context = context_factory()
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    if ready is None:
        page.wait_for_selector(".opblock", timeout=120_000)
    else:
        page.wait_for_selector("body[data-ready]", timeout=120_000)
    seconds = time.perf_counter() - started
    in_page = page.evaluate("performance.now()") / 1000  # the page's own clock, from navigation start
    sizes = page.evaluate(
        """() => {
        const entries = [...performance.getEntriesByType('navigation'),
                         ...performance.getEntriesByType('resource')];
        const sum = (key) => entries.reduce((a, e) => a + e[key], 0);
        return [sum('transferSize'), sum('decodedBodySize'), entries.length];
    }"""
    )
    state = page.evaluate("document.body.dataset.ready || ''")
    context.close()
    if ready is not None and state != ready:
        raise RuntimeError(f"{url} drew {state!r}, not {ready!r}")
    return {"seconds": seconds, "page": in_page, "wire": sizes[0], "decoded": sizes[1], "requests": sizes[2]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "build" / "bench-explorer")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve() / f"{args.devices}" / "data"
    ensure_network(data_dir, args.devices)

    from playwright.sync_api import sync_playwright

    from opendepin.cli import _open_node
    from opendepin.server import BackgroundServer

    node = _open_node(data_dir)
    devices = len(node.store.devices())
    epoch = node.store.epoch_numbers()[-1]
    with BackgroundServer(node) as server, sync_playwright() as playwright:
        base = server.url
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])

        def context_factory() -> Any:
            return browser.new_context(viewport={"width": 1280, "height": 900})

        results: dict[str, dict[str, Any]] = {}
        # the map first, on a node that has computed nothing yet: its first answer aggregates the epoch
        results["map"] = {"cold": measure(context_factory, base + "/", "map"), "warm": []}
        cells = json.loads(_get(base + "/v1/map"))["cells"]
        busiest = max(cells, key=lambda c: int(c["reward"]))
        device = json.loads(_get(f"{base}/v1/map/cells/{busiest['cell']}?limit=1"))["items"][0]["device_id"]
        pages = {
            "map": ("/", "map"),
            "device": (f"/devices/{quote(device, safe='')}", "device"),
            "epoch": (f"/epochs/{epoch}", "epoch"),
            "epochs": ("/epochs", "epochs"),
            "devices": ("/devices", "devices"),
            "network": ("/network", "network"),
            "docs (baseline)": ("/docs", None),
        }
        for name, (path, ready) in pages.items():  # cold: the node's first answer for this page
            if name not in results:
                results[name] = {"cold": measure(context_factory, base + path, ready), "warm": []}
        for _ in range(args.rounds):
            for name, (path, ready) in pages.items():
                results[name]["warm"].append(measure(context_factory, base + path, ready))
        browser.close()
    node.store.close()

    best = {name: min(r["warm"], key=lambda w: w["seconds"]) for name, r in results.items()}
    baseline = best["docs (baseline)"]
    base_wire = results["docs (baseline)"]["cold"]["wire"]
    print(
        f"explorer, {devices:,}-device network (epoch {epoch}, {len(cells):,} map cells), headless Chromium"
    )
    print(
        "time to drawn (s): cold = the node's first answer, warm = best of the rounds; in-page = the page's"
    )
    print("own clock from navigation start to drawn (warm); bytes of the cold load")
    head = ("page", "cold", "warm", "x /docs", "in-page", "wire KiB", "x /docs", "decoded KiB", "req")
    widths = (6, 6, 8, 8, 9, 8, 12, 4)
    print(f"{head[0]:16} " + " ".join(f"{h:>{w}}" for h, w in zip(head[1:], widths, strict=True)))
    for name, r in results.items():
        warm, cold = best[name], r["cold"]
        ratio = warm["seconds"] / baseline["seconds"]
        print(
            f"{name:16} {cold['seconds']:6.2f} {warm['seconds']:6.2f} {ratio:8.2f}"
            f" {warm['page']:8.2f} {cold['wire'] / 1024:9.1f} {cold['wire'] / base_wire:8.2f}"
            f" {cold['decoded'] / 1024:12.1f} {cold['requests']:4d}"
        )
    explorer = {n: best[n]["seconds"] for n in results if n != "docs (baseline)"}
    slowest = max(explorer, key=lambda n: explorer[n])
    print(
        f"slowest explorer page, warm: {slowest} {explorer[slowest]:.2f} s (target < 2 s); "
        f"/docs baseline {baseline['seconds']:.2f} s; machine load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=120) as answer:
        return bytes(answer.read())


if __name__ == "__main__":
    main()
