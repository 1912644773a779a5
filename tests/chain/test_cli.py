"""`depin chain deploy|status|price`, `depin credits buy`, `depin claim` (mounted as the main CLI does):
keys are named (keystore) or come from the environment, never from an argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opendepin.chain.cli import chain_app, claim_command, credits_app
from opendepin.chain.factory import open_backend
from opendepin.config import ChainConfig, NetworkConfig
from opendepin.identity.keystore import data_dir_keystore, data_dir_password
from tests.chain.helpers import addr_of, build_tree, key_of

UNIT = 10**18
app = typer.Typer()
app.add_typer(chain_app, name="chain")
app.add_typer(credits_app, name="credits")
app.command("claim")(claim_command)
runner = CliRunner()
OWNER = key_of(600)


def run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def import_owner(data_dir: Path, name: str = "alice", key: str = OWNER) -> None:
    """Put `key` in the data dir's keystore as `name` (what `depin wallet import` does)."""
    data_dir_keystore(data_dir).save(name, bytes.fromhex(key[2:]), data_dir_password(data_dir))


def test_deploy_post_claim_and_buy(tmp_path: Path) -> None:
    dd = str(tmp_path)
    deployed = run("chain", "deploy", "--data-dir", dd)
    assert set(deployed["contracts"]) >= {"Timelock", "Token", "RewardsDistributor"}
    assert run("chain", "deploy", "--data-dir", dd)["contracts"] == deployed["contracts"]  # idempotent
    roles = run("chain", "roles", "--data-dir", dd)
    assert roles["owners"]["RewardsDistributor"] == roles["timelock"] == deployed["contracts"]["Timelock"]

    tree = build_tree([(addr_of(OWNER), 50 * UNIT), (addr_of(key_of(601)), UNIT)])
    with open_backend(tmp_path, ChainConfig()) as chain:
        chain.post_epoch(0, tree.root, b"\x02" * 32, 51 * UNIT)
    import_owner(tmp_path)
    proof = json.dumps(["0x" + p.hex() for p in tree.proof(addr_of(OWNER), 50 * UNIT)])
    claim = ["claim", "--owner", "alice", "--cumulative", str(50 * UNIT), "--proof", proof, "--data-dir", dd]
    claimed = run(*claim)
    assert claimed["amount"] == 50 * UNIT and claimed["tx_hash"].startswith("0x")
    assert run(*claim)["amount"] == 0  # everything claimable was claimed

    bought = run("credits", "buy", "--usd", "2.5", "--buyer", addr_of(OWNER), "--data-dir", dd)
    assert bought["credits"] == 250_000
    assert run("chain", "price", "--usd", "1", "--data-dir", dd)["tx_hash"].startswith("0x")
    status = run("chain", "status", "--data-dir", dd)
    assert status["price_usd_wad"] == UNIT
    assert status["total_claimed"] == 50 * UNIT and status["credits_supply"] == 250_000
    assert status["total_supply"] == 50 * UNIT - bought["tokens_burned"]


def test_claim_with_the_key_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("chain", "deploy", "--data-dir", str(tmp_path))
    tree = build_tree([(addr_of(OWNER), 5 * UNIT), (addr_of(key_of(601)), UNIT)])
    with open_backend(tmp_path, ChainConfig()) as chain:
        chain.post_epoch(0, tree.root, b"\x02" * 32, 6 * UNIT)
    proof = json.dumps(["0x" + p.hex() for p in tree.proof(addr_of(OWNER), 5 * UNIT)])
    monkeypatch.setenv("DEPIN_OWNER_KEY", OWNER)
    claimed = run("claim", "--cumulative", str(5 * UNIT), "--proof", proof, "--data-dir", str(tmp_path))
    assert (claimed["account"], claimed["amount"]) == (addr_of(OWNER), 5 * UNIT)


def test_invalid_private_key_as_an_argument(tmp_path: Path) -> None:
    """Regression: `--owner KEY` put private keys in the shell history and the process list."""
    run("chain", "deploy", "--data-dir", str(tmp_path))
    for args in (["claim", "--owner", OWNER], ["credits", "buy", "--usd", "1", "--buyer", OWNER]):
        result = runner.invoke(app, [*args, "--data-dir", str(tmp_path)])
        assert result.exit_code == 1 and "that is a private key" in result.output
        assert OWNER[2:] not in result.output
    refused = runner.invoke(
        app, ["credits", "buy", "--usd", "1", "--buyer-key", OWNER, "--data-dir", str(tmp_path)]
    )
    assert refused.exit_code != 0 and "No such option" in refused.output


