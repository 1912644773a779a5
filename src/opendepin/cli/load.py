"""`depin load`: a load generator (opendepin.fleet.load): many onboarded devices sending signed reports to a
node at a set rate, printing the achieved rate, verdicts and latency as it goes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from opendepin.cli.common import DEFAULT_DATA_DIR, AsJson, DataDir, err, fail, out

app = typer.Typer()


@app.command()
def load(
    devices: Annotated[
        int, typer.Option(help="devices sending, onboarded first (the seed decides which)")
    ] = 100,
    rate: Annotated[float, typer.Option(help="reports per second, all devices together")] = 100.0,
    duration: Annotated[float, typer.Option(help="seconds of sending")] = 10.0,
    node: Annotated[
        str, typer.Option(help="the node's HTTP API (reports go here unless --mqtt; onboarding always)")
    ] = "http://127.0.0.1:8080",
    mqtt: Annotated[
        str | None, typer.Option(help="send the reports to this MQTT broker instead, e.g. 127.0.0.1:1883")
    ] = None,
    mqtt_prefix: Annotated[
        str, typer.Option(help="topics PREFIX/reports/…, PREFIX/results/DEVICE")
    ] = "depin",
    network: Annotated[
        Path | None, typer.Option(help="the node's network.toml [default: DATA_DIR/network.toml]")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    seed: Annotated[
        int, typer.Option(help="derives the devices' keys: the same seed reuses the devices")
    ] = 1,
    batch: Annotated[int, typer.Option(help="reports per HTTP request or MQTT message, at most")] = 50,
    connections: Annotated[int, typer.Option(help="HTTP requests in flight at once")] = 4,
    maker_key_file: Annotated[
        Path | None,
        typer.Option(help="hex key of a maker the network lists [default: the seed's load maker]"),
    ] = None,
    print_maker: Annotated[
        bool,
        typer.Option("--print-maker", help="print the seed's load maker address (for [[makers]]) and stop"),
    ] = False,
    every: Annotated[float, typer.Option(help="seconds between progress lines")] = 1.0,
    as_json: AsJson = False,
) -> None:
    """Send signed reports from many onboarded devices to a node at a set rate; prints the achieved rate,
    acceptances and refusals, and latency percentiles (from when a report was due to its verdict).

    The devices are onboarded first by a maker the network must list: the seed's load maker (see
    --print-maker; add it to network.toml's [[makers]]) or the one in --maker-key-file. What each device
    sends is what its sector's simulation sends, stamped now with a fresh seq."""
    from opendepin.config import ConfigError, load_config
    from opendepin.fleet.load import LoadError, LoadSpec, LoadStats, maker_address, run_load

    if print_maker:
        out.print(maker_address(seed))
        return
    path = network or data_dir / "network.toml"
    try:
        config = load_config(path)
    except ConfigError as error:
        fail(f"{error}\n(give the node's network.toml with --network)")
    broker = None
    if mqtt is not None:
        host, _, port = mqtt.rpartition(":") if ":" in mqtt else (mqtt, "", "1883")
        if not port.isdigit():
            fail(f"--mqtt must be HOST:PORT, not {mqtt!r}")
        broker = (host or "127.0.0.1", int(port))
    maker_key = None
    if maker_key_file is not None:
        try:
            maker_key = bytes.fromhex(maker_key_file.read_text().strip().removeprefix("0x"))
        except (OSError, ValueError) as error:
            fail(f"cannot read a hex key from {maker_key_file}: {error}")
    spec = LoadSpec(
        devices=devices,
        rate=rate,
        duration=duration,
        node_url=node.rstrip("/"),
        mqtt=broker,
        mqtt_prefix=mqtt_prefix,
        seed=seed,
        batch=batch,
        connections=connections,
        maker_key=maker_key,
    )

    def progress(stats: LoadStats) -> None:
        err.print(stats.progress(), highlight=False, soft_wrap=True)

    def onboarded(count: int) -> None:
        where = f"MQTT {broker[0]}:{broker[1]}" if broker else spec.node_url
        err.print(f"onboarded {count} devices; sending {rate:g} reports/s for {duration:g} s to {where}")

    try:
        stats = run_load(spec, config, progress, onboarded, every)
    except LoadError as error:
        fail(str(error))
    summary = stats.summary()
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    latency = summary["latency_ms"]
    out.print(
        f"sent {summary['sent']} in {summary['elapsed_s']} s: {summary['rate_per_s']} answered/s, accepted "
        f"{summary['accepted']}, refused {sum(summary['refused'].values())}"
        + (f" {summary['refused']}" if summary["refused"] else "")
        + (f", errors {summary['errors']}" if summary["errors"] else ""),
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"latency (due to verdict): p50 {latency['p50']} ms, p90 {latency['p90']} ms, "
        f"p99 {latency['p99']} ms, max {latency['max']} ms",
        highlight=False,
        soft_wrap=True,
    )
