"""The embedded chain persists across restarts by journal replay (issue 3: "its state persists in the data
dir across restarts"), refuses a journal that does not replay, and charges gas as a node would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opendepin.chain.backend import ChainError, ChainInUseError, ChainStateError, DeployParams
from opendepin.chain.embedded import EmbeddedBackend, compute_intrinsic_gas, compute_tx_gas
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.schedule import EmissionCap
from tests.chain.helpers import addr_of, build_tree, key_of

UNIT = 10**18
MANIFEST = b"\x55" * 32
OWNER = key_of(400)


def open_chain(data_dir: Path, snapshot_every: int = 1_000) -> EmbeddedBackend:
    return EmbeddedBackend(data_dir, load_or_create_keys(data_dir), snapshot_every=snapshot_every)


def crash_copy(source: Path, target: Path) -> Path:
    """The data dir as a kill -9 would leave it: journal fsync'ed, no snapshot written at exit."""
    shutil.copytree(source, target)
    return target


def deploy(chain: EmbeddedBackend) -> None:
    chain.deploy(
        DeployParams(
            token_name="T",
            token_symbol="T",
            decimals=18,
            max_supply=10**6 * UNIT,
            emission_cap=EmissionCap(100 * UNIT, 10_000, 0),
            oracles=chain.keys.oracle_addresses,
            makers=chain.keys.maker_addresses,
            onboarding_fee_dc=10,
            genesis_amount=UNIT,
        )
    )


def settle(chain: EmbeddedBackend, epoch: int, amount: int) -> None:
    """Post `epoch` with OWNER's cumulative reward at `amount` (and 1 for someone else), then claim."""
    owner = addr_of(OWNER)
    tree = build_tree([(owner, amount), (addr_of(key_of(401)), 1)])
    chain.post_epoch(epoch, tree.root, MANIFEST, amount + 1)
    chain.claim(OWNER, amount, tree.proof(owner, amount))


def test_state_survives_restart(tmp_path: Path) -> None:
    chain = open_chain(tmp_path)
    deploy(chain)
    chain.buy_credits("0.001")
    device = b"\x09" * 32
    signature = chain.sign_onboarding(chain.keys.makers[0], device, addr_of(OWNER))
    chain.register_device(signature, device, addr_of(OWNER))
    settle(chain, 0, 10 * UNIT)
    before = chain.status()
    chain.close()

    reopened = open_chain(tmp_path)
    assert (reopened.restored, reopened.replayed) == (before.block_number, 0)  # from the snapshot
    assert reopened.status() == before
    assert reopened.device_owner(device) == addr_of(OWNER)
    settle(reopened, 1, 25 * UNIT)  # and it keeps going from there
    assert reopened.balance_of(addr_of(OWNER)) == 25 * UNIT
    reopened.close()
    assert open_chain(tmp_path).claimed(addr_of(OWNER)) == 25 * UNIT


def test_crash_replays_the_journal_after_the_snapshot(tmp_path: Path) -> None:
    chain = open_chain(tmp_path / "live", snapshot_every=5)
    deploy(chain)
    settle(chain, 0, 3 * UNIT)
    status = chain.status()
    crashed = open_chain(crash_copy(tmp_path / "live", tmp_path / "crashed"))
    covered = status.block_number - status.block_number % 5
    assert (crashed.restored, crashed.replayed) == (covered, status.block_number - covered)
    assert crashed.status() == status
    chain.close()


def test_crash_right_after_a_snapshot_resumes_at_the_last_block(tmp_path: Path) -> None:
    """A snapshot taken as a transaction is appended carries that transaction's block: a restart from it
    (nothing to replay) is at the same block, and the next transaction is mined in the next one."""
    chain = open_chain(tmp_path / "live", snapshot_every=1)
    deploy(chain)
    status = chain.status()
    crashed = open_chain(crash_copy(tmp_path / "live", tmp_path / "crashed"))
    assert (crashed.restored, crashed.replayed) == (status.block_number, 0)
    assert crashed.status() == status
    settle(crashed, 0, 3 * UNIT)
    blocks = [json.loads(line)["block"] for line in crashed.journal_path.read_text().splitlines()]
    assert blocks == list(range(1, len(blocks) + 1))  # no block number used twice
    crashed.close()
    chain.close()


def test_crash_before_any_snapshot_replays_everything(tmp_path: Path) -> None:
    chain = open_chain(tmp_path / "live")
    deploy(chain)
    settle(chain, 0, 3 * UNIT)
    crashed = open_chain(crash_copy(tmp_path / "live", tmp_path / "crashed"))
    assert (crashed.restored, crashed.replayed) == (0, chain.status().block_number)
    assert crashed.claimed(addr_of(OWNER)) == 3 * UNIT
    chain.close()


