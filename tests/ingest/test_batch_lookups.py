"""The replay check's store lookups asked once per batch (`unique_seq_pairs`, `possibly_stored`): a batch
gated against only what those lookups fetch gets exactly the results it gets against the whole store."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.config import IngestConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.gate import GateState, gate_signed, possibly_stored, unique_seq_pairs
from opendepin.reports.envelope import EnvelopeError, SignedReport, decode_or_error, sign_report
from opendepin.sectors.base import DeviceInfo, IngestPolicy
from opendepin.sectors.wireless.reports import HEARTBEAT, HeartbeatPayload

KEYS = [DeviceKey("ed25519", bytes([i]) * 32) for i in (3, 4)]
OWNER, MAKER = "0x" + "11" * 20, "0x" + "22" * 20
DEVICES = {k.device_id: DeviceInfo(k.device_id, OWNER, MAKER, "ed25519", "", 0) for k in KEYS}
UNIQUE = "test.unique"
KINDS = {HEARTBEAT: HeartbeatPayload, UNIQUE: HeartbeatPayload}
POLICIES = {HEARTBEAT: IngestPolicy(), UNIQUE: IngestPolicy(seq="unique")}
NOW = 1_800_000_000
PARAMS = IngestConfig()

# (device, kind, seq, payload variant): a variant changes the bytes (another report id) but not the seq
report = st.tuples(
    st.integers(0, 1), st.sampled_from([HEARTBEAT, UNIQUE]), st.integers(0, 5), st.integers(0, 1)
)


def _signed(device: int, kind: str, seq: int, variant: int) -> SignedReport | EnvelopeError:
    payload = {"lat": 52.0 + variant, "lon": 13.0}
    return decode_or_error(sign_report(KEYS[device], kind, NOW, seq, payload).to_wire(), 1 << 20)


def _gate(
    batch: list[SignedReport | EnvelopeError],
    last_seq: dict[str, int],
    stored: set[str],
    used: set[tuple[str, int]],
) -> list[str]:
    """Gate a batch in order as the ingest paths do, adding what each accepted report uses."""
    state = GateState(DEVICES, last_seq, stored, 0, POLICIES, used)
    reasons = []
    for signed in batch:
        assert not isinstance(signed, EnvelopeError)
        result = gate_signed(signed, state, NOW, PARAMS, KINDS, True)
        reasons.append(result.reason)
        if result.accepted and result.record is not None:
            stored.add(result.record.report_id)
            if POLICIES[result.record.kind].seq == "unique":
                used.add((result.record.device_id, result.record.seq))
            else:
                last_seq[result.record.device_id] = result.record.seq
    return reasons


@settings(max_examples=60, deadline=None)
@given(st.lists(report, max_size=8), st.lists(st.one_of(report, st.integers(0, 7)), max_size=10))
def test_a_batch_gated_on_the_fetched_keys_matches_the_whole_store(
    history: list[tuple[int, str, int, int]], later: list[tuple[int, str, int, int] | int]
) -> None:
    last_seq: dict[str, int] = {}
    stored: set[str] = set()
    used: set[tuple[str, int]] = set()
    _gate([_signed(*r) for r in history], last_seq, stored, used)  # the store as earlier batches left it
    # the next batch: new reports, and exact copies of earlier ones (re-sends)
    batch = [
        _signed(*(history[r % len(history)] if isinstance(r, int) else r))
        for r in later
        if history or not isinstance(r, int)
    ]

    whole = _gate(batch, dict(last_seq), set(stored), set(used))

    fetched_seqs = {pair for pair in unique_seq_pairs(batch, POLICIES) if pair in used}
    candidates = possibly_stored(batch, POLICIES, last_seq, fetched_seqs)
    fetched_ids = {report_id for report_id in candidates if report_id in stored}
    assert _gate(batch, dict(last_seq), fetched_ids, fetched_seqs) == whole


def test_an_honest_batch_needs_no_lookup_of_report_ids() -> None:
    batch = [_signed(0, HEARTBEAT, 4, 0), _signed(1, UNIQUE, 2, 0)]
    pairs = unique_seq_pairs(batch, POLICIES)
    assert pairs == [(KEYS[1].device_id, 2)]
    assert possibly_stored(batch, POLICIES, {KEYS[0].device_id: 3}, set()) == []
    # a reused seq (either policy) is looked up, by the report's id
    assert possibly_stored(batch, POLICIES, {KEYS[0].device_id: 4}, {(KEYS[1].device_id, 2)}) == [
        s.report_id for s in batch if not isinstance(s, EnvelopeError)
    ]
