"""Usage pools in an epoch: users' credits move weight from coverage to usage, each device is paid at most
the value of the credits it carried, wash usage does not pay, conservation always holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from opendepin.config import NetworkConfig
from opendepin.market.receipts import UsageRecord
from opendepin.rewards.epoch import EpochInputs, process_epoch, window_for
from opendepin.sectors.base import Contribution, DeviceInfo, SectorInput, SectorOutcome, SectorPlugin

TOKEN = 10**18


class Flat(BaseModel):
    pass


class CoverageAndUsage(SectorPlugin):
    """Every device earns one coverage unit; usage is metered into `data_transfer`."""

    name: ClassVar[str] = "test"
    params_model: ClassVar[type[BaseModel]] = Flat

    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        return {}

    def evaluate(self, data: SectorInput) -> SectorOutcome:
        return SectorOutcome([], [Contribution(d, "coverage", 1) for d in sorted(data.devices)])

    def categories(self) -> Sequence[str]:
        return ("coverage",)

    def usage_category(self) -> str | None:
        return "data_transfer"


CONFIG = NetworkConfig.model_validate(
    {
        "emission": {"kind": "fixed", "per_year": 365_000},  # 1,000 tokens a day
        "rewards": {"usage": {"weight": [[0.0, 0.0], [1.0, 0.9]], "credit_usd": 0.00001}},
        "sectors": {},
    }
)
SECTORS = {"test": CoverageAndUsage(Flat())}
DEVICES = {
    f"ed25519:{i:064x}": DeviceInfo(
        f"ed25519:{i:064x}", f"0x{i + 1:040x}", "0x" + "22" * 20, "ed25519", None, 0
    )
    for i in range(4)
}
IDS = sorted(DEVICES)


def _usage(credits_by_device: dict[str, int]) -> list[UsageRecord]:
    return [
        UsageRecord(f"{k:064x}", "test", device, "0x" + "99" * 20, credits, 1, "bytes", f"r{k}", 10, 10)
        for k, (device, credits) in enumerate(sorted(credits_by_device.items()))
    ]


def _run(
    credits: dict[str, int], price_wad: int | None = TOKEN, config: NetworkConfig = CONFIG
) -> dict[str, object]:
    inputs = EpochInputs(window_for(config, 0), DEVICES, [], usage=_usage(credits), price_wad=price_wad)
    return process_epoch(config, SECTORS, inputs).manifest


def _paid(manifest: dict[str, object], category: str) -> int:
    return int(manifest["totals"].get(category, 0))  # type: ignore[attr-defined]


def test_without_usage_coverage_takes_the_whole_device_part() -> None:
    manifest = _run({})
    assert manifest["usage"]["usage_weight"] == "0"  # type: ignore[index]
    assert _paid(manifest, "data_transfer") == 0
    assert _paid(manifest, "coverage") == 800 * TOKEN  # 30 % + 50 % of 1,000 tokens


def test_weight_moves_to_usage_as_usage_approaches_emission() -> None:
    # 1,000 tokens emitted at $1; $500 of credits (50M credits) → r = 1/2, w = 0.45
    manifest = _run({IDS[0]: 25_000_000, IDS[1]: 25_000_000})
    usage = manifest["usage"]
    assert usage["usage_ratio"] == "1/2" and usage["usage_weight"] == "9/20"  # type: ignore[index]
    assert _paid(manifest, "data_transfer") == 360 * TOKEN  # 0.45 × 800, under the $500 cap
    assert _paid(manifest, "coverage") == 440 * TOKEN
    weights = []
    for credits in (0, 10_000_000, 50_000_000, 100_000_000, 300_000_000):
        weights.append(Fraction(_run({IDS[0]: credits} if credits else {})["usage"]["usage_weight"]))  # type: ignore[index]
    assert weights == sorted(weights) and weights[0] == 0 and weights[-1] == Fraction(9, 10)


def test_a_device_earns_at_most_the_value_of_the_credits_it_carried() -> None:
    # a policy that gives usage half the device part even when usage is small: $1 of credits against a
    # 400-token usage pool; the device gets 1 token (the value of its credits at $1) and the rest flows back
    generous = CONFIG.model_copy(
        update={
            "rewards": CONFIG.rewards.model_copy(
                update={"usage": CONFIG.rewards.usage.model_copy(update={"weight": [(0.0, 0.5), (1.0, 0.9)]})}
            )
        }
    )
    manifest = _run({IDS[0]: 100_000}, config=generous)
    assert _paid(manifest, "data_transfer") == 1 * TOKEN
    flows = {(f[0], f[1], f[3]): f[2] for f in manifest["flows"]}  # type: ignore[union-attr]
    assert flows[("data_transfer", "coverage", "cap")] > 390 * TOKEN


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.sampled_from(IDS), st.integers(1, 10**12), max_size=4),
    st.integers(10**14, 10**20),
)
def test_wash_usage_never_pays_more_than_it_burned(credits: dict[str, int], price_wad: int) -> None:
    """Whoever paid for usage on its own devices gets back at most the tokens its credits cost."""
    manifest = _run(credits, price_wad)
    burned_value_tokens = Fraction(sum(credits.values()), 100_000) / Fraction(price_wad, TOKEN)
    assert _paid(manifest, "data_transfer") <= burned_value_tokens * TOKEN
    remainder = sum(manifest["remainder"].values())  # type: ignore[attr-defined]
    assert int(manifest["paid"]) + remainder == int(manifest["emitted"])  # type: ignore[call-overload]


def test_without_an_oracle_price_the_reference_price_values_usage() -> None:
    manifest = _run({IDS[0]: 50_000_000}, price_wad=None)
    assert manifest["usage"]["price_source"] == "reference"  # type: ignore[index]
    assert manifest["usage"]["usage_ratio"] == "1/2"  # type: ignore[index]