def test_invalid_corrupt_snapshot_is_ignored(tmp_path: Path) -> None:
    chain = open_chain(tmp_path)
    deploy(chain)
    settle(chain, 0, 3 * UNIT)
    status = chain.status()
    chain.close()
    raw = bytearray(chain.snapshot_path.read_bytes())
    raw[-1] ^= 0xFF
    chain.snapshot_path.write_bytes(bytes(raw))
    reopened = open_chain(tmp_path)
    assert (reopened.restored, reopened.replayed) == (0, status.block_number)
    assert reopened.status() == status


def test_torn_last_line_is_dropped(tmp_path: Path) -> None:
    chain = open_chain(tmp_path)
    deploy(chain)
    blocks = chain.status().block_number
    chain.close()
    with open(chain.journal_path, "a") as handle:
        handle.write('{"sender": "0x12')  # crash in the middle of an append
    reopened = open_chain(tmp_path)
    assert reopened.restored + reopened.replayed == blocks
    assert chain.journal_path.read_text().endswith("}\n")


def test_invalid_journal_that_does_not_replay(tmp_path: Path) -> None:
    chain = open_chain(tmp_path)
    deploy(chain)
    chain.close()
    lines = chain.journal_path.read_text().splitlines()
    record = json.loads(lines[-1])
    record["data"] = "00"  # an edited transaction now reverts on replay
    lines[-1] = json.dumps(record, sort_keys=True)
    chain.journal_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChainStateError, match="does not replay"):
        open_chain(tmp_path)
    with pytest.raises(ChainStateError, match="does not replay"):  # the failed open released its lock
        open_chain(tmp_path)


def test_invalid_second_process_on_same_data_dir(tmp_path: Path) -> None:
    chain = open_chain(tmp_path)
    with pytest.raises(ChainStateError, match="in use by another process"):
        open_chain(tmp_path)
    chain.close()
    open_chain(tmp_path).close()


def test_a_chain_held_by_another_process_is_read_as_its_journal_stands_and_never_written(
    tmp_path: Path,
) -> None:
    writer = open_chain(tmp_path, snapshot_every=2)
    deploy(writer)
    settle(writer, 0, 5 * UNIT)
    journal = writer.journal_path.read_bytes()
    with pytest.raises(ChainInUseError):
        open_chain(tmp_path)
    view = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path), read_only=True)
    assert view.read_only and view.status() == writer.status()
    with pytest.raises(ChainInUseError, match="only reads"):
        view.post_epoch(1, b"\x01" * 32, MANIFEST, 6 * UNIT)
    # the writer goes on, with a transaction half written as the view opens: the view sees the whole ones
    settle(writer, 1, 7 * UNIT)
    with open(writer.journal_path, "ab") as journal_file:
        journal_file.write(b'{"block": 99, "sen')
    later = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path), read_only=True)
    assert later.status().latest_epoch == 1 and later.status().total_claimed == 7 * UNIT
    view.close()
    later.close()
    # the views cut nothing, wrote no snapshot, took no lock: the writer still holds the chain
    written = writer.journal_path.read_bytes()
    assert written.startswith(journal) and written.endswith(b"sen")
    with pytest.raises(ChainInUseError):
        open_chain(tmp_path)
    writer.close()  # a torn line left by a crashed writer is cut by the next writer, as before
    reopened = open_chain(tmp_path)
    assert reopened.status().latest_epoch == 1 and reopened.journal_path.read_bytes().endswith(b"}\n")
    reopened.close()


def test_read_only_of_a_free_chain_is_an_ordinary_writer(tmp_path: Path) -> None:
    chain = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path), read_only=True)
    assert not chain.read_only
    deploy(chain)
    chain.close()


def test_intrinsic_gas_counts_calldata() -> None:
    assert compute_intrinsic_gas(b"", False) == (21_000, 21_000)
    assert compute_intrinsic_gas(b"\x00\x01", False) == (21_000 + 4 + 16, 21_000 + 10 * 5)
    assert compute_intrinsic_gas(bytes(64), True)[0] == 21_000 + 4 * 64 + 32_000 + 4


def test_tx_gas_caps_refund_at_a_fifth() -> None:
    assert compute_tx_gas(b"", False, 79_000, 10**9) == 100_000 - 20_000
    assert compute_tx_gas(b"\x01" * 1_000, False, 0, 0) == 21_000 + 40 * 1_000  # calldata floor wins


def test_invalid_buy_credits_with_a_stale_price_says_what_to_do(tmp_path: Path) -> None:
    now = [1_800_000_000]
    chain = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path), clock=lambda: now[0])
    deploy(chain)  # price posted now, max age one day
    now[0] += 86_401
    with pytest.raises(ChainError, match=r"oracle price is stale.*depin chain price"):
        chain.buy_credits("0.001")
    chain.set_price("1.05")
    assert chain.buy_credits("0.001").credits == 100
    chain.close()
