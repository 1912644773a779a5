"""The explorer in a real browser (headless Chromium): every page loads from the node alone, the map draws
the network's cells and lists a cell's devices, a device's reward breakdown adds up to what the epoch paid
it, the verify panel says "match" for a real owner and "differs" once the proof is altered. Screenshots go to
the test artifacts (conftest.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from opendepin.config import load_config
from opendepin.store.factory import open_store
from tests.explorer.conftest import Browser, Network, get_json


def _rewarded_device(server: str) -> tuple[str, int]:
    """A device paid in the latest epoch and its epoch number, found through the map's cells."""
    data = get_json(server + "/v1/map")
    for cell in sorted(data["cells"], key=lambda c: -int(c["reward"])):
        for device in get_json(f"{server}/v1/map/cells/{cell['cell']}?epoch={data['epoch']}")["items"]:
            if int(device["reward"]) > 0:
                return device["device_id"], data["epoch"]
    raise AssertionError("no device earned in the latest epoch")


def _bad_signature_device(network: Network) -> str:
    """A device every report of which failed its signature (the fleet's `bad-signature` behaviour)."""
    config = load_config(network.data_dir / "network.toml")
    store = open_store(config.store, network.data_dir)
    try:
        named = {s.device_id for s in store.rejection_samples("signature.invalid") if s.device_id}
        registered = set(store.devices())
        for device_id in sorted(named & registered):
            rewards = get_rewards_of(store, device_id)
            if rewards == 0:
                return device_id
    finally:
        store.close()
    raise AssertionError("the fleet has no device whose signatures all fail")


def get_rewards_of(store: Any, device_id: str) -> int:
    return sum(
        int(r["amount"]) for n in store.epoch_numbers() for r in store.device_epoch(n, device_id)["rewards"]
    )


PAGES = [
    ("/", "map", "map"),
    ("/network", "network", "network"),
    ("/epochs", "epochs", "epochs"),
    ("/epochs/1", "epoch", "epoch"),
    ("/devices", "devices", "devices"),
]


@pytest.mark.parametrize(("path", "ready", "name"), PAGES)
def test_page_loads_from_the_node_alone(browser: Browser, path: str, ready: str, name: str) -> None:
    page = browser.open(path, ready)
    assert page.locator("main .error").count() == 0, page.inner_text("main")
    assert browser.outside == [] and browser.errors == []
    browser.screenshot(page, name)


