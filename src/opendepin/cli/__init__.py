"""The `depin` command line.

The root group imports no command: each is listed by name and one line of help (`COMMANDS`) and imported
when it runs or shows its own help, so `depin --help` starts in a fraction of a second. Commands live in
`opendepin.cli.network` (init, check-config, up, serve), `.epochs` (epoch …), `.explain` (explain, devices
…) and in the modules of the chain, wallet, economics and simulation commands; packages add theirs through
the `opendepin.commands` entry points (`opendepin.cli.plugins`). Every command's examples are in `EXAMPLES`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import typer

from opendepin.cli.lazy import Lazy, LazyGroup, examples_epilog

RUN = "Run a network"
EPOCHS = "Epochs, devices and rewards"
CHAIN = "Chain, keys and credits"
MODELS = "Simulations and economics"

COMMANDS: dict[str, Lazy] = {
    "up": Lazy(
        "opendepin.cli.network:app",
        "Run a local network end to end: node + fleet on a simulated clock, K epochs, rewards and roots.",
        "up",
        RUN,
    ),
    "serve": Lazy(
        "opendepin.cli.network:app",
        "Serve a network's node on wall-clock time: ingest over HTTP (and MQTT), close epochs, settle them "
        "on the chain, /metrics.",
        "serve",
        RUN,
    ),
    "load": Lazy(
        "opendepin.cli.load:app",
        "Send signed reports from many onboarded devices to a node at a set rate; prints the achieved rate, "
        "acceptances and refusals, and latency percentiles (from when a report was due to its verdict).",
        "load",
        RUN,
    ),
    "init": Lazy(
        "opendepin.cli.network:app", "Write a commented default network.toml into DIRECTORY.", "init", RUN
    ),
    "check-config": Lazy(
        "opendepin.cli.network:app",
        "Validate a network.toml; errors name the key and what is allowed.",
        "check-config",
        RUN,
    ),
    "epoch": Lazy(
        "opendepin.cli.epochs:app", "Closed epochs: manifests, proofs, recomputation.", panel=EPOCHS
    ),
    "explain": Lazy(
        "opendepin.cli.explain:app",
        "Why DEVICE earned what it earned in EPOCH: refused reports, verdicts, notes and the arithmetic.",
        "explain",
        EPOCHS,
    ),
    "devices": Lazy("opendepin.cli.explain:devices_app", "The devices onboarded on a network.", panel=EPOCHS),
    "chain": Lazy(
        "opendepin.chain.cli:chain_app", "Settlement contracts: deploy, status, oracle price.", panel=CHAIN
    ),
    "claim": Lazy(
        "opendepin.chain.cli:claim_app",
        "Claim everything claimable for OWNER against the latest posted root; prints amount and tx hash.",
        "claim",
        CHAIN,
    ),
    "credits": Lazy(
        "opendepin.chain.cli:credits_app", "Data credits: buy with tokens at the oracle price.", panel=CHAIN
    ),
    "wallet": Lazy(
        "opendepin.wallet_cli:wallet_app",
        "Encrypted keys: create, import, list, and their balances.",
        panel=CHAIN,
    ),
    "simulate": Lazy(
        "opendepin.simulate.cli:app", "Headless simulations scored against the ground truth.", panel=MODELS
    ),
    "economics": Lazy(
        "opendepin.economics.cli:app",
        "Token economics: simulate scenarios and write sustainability reports.",
        panel=MODELS,
    ),
}
"""Every built-in command: where it lives and the line `depin --help` shows for it."""

EXAMPLES: dict[str, list[str]] = {
    "": ["depin up", "depin devices list", "depin explain DEVICE --epoch 0", "depin up --help"],
    "up": [
        "depin up",
        "depin up --epochs 3 --devices 60 --json --data-dir .depin/make-up --fresh",
        "depin up --network examples/wireless-iot.toml --data-dir .depin/iot --epochs 2",
        "depin up --chain rpc --rpc-url http://127.0.0.1:8545",
    ],
    "serve": [
        "depin serve --data-dir .depin",
        "depin serve --data-dir .depin --port 9000 --mqtt 127.0.0.1:1883",
    ],
    "load": [
        "depin load --print-maker",
        "depin load --devices 1000 --rate 500 --duration 30 --node http://127.0.0.1:8080",
        "depin load --devices 200 --rate 200 --mqtt 127.0.0.1:1883 --json",
    ],
    "init": ["depin init mynet", "depin init mynet --force"],
    "check-config": ["depin check-config mynet/network.toml"],
    "epoch": ["depin epoch show 0", "depin epoch verify 0", "depin epoch export 0 --out epoch-0.bundle"],
    "epoch show": ["depin epoch show 0", "depin epoch show 0 --raw", "depin epoch show 0 --json"],
    "epoch proof": ["depin epoch proof 0 owner-0", "depin epoch proof 0 0xOWNER"],
    "epoch export": ["depin epoch export 0 --out epoch-0.bundle"],
    "epoch verify": [
        "depin epoch verify 0",
        "depin epoch verify --bundle epoch-0.bundle",
        "depin epoch verify 0 --chain embedded",
    ],
    "explain": [
        "depin explain ed25519:3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29 --epoch 0",
        'depin explain "$(depin devices list --ids --limit 1)" --epoch 0 --json',
    ],
    "devices": ["depin devices list"],
    "devices list": [
        "depin devices list",
        "depin devices list --owner owner-0 --limit 10",
        "depin devices list --ids",
        "depin devices list --json --after ed25519:00ff",
    ],
    "chain": [
        "depin chain status",
        "depin chain price --usd 1",
        "depin chain deploy --chain rpc --rpc-url URL",
    ],
    "chain deploy": ["depin chain deploy", "depin chain deploy --chain rpc --rpc-url http://127.0.0.1:8545"],
    "chain status": ["depin chain status", "depin chain status --json"],
    "chain roles": ["depin chain roles"],
    "chain price": ["depin chain price --usd 1", "depin chain price --usd 1.25 --json"],
    "claim": ["depin claim --owner owner-0", "DEPIN_OWNER_KEY=0x… depin claim"],
    "credits": ["depin credits buy --usd 5 --buyer owner-0"],
    "credits buy": [
        "depin credits buy --usd 5 --buyer owner-0",
        "depin credits buy --usd 2.50 --buyer alice --to 0xPAYEE",
    ],
    "wallet": ["depin wallet list", "depin wallet new alice", "depin wallet balance owner-0"],
    "wallet new": ["depin wallet new alice"],
    "wallet import": [
        "depin wallet import alice --key-file alice.key",
        "cat alice.key | depin wallet import alice",
    ],
    "wallet list": ["depin wallet list", "depin wallet list --json"],
    "wallet balance": ["depin wallet balance owner-0", "depin wallet balance 0xADDRESS"],
    "simulate": ["depin simulate wireless --scenario mixed --devices 200 --epochs 1 --seed 7"],
    "simulate compute": [
        "depin simulate compute --scenario colluding --seed 7",
        "depin simulate compute --scenario all --providers 200 --json",
    ],
    "simulate sensors": [
        "depin simulate sensors --scenario clone --devices 200 --epochs 1 --seed 7",
        "depin simulate sensors --scenario mixed --json",
    ],
    "simulate storage": [
        "depin simulate storage --scenario deleter-20 --devices 200 --epochs 1 --seed 7",
        "depin simulate storage --scenario mixed --json",
    ],
    "simulate wireless": [
        "depin simulate wireless --scenario gps-spoof --devices 500 --epochs 2 --seed 7",
        "depin simulate wireless --scenario mixed --devices 2000 --epochs 3 --seed 11 --json",
    ],
    "economics": ["depin economics list", "depin economics run bootstrap --runs 100 --years 5 --out report"],
    "economics list": ["depin economics list"],
    "economics run": [
        "depin economics run bootstrap --runs 100 --years 5 --out report",
        "depin economics run growth --runs 200 --years 10 --out growth --network network.toml",
    ],
    "economics sensitivity": [
        "depin economics sensitivity bootstrap --samples 32 --runs 16 --out sensitivity",
        "depin economics sensitivity growth --outcome final_price --years 5",
    ],
    "economics report": ["depin economics report --data-dir .depin --out live"],
}
"""Examples of each command, by its path under `depin` (shown at the end of its --help)."""


class RootGroup(LazyGroup):
    """`depin`: the built-in commands and those of installed packages, all imported on first use."""

    lazy: ClassVar[dict[str, Lazy]] = COMMANDS
    examples: ClassVar[dict[str, list[str]]] = EXAMPLES

    def extra(self) -> dict[str, Lazy]:
        from opendepin.cli.plugins import children, command_entries

        return children((), command_entries())


app = typer.Typer(
    cls=RootGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    epilog="\n\n".join(
        [
            examples_epilog(EXAMPLES[""]),
            "Amounts are shown in tokens and times in UTC (ISO 8601); --raw shows base units and Unix "
            "seconds. Epochs are numbered from 0. State lives in --data-dir (default ./.depin).",
        ]
    ),
)


@app.callback()
def root() -> None:
    """opendepin: run a DePIN network — identity, signed reports, verification, rewards."""


def _open_node(data_dir: Path) -> Any:
    """The node of the network in `data_dir` (kept for callers of the former module)."""
    from opendepin.cli.common import open_node

    return open_node(data_dir)


def main() -> None:
    """The `depin` entry point: damaged stored data, or a server that cannot be reached (the store's, the
    bus's), ends any command with a message, not a traceback."""
    from rich.markup import escape

    from opendepin.errors import ServiceUnavailable
    from opendepin.store.errors import StoreCorruption

    try:
        app()
    except StoreCorruption as error:
        from opendepin.cli.common import err

        err.print(f"[red]error:[/red] the store is damaged: {escape(str(error))}")
        sys.exit(1)
    except ServiceUnavailable as error:
        from opendepin.cli.common import err

        err.print(f"[red]error:[/red] {escape(str(error))}")
        sys.exit(1)
