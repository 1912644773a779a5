"""The explorer's JSON views over a `depin up` network served by `depin serve`: the map's cells add up to the
epoch, every device's rewards reproduce from the formula's inputs and add up to the manifest's totals, lists
page without losing or repeating an item, the network's supply is its own running sum."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections import defaultdict
from urllib.parse import quote

import pytest

from opendepin.config import load_config
from opendepin.store.factory import open_store
from tests.explorer.conftest import Network, get_json


def _status(url: str) -> tuple[int, dict[str, str]]:
    try:
        urllib.request.urlopen(url, timeout=30).close()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["detail"]
    return 200, {}


def test_map_cells_add_up_to_the_epoch(server: str) -> None:
    data = get_json(server + "/v1/map")
    manifest = get_json(f"{server}/v1/epochs/{data['epoch']}")
    cells = data["cells"]
    assert len({c["cell"] for c in cells}) == len(cells)
    assert sum(int(c["reward"]) for c in cells) == sum(int(v) for v in manifest["totals"].values())
    assert sum(c["valid_reports"] for c in cells) == manifest["reports"] - sum(
        manifest["invalid_by_reason"].values()
    )
    assert (
        sum(c["devices"] for c in cells)
        == data["devices"]
        == len(get_json(server + "/v1/devices")["devices"])
    )
    for cell in cells:
        assert len(cell["boundary"]) in (10, 12)  # 5 or 6 corners, lat/lng pairs
        assert cell["under_covered"] == (int(cell["reward"]) == 0)
        assert cell["active"] <= cell["devices"] and cell["flagged"] <= cell["devices"]
    assert data["max_reward"] == str(max(int(c["reward"]) for c in cells))
    assert any(c["devices"] == 0 and c["under_covered"] for c in cells)  # the ring around the network


def test_a_cells_devices_page_without_loss_and_agree_with_the_map(server: str) -> None:
    data = get_json(server + "/v1/map")
    cell = max(data["cells"], key=lambda c: c["devices"])
    whole = get_json(f"{server}/v1/map/cells/{cell['cell']}?epoch={data['epoch']}")["items"]
    assert len(whole) == cell["devices"]
    assert sum(int(d["reward"]) for d in whole) == int(cell["reward"])
    assert sum(d["flagged"] for d in whole) == cell["flagged"]
    paged, after = [], None
    while True:
        query = f"epoch={data['epoch']}&limit=2" + (f"&after={quote(after)}" if after else "")
        page = get_json(f"{server}/v1/map/cells/{cell['cell']}?{query}")
        paged += page["items"]
        after = page["next"]
        if after is None:
            break
    assert paged == whole


def test_every_reward_reproduces_and_adds_up_to_the_manifest(server: str) -> None:
    epochs = [e["number"] for e in get_json(server + "/v1/epochs")]
    paid: dict[int, dict[str, int]] = {n: defaultdict(int) for n in epochs}
    for device in get_json(server + "/v1/devices?limit=1000")["devices"]:
        history = get_json(f"{server}/v1/devices/{quote(device['device_id'], safe='')}/rewards?limit=100")
        assert history["next"] is None and [i["epoch"] for i in history["items"]] == epochs[::-1]
        for item in history["items"]:
            assert int(item["amount"]) == sum(int(c["amount"]) for c in item["categories"])
            for category in item["categories"]:
                pool, units, total = (int(category[k]) for k in ("pool", "units", "total_units"))
                formula = pool * units // total if units > 0 and total > 0 else 0
                if category["cap_units"] is not None:
                    formula = min(formula, int(category["cap_units"]))
                assert int(category["formula_amount"]) == formula == int(category["amount"]), category
                paid[item["epoch"]][category["category"]] += int(category["amount"])
    for number in epochs:
        totals = get_json(f"{server}/v1/epochs/{number}")["totals"]
        assert {k: v for k, v in paid[number].items() if v} == {
            k: int(v) for k, v in totals.items() if int(v)
        }


def test_device_reports_page_through_every_report(server: str) -> None:
    device_id = get_json(server + "/v1/devices?limit=1")["devices"][0]["device_id"]
    base = f"{server}/v1/devices/{quote(device_id, safe='')}/reports?epoch=1&limit=7"
    items, after = [], None
    while True:
        page = get_json(base + ("" if after is None else f"&after={after}"))
        items += page["items"]
        after = page["next"]
        if after is None:
            break
    assert [i["index"] for i in items] == list(range(page["total"]))
    assert all(i["reason"] for i in items)


def test_network_figures(server: str) -> None:
    network = get_json(server + "/v1/network")
    rows = network["epochs"]
    assert [r["epoch"] for r in rows] == [e["number"] for e in get_json(server + "/v1/epochs")]
    supply = 0
    for row in rows:
        supply += int(row["paid"]) - int(row["burned"])
        assert int(row["supply"]) == supply
        assert row["lag_p50_s"] <= row["lag_p95_s"] <= row["lag_max_s"]
    assert rows[-1]["devices_onboarded"] == network["devices"]
    assert network["chain"] == "embedded" and int(network["chain_total_supply"]) > 0
    assert set(network["definitions"]) >= {"paid", "burned", "supply", "lag"}


def test_settlement_and_bundle_hash(server: str) -> None:
    settlement = get_json(server + "/v1/epochs/1/settlement")
    assert settlement["chain_root"] == settlement["root"] and settlement["status"].startswith("posted")
    with urllib.request.urlopen(server + "/v1/epochs/1/bundle", timeout=60) as answer:
        digest = hashlib.sha256(answer.read()).hexdigest()
    assert get_json(server + "/v1/epochs/1/bundle/sha256")["sha256"].removeprefix("0x") == digest


def test_an_unregistered_device_is_shown_by_the_reports_that_named_it(server: str, network: Network) -> None:
    config = load_config(network.data_dir / "network.toml")
    store = open_store(config.store, network.data_dir)
    try:
        registered = set(store.devices())
        stranger = next(
            s.device_id
            for s in store.rejection_samples("device.unknown")
            if s.device_id and s.device_id not in registered
        )
    finally:
        store.close()
    overview = get_json(f"{server}/v1/devices/{quote(stranger, safe='')}/overview")
    assert overview["registered"] is False
    assert {s["reason"] for s in overview["rejections"]["samples"]} == {"device.unknown"}


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/v1/devices/ed25519:00/overview", 404, "device.unknown"),
        ("/v1/devices/ed25519:00/rewards", 404, "device.unknown"),
        ("/v1/map?sector=nowhere", 422, "sector.unknown"),
        ("/v1/map/cells/zz", 422, "cell.invalid"),
        ("/v1/map/cells/-1", 422, "cell.invalid"),
        ("/v1/map/cells/ffffffffffffffffffff", 422, "cell.invalid"),
        ("/v1/map/cells/9223372036854775808", 422, "cell.invalid"),
        ("/v1/map/cells/-0x8c1f1d48945d9ff", 422, "cell.invalid"),
        ("/v1/map/cells/8C1F1D48945D9FF", 422, "cell.invalid"),
        ("/v1/map?epoch=999", 404, "epoch.not_closed"),
        ("/v1/epochs/999/settlement", 404, "epoch.not_closed"),
        ("/v1/devices?limit=5000", 422, "request.invalid"),
    ],
)
def test_errors(server: str, path: str, status: int, reason: str) -> None:
    code, detail = _status(server + path)
    assert code == status and detail["reason"] == reason and detail["message"]


def test_epoch_summaries_page_newest_first(server: str) -> None:
    listing = get_json(server + "/v1/epochs")
    first = get_json(server + "/v1/network/epochs?limit=1")
    assert first["items"][0]["number"] == listing[-1]["number"] and first["next"] == listing[-1]["number"]
    rest = get_json(f"{server}/v1/network/epochs?limit=1&before={first['next']}")
    assert [i["number"] for i in rest["items"]] == [listing[-2]["number"]]
    whole = get_json(server + "/v1/network/epochs")
    assert whole["next"] is None
    for summary, full in zip(whole["items"], reversed(listing), strict=True):
        for key in ("number", "start", "end", "root", "emitted", "paid", "rewarded_devices", "leaf_count"):
            assert summary[key] == full[key], key


def test_verdicts_counted_without_kinds_are_the_same_counts(network: Network) -> None:
    """The map's fast path (one sector: verdicts not joined with their reports' kinds) counts the same."""
    from opendepin.explorer.reads import ANY_KIND, StoreReads

    config = load_config(network.data_dir / "network.toml")
    store = open_store(config.store, network.data_dir)
    try:
        reads = StoreReads(store)
        for number in store.epoch_numbers():
            by_kind = reads.verdict_counts(number, by_kind=True)
            merged = {
                device: {
                    reason: sum(counts.get(reason, 0) for counts in kinds.values())
                    for reason in {r for counts in kinds.values() for r in counts}
                }
                for device, kinds in by_kind.items()
            }
            fast = reads.verdict_counts(number, by_kind=False)
            assert {d: dict(k[ANY_KIND]) for d, k in fast.items()} == merged
            assert sum(n for kinds in by_kind.values() for c in kinds.values() for n in c.values()) > 0
    finally:
        store.close()


def test_warming_builds_the_latest_pages_and_changes_nothing(network: Network) -> None:
    """`Explorer.warm` (run by `depin serve` at start and after each close) builds the latest epoch's map,
    the epochs page and the network page; what a visitor then reads is what a cold read gives."""
    from opendepin.clock import SimulatedClock
    from opendepin.explorer.views import EPOCH_PAGE, Explorer
    from opendepin.node import Node

    config = load_config(network.data_dir / "network.toml")
    store = open_store(config.store, network.data_dir)
    try:
        node = Node(config, store, SimulatedClock(config.epochs.genesis_ts))
        cold = Explorer(node)
        expected = (cold.map_view(None, None, None), cold.network(), cold.epoch_summaries(None, EPOCH_PAGE))
        warmed = Explorer(node)
        warmed.warm()
        latest = warmed.latest_epoch()
        assert latest is not None and (latest, None, None) in warmed._maps._items
        assert ("lags", latest) in warmed._facts._items and ("active", latest) in warmed._facts._items
        seen = (warmed.map_view(None, None, None), warmed.network(), warmed.epoch_summaries(None, EPOCH_PAGE))
        assert {k: v for k, v in seen[1].items() if k != "now"} == {
            k: v for k, v in expected[1].items() if k != "now"
        }
        assert seen[0] == expected[0] and seen[2] == expected[2]
    finally:
        store.close()
