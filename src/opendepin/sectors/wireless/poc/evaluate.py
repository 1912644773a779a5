"""`evaluate_poc`: one epoch of beacons and witnesses → verdicts, contributions, notes, carried state.

The epoch is a plain ordered list of steps (docs/wireless-poc.md): per-report rules → link judgement and
trust (detection beyond the rules) → HIP-106 reciprocity → HIP-83 witness cap → HIP-17 hex scale → HIP-15
units × scale × trust. Money is exact: HIP-15 units and the hex scale are Fractions, trust an integer in
parts per million, and a device's reward units ⌊units × scale × trust × UNIT_SCALE⌋ an integer.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from itertools import compress, repeat
from operator import attrgetter
from typing import Any

from opendepin.background import start
from opendepin.sectors.base import (
    OK,
    UNIT_SCALE,
    Contribution,
    DeviceNote,
    SectorInput,
    SectorOutcome,
    Verdict,
)
from opendepin.sectors.wireless.poc.density_hip17 import compute_hex_scales
from opendepin.sectors.wireless.poc.entropy import ENTROPY_CHALLENGE
from opendepin.sectors.wireless.poc.evidence import ValidLinks
from opendepin.sectors.wireless.poc.matching import BeaconEntry, process_beacons
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reciprocity import is_active
from opendepin.sectors.wireless.poc.reciprocity_pass import process_reciprocity_columns
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS
from opendepin.sectors.wireless.poc.rewards_hip15 import (
    as_fraction,
    compute_beacon_unit,
    compute_hip15_totals,
    compute_witness_unit,
    select_witnesses,
)
from opendepin.sectors.wireless.poc.tables import EpochTables, apply_link_judgement, build_tables
from opendepin.sectors.wireless.poc.trust import (
    PPM,
    LinkJudgement,
    TrustResult,
    compute_trust,
    judge_links,
)
from opendepin.sectors.wireless.poc.witness_columns import judge_witness_columns

ENTROPY_CONTEXT_KEY = "wireless.entropy"
"""`SectorInput.context[ENTROPY_CONTEXT_KEY]`: mapping entropy hex → timestamp it was served at (the
simulator's way to pass served entropy; the node passes it as `wireless.entropy` challenges)."""


@dataclass(frozen=True, slots=True)
class TrustJob:
    """Trust being computed on a thread of its own (`result`), and the link judgement it starts from
    (`judged`, first thing that thread computes; None when trust is off), which `apply` writes into the
    verdicts and the beacons' witness lists."""

    result: Future[TrustResult]
    tables: EpochTables | None = None
    judged: Future[LinkJudgement] | None = None

    def apply(self, verdicts: dict[str, Verdict], params: PocParams) -> None:
        """Relayed, implausible and too-close links get their verdicts and leave their beacons' lists (the
        lists must be complete: after `WitnessJudgement.record_valid`)."""
        if self.tables is not None and self.judged is not None:
            apply_link_judgement(self.tables, self.judged.result(), verdicts, params)


def start_trust(
    data: SectorInput,
    beacons: Mapping[tuple[str, str], BeaconEntry],
    valid: ValidLinks | None,
    params: PocParams,
) -> TrustJob:
    """Judge each valid link (relayed, implausible), then compute trust per device, on a thread of its own:
    it reads the epoch's arrays only, so the valid witnesses' verdicts and entries, HIP-106 reciprocity and
    the HIP-83 cap (which edit the beacons' witness lists and the verdicts) run meanwhile on the caller's;
    same result. `valid`: the rule-valid links (None: read from the beacons' witness lists)."""
    if not params.trust.enabled:
        done: Future[TrustResult] = Future()
        done.set_result(TrustResult({}, [], {}))
        return TrustJob(done)
    tables = build_tables(data, beacons, params, valid)
    prior = data.prior_state.get("trust", {})
    judged: Future[LinkJudgement] = Future()

    def judge_then_trust() -> TrustResult:
        try:
            judgement = judge_links(tables.links, tables.devices, params.trust)
        except BaseException as error:
            judged.set_exception(error)
            raise
        judged.set_result(judgement)
        return compute_trust(tables.links, judgement, tables.devices, tables.beacons, prior, params.trust)

    return TrustJob(start(judge_then_trust), tables, judged)


WitnessCounts = dict[str, Counter[int]]
"""Per device: how many of its counted reports had n selected witnesses (n → count)."""


def count_by_device(pairs: Iterable[tuple[str, int]]) -> WitnessCounts:
    """(device, n) pairs → per device, how many had each n (one Counter over all pairs, then split)."""
    counts: WitnessCounts = {}
    for (device, n), count in Counter(pairs).items():
        per_n = counts.get(device)
        if per_n is None:
            per_n = counts[device] = Counter()
        per_n[n] = count
    return counts


def process_units(
    beacons: Mapping[tuple[str, str], BeaconEntry],
    verdicts: dict[str, Verdict],
    params: PocParams,
) -> tuple[WitnessCounts, WitnessCounts]:
    """HIP-83 cap, then per device the witness counts n of its valid beacons and of its selected witnesses
    (HIP-15 pays each by n, see `compute_hip15_total`)."""
    beacon_pairs: list[tuple[str, int]] = []
    witness_devices: list[str] = []
    witness_ns: list[int] = []
    shown: dict[int, tuple[float, float]] = {}
    for beacon in beacons.values():
        report = beacon.report
        if report.report_id in verdicts and not verdicts[report.report_id].ok:
            continue
        kept, dropped = select_witnesses(beacon.witnesses, params)
        for rank, witness in enumerate(dropped, start=len(kept) + 1):
            verdicts[witness.report_id] = Verdict(
                witness.report_id, "witness.not_selected", {"rank": rank, "cap": params.witness_cap}
            )
        n = len(kept)
        if n not in shown:  # HIP-15 units for evidence shown to people (money uses the exact Fractions)
            shown[n] = (
                round(float(compute_beacon_unit(n, params)), 6),
                round(float(compute_witness_unit(n, params)), 6),
            )
        b_unit, w_unit = shown[n]
        verdicts[report.report_id] = Verdict(
            report.report_id,
            OK,
            {**verdicts[report.report_id].evidence, "witnesses": n, "hip15_unit": b_unit},
        )
        beacon_pairs.append((report.device_id, n))
        for rank, witness in enumerate(kept, start=1):
            report_id = witness.report_id
            verdict = verdicts[report_id]
            evidence = verdict.evidence
            if verdict.reason == OK and type(evidence) is dict:
                # A valid witness's evidence is its verdict's alone (made fresh by the witness rules):
                # completed in place, it spares a dict and a verdict per witness (2.5 M at 100,000
                # hotspots), with the same keys in the same order.
                evidence["rank"] = rank
                evidence["witnesses"] = n
                evidence["hip15_unit"] = w_unit
            else:
                verdicts[report_id] = Verdict(
                    report_id,
                    OK,
                    {**evidence, "rank": rank, "witnesses": n, "hip15_unit": w_unit},
                )
        witness_devices.extend(map(attrgetter("device_id"), kept))
        witness_ns.extend(repeat(n, n))
    return count_by_device(beacon_pairs), count_by_device(zip(witness_devices, witness_ns, strict=True))


def compute_scaled_units(
    hip15: Fraction, scale: Fraction, trust_ppm: int, corroboration_ppm: int = PPM
) -> int:
    """Integer reward units = ⌊HIP-15 units × hex scale × trust × corroboration × UNIT_SCALE⌋, exact (trust
    and corroboration in ppm)."""
    numerator = hip15.numerator * scale.numerator * trust_ppm * corroboration_ppm * UNIT_SCALE
    return numerator // (hip15.denominator * scale.denominator * PPM * PPM)


def format_ppm(ppm: int) -> str:
    """Parts per million as an exact decimal string (750000 → "0.750000")."""
    return f"{ppm // PPM}.{ppm % PPM:06d}"


def build_contributions(
    counts: Mapping[str, WitnessCounts],
    scales: Mapping[str, Fraction],
    trust: Mapping[str, int],
    params: PocParams,
    corroboration: Mapping[str, int] | None = None,
    shared: Mapping[str, int] | None = None,
) -> tuple[list[Contribution], list[DeviceNote]]:
    """Contributions per device and category with the breakdown of every factor (all exact). A device in
    `shared` (device → k) is paid 1/k of one hotspot's coverage: its hex scale is divided by k, exactly
    (`compute_coverage_shares`)."""
    corroboration = corroboration or {}
    shared = shared or {}
    contributions: list[Contribution] = []
    notes: list[DeviceNote] = []
    default_scale = as_fraction(params.default_hex_scale)
    for category in (params.beacon_category, params.witness_category):
        beacon = category == params.beacon_category
        totals = compute_hip15_totals(counts[category], params, beacon)
        for device, per_n in sorted(counts[category].items()):
            hip15 = totals[device]
            scale = scales.get(device, default_scale)
            trust_ppm = trust.get(device, PPM)
            corroboration_ppm = corroboration.get(device, PPM)
            breakdown = {
                "hip15_units": str(hip15),
                "hex_scale": str(scale),
                "trust": format_ppm(trust_ppm),
                "trust_ppm": trust_ppm,
                "witness_counts": {str(n): c for n, c in sorted(per_n.items())},
                "rule": "floor(hip15_units × hex_scale × trust_ppm / 1e6 × 1e9), exact",
            }
            if corroboration_ppm < PPM:
                breakdown["corroboration_ppm"] = corroboration_ppm
                breakdown["rule"] = (
                    "floor(hip15_units × hex_scale × trust_ppm / 1e6 × corroboration_ppm / 1e6 × 1e9), exact"
                )
            share = shared.get(device, 1)
            if share > 1:
                breakdown["coverage_share"] = f"1/{share}"
                breakdown["rule"] = str(breakdown["rule"]).replace("hex_scale", "hex_scale × coverage_share")
            units = compute_scaled_units(hip15, scale / share, trust_ppm, corroboration_ppm)
            contributions.append(Contribution(device, category, units, breakdown))
    for device in sorted(set(counts[params.beacon_category]) | set(counts[params.witness_category])):
        if device not in scales:
            notes.append(DeviceNote(device, "poc.default_hex_scale", {"hex_scale": str(default_scale)}))
    return contributions, notes


def compute_active(
    devices: Mapping[str, Any],
    last_w: Mapping[str, int],
    last_b: Mapping[str, int],
    at: int,
    params: PocParams,
) -> dict[str, str]:
    """Devices recently reciprocal (HIP-17 activity window) → asserted cell."""
    return {
        device: devices[device].location
        for device in sorted(set(last_w) & set(last_b))
        if device in devices
        and devices[device].location is not None
        and is_active(last_w[device], last_b[device], at, params.density_active_window_s)
    }


def _merge_times(prior: Mapping[str, int], current: Mapping[str, int], horizon: int) -> dict[str, int]:
    merged = {**prior, **current}
    return {k: v for k, v in sorted(merged.items()) if v >= horizon}


@contextmanager
def pause_gc() -> Iterator[None]:
    """Cyclic garbage collection off for the duration (restored after, if it was on).

    An epoch creates millions of small acyclic objects (payloads, verdicts, evidence dicts) while millions
    more (the epoch's reports) are alive: every full collection in between walks all of them, a quarter
    of the scoring time of a 20,000-hotspot epoch, and frees nothing (reference counting frees these).
    Nothing computed depends on it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def evaluate_poc(data: SectorInput, params: PocParams) -> SectorOutcome:
    """Pure: verdict for every beacon and witness report, contributions, trust notes, carried state."""
    with pause_gc():
        return _evaluate_poc(data, params)


def _evaluate_poc(data: SectorInput, params: PocParams) -> SectorOutcome:
    prior = data.prior_state
    entropies = {str(k): int(v) for k, v in dict(data.context.get(ENTROPY_CONTEXT_KEY, {})).items()}
    entropies.update({c.challenge_id: c.issued_at for c in data.challenges if c.kind == ENTROPY_CHALLENGE})
    kinds = list(map(attrgetter("kind"), data.reports))
    beacon_reports = list(compress(data.reports, [kind == BEACON for kind in kinds]))
    witness_reports = list(compress(data.reports, [kind == WITNESS for kind in kinds]))
    verdicts, beacons, cited, buckets = process_beacons(
        beacon_reports, data.devices, entropies, prior.get("beacon_bucket", {}), params
    )
    judgement = judge_witness_columns(witness_reports, data.devices, entropies, beacons, cited, params)
    valid = judgement.valid_links()
    if valid is None:  # some lists hold what the reference decided: trust reads the lists, once complete
        judgement.record_valid()
    trusting = start_trust(data, beacons, valid, params)
    witnessed = judgement.record_valid()  # the valid witnesses' verdicts and entries, while trust runs
    witnessed.update(verdicts)  # the beacons' few verdicts into the witnesses' many (ids never collide)
    verdicts = witnessed
    trusting.apply(verdicts, params)
    last_w, last_b = process_reciprocity_columns(beacons, verdicts, prior, params)
    beacon_counts, witness_counts = process_units(beacons, verdicts, params)
    # the verdicts are final here (trust reads the links, not the verdicts): put them in report order
    # while trust still runs
    found = map(verdicts.get, map(attrgetter("report_id"), data.reports))
    ordered = [verdict for verdict in found if verdict is not None]
    horizon = data.window.end - max(params.reciprocity_window_s, params.density_active_window_s)
    all_w = _merge_times(prior.get("last_witness", {}), last_w, horizon)
    all_b = _merge_times(prior.get("last_beacon", {}), last_b, horizon)
    trusted = trusting.result.result()
    active = compute_active(data.devices, all_w, all_b, data.window.end, params)
    active = {device: trusted.colocated.get(device, cell) for device, cell in active.items()}
    scales = compute_hex_scales(active, params)
    counts = {params.beacon_category: beacon_counts, params.witness_category: witness_counts}
    contributions, notes = build_contributions(
        counts, scales, trusted.trust, params, trusted.corroboration, trusted.shared
    )
    current_bucket = data.window.end // params.beacon_interval_s
    state = {
        "beacon_bucket": {k: v for k, v in sorted(buckets.items()) if v >= current_bucket - 1},
        "last_witness": all_w,
        "last_beacon": all_b,
        "trust": trusted.state,
    }
    return SectorOutcome(ordered, contributions, [*trusted.notes, *notes], state)
