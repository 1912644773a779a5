"""The epoch engine: conservation (property), determinism, cumulative carry, unused pools flowing on."""

from __future__ import annotations

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.config import NetworkConfig
from opendepin.geo import offset_point
from opendepin.reports.model import ReportRecord
from opendepin.rewards.digest import canonical_json
from opendepin.rewards.epoch import EpochInputs, process_epoch, window_for
from opendepin.rewards.merkle import hash_leaf, verify_proof
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

CONFIG = NetworkConfig()
SECTORS = load_sectors(CONFIG)
CELLS = ["8c1f1d48945d9ff", "8c1f1d4894081ff", "8c1f1d48941a9ff"]


def _inputs(
    spec: list[tuple[int, int, int, float]], number: int = 0, prior: dict[str, int] | None = None
) -> EpochInputs:
    """spec: (owner, cell, hours, metres off) per device."""
    window = window_for(CONFIG, number)
    devices = {}
    reports = []
    for i, (owner, cell, hours, metres) in enumerate(spec):
        device = DeviceInfo(
            f"ed25519:{i:064x}", "0x" + f"{owner + 1:040x}", "0x" + "22" * 20, "ed25519", CELLS[cell], i
        )
        devices[device.device_id] = device
        lat, lon = offset_point(*h3.cell_to_latlng(CELLS[cell]), metres, 10)
        for h in range(hours):
            ts = window.start + h * 3600 + 5
            reports.append(
                ReportRecord(
                    f"{i:04x}hb{h:02x}", HEARTBEAT, device.device_id, ts, h, {"lat": lat, "lon": lon}, ts
                )
            )
        for k in range(3):
            ts = window.start + k * 3600 + 7
            reports.append(
                ReportRecord(
                    f"{i:04x}st{k}",
                    SPEEDTEST,
                    device.device_id,
                    ts,
                    100 + k,
                    {"download_mbps": 80, "upload_mbps": 9, "latency_ms": 55},
                    ts,
                )
            )
    return EpochInputs(window, devices, sorted(reports, key=lambda r: r.report_id), prior or {})


device_specs = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 2), st.integers(0, 24), st.sampled_from([5.0, 320.0, 900.0])),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(device_specs)
def test_paid_plus_remainder_equals_emission(spec: list[tuple[int, int, int, float]]) -> None:
    result = process_epoch(CONFIG, SECTORS, _inputs(spec))
    manifest = result.manifest
    assert manifest["paid"] + sum(manifest["remainder"].values()) == manifest["emitted"]
    assert sum(amount for _d, _c, _u, amount, _b in result.device_rewards) == manifest["paid"]
    if result.tree is not None:
        for owner, cumulative in manifest["leaves"]:
            assert verify_proof(result.tree.root, hash_leaf(owner, int(cumulative)), result.tree.proof(owner))


def test_deterministic_and_cumulative() -> None:
    spec = [(0, 0, 24, 5.0), (1, 1, 24, 5.0), (1, 2, 12, 320.0)]
    first = process_epoch(CONFIG, SECTORS, _inputs(spec))
    again = process_epoch(CONFIG, SECTORS, _inputs(spec))
    assert canonical_json(first.manifest) == canonical_json(again.manifest)
    prior = {owner: cumulative for owner, _amount, cumulative in first.owner_rewards}
    second = process_epoch(CONFIG, SECTORS, _inputs(spec, number=1, prior=prior))
    for owner, amount, cumulative in second.owner_rewards:
        assert cumulative == prior.get(owner, 0) + amount
    assert second.manifest["inputs_digest"] != first.manifest["inputs_digest"]


def test_unused_data_transfer_flows_to_coverage_rest_is_remainder() -> None:
    result = process_epoch(CONFIG, SECTORS, _inputs([(0, 0, 24, 5.0)]))
    manifest = result.manifest
    emitted = manifest["emitted"]
    assert manifest["pools"]["data_transfer"] == 0
    assert manifest["pools"]["coverage"] == emitted * 8_000 // 10_000
    assert manifest["paid"] == manifest["pools"]["coverage"]
    no_recipient = {"no_recipient.operations", "no_recipient.oracles", "no_recipient.stakers"}
    assert no_recipient <= set(manifest["remainder"]) <= no_recipient | {"split_rounding", "flow_rounding"}


def test_recipients_are_paid() -> None:
    config = NetworkConfig.model_validate({"rewards": {"recipients": {"oracles": "0x" + "ab" * 20}}})
    result = process_epoch(config, load_sectors(config), _inputs([(0, 0, 24, 5.0)]))
    assert result.manifest["totals"]["oracles"] == result.manifest["pools"]["oracles"]
    assert any(owner.lower() == "0x" + "ab" * 20 for owner, _ in result.manifest["leaves"])


def test_no_devices_pays_nobody() -> None:
    result = process_epoch(CONFIG, SECTORS, _inputs([]))
    assert result.manifest["paid"] == 0 and result.manifest["root"] is None and result.tree is None
    assert result.manifest["remainder"]["unallocated.coverage"] > 0


def test_conservation_is_checked_with_a_named_error() -> None:
    import pytest

    from opendepin.rewards.epoch import ConservationError, check_conservation

    check_conservation(100, 90, {"rounding.coverage": 10})
    with pytest.raises(ConservationError, match="paid 90 \\+ remainder 9 = 99 ≠ emission 100"):
        check_conservation(100, 90, {"rounding.coverage": 9})
    with pytest.raises(ConservationError):
        check_conservation(100, 110, {"rounding.coverage": -10})


def test_every_money_deciding_input_moves_the_inputs_digest() -> None:
    from dataclasses import replace

    base = _inputs([(0, 0, 20, 5.0), (1, 1, 20, 5.0)])
    digest = process_epoch(CONFIG, SECTORS, base).manifest["inputs_digest"]
    first = base.reports[0]
    rest = base.reports[1:]
    device_id = next(iter(base.devices))
    regained = replace(base.devices[device_id], attributes={"gain_dbi": 8.0})
    variants = {
        "received_at": replace(base, reports=[replace(first, received_at=first.received_at + 400), *rest]),
        "attributes": replace(base, devices={**base.devices, device_id: regained}),
        "onboarding": replace(base, onboarding={device_id: {"maker_signature": "0x00"}}),
        "context": replace(base, context={"wireless.entropy": {"ab": 1}}),
        "prior_state": replace(base, prior_state={"wireless": {"x": 1}}),
        "prior_cumulative": replace(base, prior_cumulative={"0x" + "33" * 20: 5}),
        "rejections": replace(base, rejections={"report.malformed": 1}),
    }
    for name, inputs in variants.items():
        assert process_epoch(CONFIG, SECTORS, inputs).manifest["inputs_digest"] != digest, name