def test_invalid_claim_without_any_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPIN_OWNER_KEY", raising=False)
    result = runner.invoke(app, ["claim", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "DEPIN_OWNER_KEY" in result.output


def test_invalid_buy_without_tokens_explains(tmp_path: Path) -> None:
    run("chain", "deploy", "--data-dir", str(tmp_path))
    result = runner.invoke(app, ["credits", "buy", "--usd", "1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "claim rewards or receive tokens first" in result.output


def test_invalid_status_before_deploy(tmp_path: Path) -> None:
    result = runner.invoke(app, ["chain", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "depin chain deploy" in result.output


def test_invalid_rpc_node_down(tmp_path: Path) -> None:
    from opendepin.chain.anvil import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(
        app, ["chain", "status", "--chain", "rpc", "--rpc-url", url, "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1 and "cannot reach the JSON-RPC node" in result.output


def test_claim_finds_proof_in_the_store(tmp_path: Path) -> None:
    """Without --cumulative/--proof, `depin claim` reads the latest posted epoch's leaves from the store."""
    from opendepin.rewards.merkle import RewardsTree
    from opendepin.store.base import EpochRecord
    from opendepin.store.factory import open_store

    leaves = [(addr_of(OWNER), 7 * UNIT), (addr_of(key_of(602)), 2 * UNIT)]
    tree = RewardsTree.build(leaves)
    store = open_store(NetworkConfig().store, tmp_path)
    manifest = {"root": tree.root_hex, "leaves": [[a, str(v)] for a, v in leaves]}
    store.save_epoch(EpochRecord(number=3, start=0, end=1, manifest=manifest, inputs={}))
    store.close()
    run("chain", "deploy", "--data-dir", str(tmp_path))
    with open_backend(tmp_path, ChainConfig()) as chain:
        for empty in range(3):  # epochs 0-2 paid nobody
            chain.settle_epoch(empty, None, b"\x03" * 32, 0)
        chain.settle_epoch(3, tree.root, b"\x03" * 32, 9 * UNIT)
    import_owner(tmp_path)
    claimed = run("claim", "--owner", "alice", "--data-dir", str(tmp_path))
    assert (claimed["epoch"], claimed["amount"]) == (3, 7 * UNIT)


@pytest.mark.integration
def test_deploy_force_after_node_reset(tmp_path: Path) -> None:
    """A recorded deployment whose contracts vanished (node reset) is reported; --force deploys anew."""
    from opendepin.chain.anvil import AnvilNode
    from opendepin.chain.keys import load_or_create_keys

    operator = load_or_create_keys(tmp_path).address("operator")
    rpc = ["--chain", "rpc", "--data-dir", str(tmp_path)]
    with AnvilNode.start() as node:
        node.set_balance(operator, 10**21)
        first = run("chain", "deploy", *rpc, "--rpc-url", node.url)
    with AnvilNode.start() as node:  # a fresh node: same chain id, no contracts
        node.set_balance(operator, 10**21)
        stale = runner.invoke(app, ["chain", "status", *rpc, "--rpc-url", node.url])
        assert stale.exit_code == 1 and "node was probably reset" in stale.output
        again = run("chain", "deploy", *rpc, "--rpc-url", node.url, "--force")
        assert again["contracts"] == first["contracts"]  # same deployer and nonces: same addresses
        assert run("chain", "status", *rpc, "--rpc-url", node.url)["total_supply"] == 0


def test_status_beside_a_running_node_reads_its_chain(tmp_path: Path) -> None:
    """A node holds the embedded chain (its lock) while it runs: `depin chain status` and `roles` read it as
    its journal stands, with a note; `price` (a transaction) is refused, naming why."""
    dd = str(tmp_path)
    run("chain", "deploy", "--data-dir", dd)
    tree = build_tree([(addr_of(OWNER), 5 * UNIT)])
    with open_backend(tmp_path, ChainConfig()) as node_chain:  # the running node
        node_chain.post_epoch(0, tree.root, b"\x02" * 32, 5 * UNIT)
        result = runner.invoke(app, ["chain", "status", "--data-dir", dd, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["latest_epoch"] == 0 and "held by a running node" in result.stderr
        assert runner.invoke(app, ["chain", "roles", "--data-dir", dd, "--json"]).exit_code == 0
        refused = runner.invoke(app, ["chain", "price", "--usd", "1", "--data-dir", dd])
        assert refused.exit_code == 1 and "in use by another process" in refused.output
        node_chain.post_epoch(1, tree.root, b"\x03" * 32, 5 * UNIT)
        assert run("chain", "status", "--data-dir", dd)["latest_epoch"] == 1
    assert run("chain", "price", "--usd", "1", "--data-dir", dd)["tx_hash"].startswith("0x")


def test_chain_commands_use_the_chain_the_node_was_served_with(tmp_path: Path) -> None:
    """`depin serve --chain …` is remembered by the data dir (serve.json): the chain commands open that
    chain unless told otherwise; a node served without a chain says so."""
    from opendepin.chain.anvil import free_port
    from opendepin.chain.factory import SERVE_SETTINGS_FILE

    url = f"http://127.0.0.1:{free_port()}"
    settings = tmp_path / SERVE_SETTINGS_FILE
    settings.write_text(json.dumps({"chain": "rpc", "rpc_url": url, "port": 8080}))
    result = runner.invoke(app, ["chain", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "cannot reach the JSON-RPC node" in result.output
    assert url in result.output
    run("chain", "deploy", "--data-dir", str(tmp_path), "--chain", "embedded")  # a flag still decides
    settings.write_text(json.dumps({"chain": "none"}))
    result = runner.invoke(app, ["chain", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "runs without a chain" in result.output
    settings.write_text("{not json")  # unreadable: network.toml's chain, as before
    assert run("chain", "status", "--data-dir", str(tmp_path))["backend"] == "embedded"