@pytest.mark.parametrize(("path", "selector"), [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
def test_api_documents_load_from_the_node_alone(browser: Browser, path: str, selector: str) -> None:
    page = browser.context.new_page()
    page.goto(browser.base + path)
    page.wait_for_selector(selector, timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert browser.outside == []
    assert "POST /v1/reports" in page.inner_text("body").replace("\n", " ") or path == "/redoc"
    browser.screenshot(page, path.strip("/"))


def test_map_draws_the_cells_and_lists_a_cells_devices(browser: Browser, server: str) -> None:
    data = get_json(server + "/v1/map")
    populated = [c for c in data["cells"] if c["devices"]]
    assert populated and sum(c["devices"] for c in populated) == data["devices"] > 0
    page = browser.open("/", "map")
    assert int(page.get_attribute("#map", "data-cells")) == len(populated)
    # click the busiest cell: its centre on the canvas, as the page projects it
    cell = max(populated, key=lambda c: (c["devices"], c["cell"]))
    lats, lngs = cell["boundary"][0::2], cell["boundary"][1::2]
    x, y = page.evaluate(
        "([lat, lng]) => window.explorerMap.project(lat, lng)", [sum(lats) / len(lats), sum(lngs) / len(lngs)]
    )
    page.locator("#map").click(position={"x": x, "y": y})
    page.wait_for_selector(f"#cell-panel[data-cell='{cell['cell']}']", timeout=30_000)
    listed = page.locator("#cell-panel table.cell-devices tbody tr").count()
    assert "null" not in page.inner_text("#cell-panel")
    assert listed == min(cell["devices"], 200)
    assert browser.outside == [] and browser.errors == []
    browser.screenshot(page, "map-cell")
    # the layers: flagged and under-covered cells exist in this network and are drawn as outlines
    assert any(c["flagged"] for c in populated) and any(c["under_covered"] for c in data["cells"])


def test_device_reward_breakdown_adds_up_to_the_epochs_amount(browser: Browser, server: str) -> None:
    device_id, epoch = _rewarded_device(server)
    page = browser.open(f"/devices/{quote(device_id, safe='')}", "device")
    block = page.locator(f".epoch-block[data-epoch='{epoch}']")
    amount = int(block.get_attribute("data-amount"))
    assert int(block.get_attribute("data-sum")) == amount > 0
    rows = block.locator(".reward-row")
    assert rows.count() >= 1
    for i in range(rows.count()):  # the page's own BigInt recomputation from pool, units and total units
        row = rows.nth(i)
        assert row.get_attribute("data-recomputed") == row.get_attribute("data-amount")
    # the same amount, from another code path: `depin explain`'s route
    explained = get_json(f"{server}/v1/devices/{quote(device_id, safe='')}/explain?epoch={epoch}")
    assert int(explained["amount"]) == amount
    assert "reproduces" in block.inner_text() and "differs" not in block.inner_text()
    assert browser.outside == [] and browser.errors == []
    browser.screenshot(page, "device", full_page=True)


def test_a_device_whose_signatures_all_fail_shows_its_refused_reports(
    browser: Browser, network: Network
) -> None:
    device_id = _bad_signature_device(network)
    page = browser.open(f"/devices/{quote(device_id, safe='')}", "device")
    samples = page.locator("#rejections-samples tbody tr")
    assert samples.count() > 0
    assert "signature.invalid" in page.inner_text("#rejections-samples")
    assert "not verified" in page.inner_text("#rejections-samples")
    assert browser.outside == [] and browser.errors == []
    browser.screenshot(page, "device-bad-signature")


def test_verify_panel_matches_a_real_owner_and_not_an_altered_proof(browser: Browser, server: str) -> None:
    epochs = get_json(server + "/v1/epochs")
    number = epochs[-1]["number"]
    manifest = get_json(f"{server}/v1/epochs/{number}")
    owner = max(manifest["leaves"], key=lambda leaf: int(leaf[1]))[0]
    page = browser.open(f"/epochs/{number}", "epoch")
    page.fill("#verify-address", owner)
    page.click("#verify-fetch")
    page.wait_for_selector("#verify-result[data-verdict]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-verdict") == "match"
    assert "the embedded chain holds this root" in page.inner_text("#verify-chain")
    assert page.input_value("#verify-amount") == dict(map(tuple, manifest["leaves"]))[owner]
    browser.screenshot(page, "verify-match", full_page=True)
    proof = page.input_value("#verify-proof").split("\n")
    assert proof and all(p.startswith("0x") for p in proof)
    flipped = proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1")
    page.fill("#verify-proof", "\n".join([flipped, *proof[1:]]))
    page.click("#verify-check")
    page.wait_for_function("document.querySelector('#verify-result').dataset.verdict === 'differs'")
    assert "differs" in page.inner_text("#verify-verdict")
    # an altered amount differs too
    page.fill("#verify-proof", "\n".join(proof))
    page.fill("#verify-amount", str(int(page.input_value("#verify-amount")) + 1))
    page.click("#verify-check")
    assert page.get_attribute("#verify-result", "data-verdict") == "differs"
    assert browser.outside == [] and browser.errors == []
    browser.screenshot(page, "verify-differs", full_page=True)


def test_device_page_links_to_the_owners_proof(browser: Browser, server: str) -> None:
    device_id, epoch = _rewarded_device(server)
    page = browser.open(f"/devices/{quote(device_id, safe='')}", "device")
    page.locator(f".epoch-block[data-epoch='{epoch}'] a.verify-link").click()
    page.wait_for_selector("#verify-result[data-verdict]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-verdict") == "match"
    assert browser.outside == [] and browser.errors == []


def test_depin_up_explore_serves_the_explorer_with_the_chain(network: Network) -> None:
    assert network.explored["url"].startswith("http://127.0.0.1:")
    assert "<title>Map" in network.explored["page"]
    settlement = network.explored["settlement"]
    assert settlement["chain"] == "embedded" and settlement["chain_root"] == settlement["root"]
