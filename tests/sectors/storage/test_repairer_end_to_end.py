"""The client's repairer with real processes: `depin serve` closing one-minute epochs on an embedded chain,
eight provider agents on eight /24s, objects coded 3 of 6 (repair threshold 4). Two holders of a segment are
killed with SIGKILL; after the next epoch close one round of `depin storage repair --watch --once` rebuilds
the segment on two other providers (paid at the repair rate), the object reads back byte-identical; the
long-running watcher stops on SIGTERM, and a round with the node gone fails soft."""

from __future__ import annotations

import datetime
import io
import json
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from opendepin.config import load_config
from opendepin.sectors.storage.cli import storage_app
from opendepin.sectors.storage.client import StorageClient
from opendepin.sectors.storage.pricing import repair_credits
from opendepin.store.sqlite import SQLiteStore
from tests.sectors.storage.processes import (
    CLIENT,
    Proc,
    fund_client,
    launch,
    network_toml,
    start_node,
    start_providers,
)

K, N, PROVIDERS = 3, 6, 8
STORAGE_MAIN = "from opendepin.sectors.storage.cli import storage_app; storage_app()"


def minute_epochs(text: str) -> str:
    """One-minute epochs from the current minute, closed two seconds after they end."""
    now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
    today = now.strftime("%Y-%m-%dT00:00:00Z")
    replaced = {
        f"genesis = {today}": f"genesis = {now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "length_seconds = 86400": "length_seconds = 60",
        "lateness_seconds = 600": "lateness_seconds = 2",
    }
    for old, new in replaced.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, list[Proc], Path]]:
    root = tmp_path_factory.mktemp("storage-repairer")
    data = root / "node"
    data.mkdir()
    (data / "network.toml").write_text(network_toml(K, N))
    fund_client(data)  # on the daily schedule (a one-minute epoch could not carry the client's grant)
    # the node then fails to settle epoch 0 (the funding posted it) and retries: the repair list is the
    # node's own closed epoch, which settlement does not touch
    (data / "network.toml").write_text(minute_epochs(network_toml(K, N)))
    node = start_node(data)
    providers: list[Proc] = []
    try:
        providers.extend(start_providers(root, node.url, PROVIDERS))
        yield node, providers, root
    finally:
        for proc in [*providers, node]:
            proc.stop()


def cli_args(node: Proc, providers: list[Proc], root: Path) -> list[str]:
    args = ["--home", str(root / "client"), "--node", node.url, "--key", CLIENT.private_key.hex()]
    return args + [a for p in providers for a in ("--provider", p.url)]


def next_epoch(node: Proc) -> int:
    return int(httpx.get(node.url + "/v1/health", timeout=5).json()["next_epoch"])


def test_one_round_after_an_epoch_close_rebuilds_a_segment_at_the_threshold(
    cluster: tuple[Proc, list[Proc], Path],
) -> None:
    node, providers, root = cluster
    client = StorageClient(CLIENT, node.url, [p.url for p in providers], root / "client", segment_size=2**20)
    client.prepaid_hours = 24
    data = random.Random(13).randbytes(1_300_000)  # two segments
    record = client.put(io.BytesIO(data), "watched.bin", len(data))
    first, second = record.segments
    by_url = {p.url: p for p in providers}
    killed = [first.pieces[0], first.pieces[1]]
    for piece in killed:
        by_url[piece.url].kill9()
    # 4 healthy pieces = the threshold (k + 1); the other segment may share a killed holder
    closed = next_epoch(node)
    deadline = time.monotonic() + 150
    while next_epoch(node) == closed:
        assert time.monotonic() < deadline, "no epoch closed in 150 s"
        time.sleep(1)
    listing = httpx.get(node.url + "/v1/sectors/storage/repair", params={"client": CLIENT.address}).json()
    assert listing["threshold"] == K + 1 and isinstance(listing["segments"], list)

    started = time.monotonic()
    runner = CliRunner()
    app = typer.Typer()
    app.add_typer(storage_app, name="storage")
    result = runner.invoke(app, ["storage", "repair", "--watch", "--once", *cli_args(node, providers, root)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    dead = {p.device_id for p in killed}
    second_lost = sum(1 for p in second.pieces if p.device_id in dead)
    assert counts["epoch"] == next_epoch(node) - 1 and counts["objects"] >= 1 and counts["errors"] == 0
    assert counts["lost"] == 0 and counts["repaired"] == 1 + (second_lost == 2)
    print(f"one repair round: {elapsed:.2f} s, {counts}")

    rebuilt = client.catalog.load()[record.object_id]
    for before, after in zip(record.segments, rebuilt.segments, strict=True):
        assert all(client.healthy(after, p) for p in after.pieces) or (before is second and second_lost < 2)
        assert [p.root for p in after.pieces] == [p.root for p in before.pieces]  # the same bytes
    moved = rebuilt.segments[0].pieces[:2]
    assert not {p.device_id for p in moved} & dead and all(p.placed > 0 for p in moved)
    # the k downloads the rebuild took reached the node, paid at the repair rate (`repair_bytes`)
    config = load_config(root / "node" / "network.toml")
    deadline = time.monotonic() + 30
    repairs: list = []
    while len(repairs) < K and time.monotonic() < deadline:  # each provider posts once it has served
        time.sleep(0.5)
        store = SQLiteStore(root / "node" / config.store.path)
        try:
            receipts = [s.record for s in store.usage_between(0, int(time.time()) + 10)]
        finally:
            store.close()
        repairs = [r for r in receipts if r.ref.startswith(f"repair:{first.segment}:")]
    assert len(repairs) == K and {r.unit for r in repairs} == {"repair_bytes"}
    assert all(r.credits == repair_credits(r.quantity, client.params.credits_per_gb_repair) for r in repairs)
    out = io.BytesIO()
    client.get(record.object_id, out)
    assert out.getvalue() == data
    # a second round finds nothing to do (the new pieces count although the epoch does not know them yet)
    again = runner.invoke(app, ["storage", "repair", "--watch", "--once", *cli_args(node, providers, root)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["repaired"] == 0
    client.close()


def test_the_watcher_runs_rounds_until_sigterm(cluster: tuple[Proc, list[Proc], Path]) -> None:
    node, providers, root = cluster
    live = [p for p in providers if p.alive()]
    log = root / "watcher.log"
    args = [STORAGE_MAIN, "repair", "--watch", "--interval", "0.5", *cli_args(node, live, root)]
    watcher = launch(args, node.url, log)
    try:
        deadline = time.monotonic() + 60
        while "round done" not in log.read_text():
            assert watcher.alive(), log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        started = time.monotonic()
        watcher.process.send_signal(signal.SIGTERM)
        assert watcher.process.wait(timeout=30) == 0, log.read_text()
        print(f"watcher stopped {time.monotonic() - started:.2f} s after SIGTERM")
    finally:
        watcher.stop()
    text = log.read_text()
    assert "stopping" in text and "Traceback" not in text


def test_a_round_with_the_node_gone_fails_soft(cluster: tuple[Proc, list[Proc], Path]) -> None:
    node, providers, root = cluster
    node.stop()
    app = typer.Typer()
    app.add_typer(storage_app, name="storage")
    result = CliRunner().invoke(app, ["storage", "repair", "--once", *cli_args(node, providers, root)])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["errors"] >= 1 and counts["repaired"] == 0
