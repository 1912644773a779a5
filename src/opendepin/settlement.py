"""Settlement of closed epochs on the chain (docs/architecture.md): post every epoch's rewards root in order
with its manifest hash, the running total the root pays and k-of-n oracle signatures, then spend on chain
the data credits of the usage the epoch paid for (the burn users made is the network's revenue).

The shell between the store and a ChainBackend: it knows epoch records and payers' receipts, nothing of
the simulator (`depin up`'s simulated makers, owners and price feeder live in `fleet/chain_actors.py`).

Rules:
- epochs are posted in order, each exactly once (`ChainBackend.settle_epoch` is safe to re-run);
- credits are spent only after the epoch's root is posted, as the router role, per payer, for the
  receipts received in the epoch's window and not yet settled; a payer whose balance fell short (spent
  elsewhere since) is spent down to what it holds and the shortfall reported;
- a payer's receipts are marked settled right after its spend is mined, so a re-run spends only the
  payers not yet marked. Before each spend is broadcast, the store records it as in flight (epoch, payer,
  credits); after a crash, an in-flight spend is looked up on chain (the router's spend of exactly those
  credits with the epoch's tag) and, if found, only recorded: a spend is never sent twice;
- the root is posted with k-of-n oracle signatures (`gather_signatures`): each oracle is asked in turn,
  a signature counts only if it recovers to a distinct member of the oracle set, and posting waits until
  k are gathered;
- `SettlementLoop` settles every closed epoch not yet settled, in order, after each close and on a timer
  (a failure is logged and retried; nothing is skipped). Where it stands is the store's
  `chain_settled_until` (the next epoch to settle; `depin up` keeps the same key).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_utils import keccak

from opendepin.chain.backend import ZERO_ROOT, ChainBackend
from opendepin.chain.keys import oracle_name
from opendepin.chain.signing import compute_epoch_digest, sign_digest
from opendepin.rewards.digest import canonical_json
from opendepin.store.base import EpochRecord, Store


def chain_device_key(device_id: str) -> bytes:
    """The registry's 32-byte key of a device: SHA-256 of its id (ed25519 and P-256 ids alike)."""
    return hashlib.sha256(device_id.encode()).digest()


def compute_manifest_hash(manifest: Mapping[str, Any]) -> bytes:
    """keccak-256 of the manifest's canonical JSON: what the oracles sign next to the root."""
    return keccak(canonical_json(dict(manifest)))


def compute_tree_total(manifest: Mapping[str, Any]) -> int:
    """The running total an epoch's root pays: Σ of its cumulative leaves (0 for a tree without leaves).

    Every owner's leaf is its lifetime reward, so this is everything ever paid up to this epoch: what the
    oracles sign and the distributor lets claims reach, never more.
    """
    return sum(int(amount) for _owner, amount in manifest["leaves"])


def usage_tag(epoch: int) -> bytes:
    """The reason recorded on chain with the credits spent for epoch `epoch`'s usage (keccak of a text)."""
    return keccak(f"opendepin usage epoch {epoch}".encode())


SETTLED_KEY = "chain_settled_until"
"""Store meta: the next epoch to settle (every epoch below it is posted and its usage spent)."""
INFLIGHT_KEY = "settlement_inflight_spend"
"""Store meta: the spend being broadcast (JSON: epoch, payer, credits, start, end), or empty."""
LAST_SETTLED_AT_KEY = "chain_settled_at"
"""Store meta: Unix time at which the latest epoch finished settling."""

log = logging.getLogger(__name__)

OracleSigner = Callable[[bytes], bytes]
"""An oracle asked to sign an epoch digest: returns its 65-byte signature (or raises)."""


class NotEnoughSignatures(RuntimeError):
    """Fewer than k distinct oracles of the set signed the epoch."""


def gather_signatures(
    signers: Sequence[OracleSigner], digest: bytes, oracle_set: Sequence[str], threshold: int
) -> list[bytes]:
    """k-of-n: ask each oracle in turn until `threshold` valid signatures are gathered, ordered by
    ascending signer address as the distributor requires. Rule: a signature counts when it recovers to an
    address of `oracle_set` not already counted; a failing or foreign oracle is skipped (and named in the
    error if fewer than `threshold` remain)."""
    members = {address.lower() for address in oracle_set}
    by_signer: dict[str, bytes] = {}
    problems: list[str] = []
    for index, signer in enumerate(signers):
        if len(by_signer) >= threshold:
            break
        try:
            signature = signer(digest)
            who = str(Account._recover_hash(digest, signature=signature)).lower()
        except Exception as error:  # an oracle down or answering garbage: ask the next one
            problems.append(f"oracle {index}: {error}")
            continue
        if who not in members:
            problems.append(f"oracle {index}: signed as {who}, not a member of the oracle set")
        elif who not in by_signer:
            by_signer[who] = signature
    if len(by_signer) < threshold:
        raise NotEnoughSignatures(
            f"{len(by_signer)} of the {threshold} oracle signatures needed: "
            + ("; ".join(problems) or "no oracle answered")
        )
    return [by_signer[who] for who in sorted(by_signer, key=lambda a: int(a, 16))]


def local_oracle_signers(backend: ChainBackend) -> list[OracleSigner]:
    """One signer per oracle key the data dir holds (in a production network each oracle runs apart and
    is reached over its own channel; these are the ones this node can ask directly)."""
    return [lambda digest, key=key: sign_digest(key, digest) for key in backend.keys.oracles]


def _mean(values: Sequence[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


@dataclass
class EpochSettler:
    """Posts closed epochs and spends their usage credits; keeps gas figures for the summary."""

    backend: ChainBackend
    store: Store
    gas: dict[str, list[int]] = field(default_factory=lambda: {"post_epoch": [], "spend_credits": []})
    signers: Sequence[OracleSigner] | None = None
    """Oracles asked for k-of-n signatures (None: the data dir's oracle keys sign, as many as needed)."""

    def post(self, record: EpochRecord, signatures: Sequence[bytes] | None = None) -> str:
        """Post the epoch's root (every epoch, in order: the chain accepts no gap); `signatures` are the
        oracles' (None: signed with the oracle keys this data dir holds). Returns `posted` or
        `already_posted`."""
        manifest = record.manifest
        root = manifest.get("root")
        root_bytes = None if root is None else bytes.fromhex(str(root)[2:])
        manifest_hash, total = compute_manifest_hash(manifest), compute_tree_total(manifest)
        if signatures is None and self.signers is not None:
            signatures = self.gather(record.number, root_bytes, manifest_hash, total)
        settlement = self.backend.settle_epoch(record.number, root_bytes, manifest_hash, total, signatures)
        if settlement.receipt is not None:
            self.gas["post_epoch"].append(settlement.receipt.gas_used)
        return settlement.status

    def gather(self, epoch: int, root: bytes | None, manifest_hash: bytes, total: int) -> list[bytes]:
        """k-of-n signatures of the epoch's posting from `signers` (see `gather_signatures`)."""
        keys = self.backend.keys
        digest = compute_epoch_digest(
            self.backend.chain_id,
            self.backend.contracts["RewardsDistributor"],
            epoch,
            root or ZERO_ROOT,
            manifest_hash,
            total,
        )
        oracle_set = [keys.address(oracle_name(i)) for i in range(keys.oracle_count)]
        return gather_signatures(self.signers or (), digest, oracle_set, keys.threshold)

    def reconcile(self) -> str | None:
        """After a restart: settle the record of a spend broadcast but never recorded. Returns what was
        found (`recorded`: mined, now recorded; `not_sent`: not on chain, it will be sent normally) or None
        when nothing was in flight."""
        raw = self.store.get_meta(INFLIGHT_KEY)
        if not raw:
            return None
        spend = json.loads(raw)
        if self.backend.credit_spend_found(spend["payer"], spend["credits"], usage_tag(spend["epoch"])):
            self.store.mark_usage_settled(spend["start"], spend["end"], spend["payer"], spend["epoch"])
            outcome = "recorded"
        else:
            outcome = "not_sent"
        log.warning(
            "settlement: spend of %s credits of %s for epoch %s was in flight at the last stop: %s",
            spend["credits"],
            spend["payer"],
            spend["epoch"],
            "found on chain, recorded (not sent again)"
            if outcome == "recorded"
            else "not on chain, resending",
        )
        self.store.set_meta(INFLIGHT_KEY, "")
        return outcome

    def spend_usage(self, record: EpochRecord) -> dict[str, int]:
        """Spend, as the router, each payer's credits for the receipts the epoch counted (module rules)."""
        self.reconcile()
        spent = shortfall = 0
        payers = self.store.unsettled_usage_between(record.start, record.end)
        for payer, credits in sorted(payers.items()):
            amount = min(credits, self.backend.credits_of(payer))
            if amount > 0:
                inflight = {
                    "epoch": record.number,
                    "payer": payer,
                    "credits": amount,
                    "start": record.start,
                    "end": record.end,
                }
                self.store.set_meta(INFLIGHT_KEY, json.dumps(inflight, sort_keys=True))  # durable first
                receipt = self.backend.spend_credits(payer, amount, usage_tag(record.number))
                self.gas["spend_credits"].append(receipt.gas_used)
            self.store.mark_usage_settled(record.start, record.end, payer, record.number)
            if amount > 0:
                self.store.set_meta(INFLIGHT_KEY, "")
            spent += amount
            shortfall += credits - amount
        return {"credits_spent": spent, "credit_shortfall": shortfall, "payers": len(payers)}

    def settle(self, record: EpochRecord, signatures: Sequence[bytes] | None = None) -> dict[str, Any]:
        """Post the epoch, then spend its usage credits: {settlement, credits_spent, credit_shortfall,
        payers}."""
        status = self.post(record, signatures)
        return {"settlement": status, **self.spend_usage(record)}

    def summary(self) -> dict[str, Any]:
        """Contracts, mean gas per kind of transaction sent, token supply, everything claimed."""
        return {
            "contracts": self.backend.contracts,
            "gas": {name: _mean(values) for name, values in self.gas.items()},
            "total_supply": str(self.backend.total_supply()),
            "total_claimed": str(self.backend.status().total_claimed),
        }


class SettlementLoop:
    """Settles closed epochs in order in a background thread: woken after each close (`wake`) and every
    `interval` seconds; a failure is logged and retried at the next turn. `chain_lock` serialises this
    thread's use of the chain backend with the node's (entropy, price, credit balances)."""

    def __init__(
        self,
        settler: EpochSettler,
        closed_until: Callable[[], int],
        chain_lock: threading.Lock,
        interval_seconds: float = 10.0,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.settler = settler
        self.store = settler.store
        self.closed_until = closed_until
        self.lock = chain_lock
        self.interval = interval_seconds
        self.clock = clock
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settlement", daemon=True)

    @property
    def settled_until(self) -> int:
        """The next epoch to settle (every epoch below it is settled)."""
        return int(self.store.get_meta(SETTLED_KEY) or 0)

    def settle_pending(self) -> list[dict[str, Any]]:
        """Settle every closed epoch not yet settled, in order (reconciling an in-flight spend first)."""
        done: list[dict[str, Any]] = []
        with self.lock:
            self.settler.reconcile()
            for number in range(self.settled_until, self.closed_until()):
                record = self.store.get_epoch(number)
                if record is None:  # pragma: no cover - epochs close in order
                    break
                outcome = self.settler.settle(record)
                self.store.set_meta(SETTLED_KEY, str(number + 1))
                if self.clock is not None:
                    self.store.set_meta(LAST_SETTLED_AT_KEY, str(self.clock()))
                log.info("settled epoch %s: %s", number, outcome)
                done.append({"epoch": number, **outcome})
        return done

    def tick(self) -> list[dict[str, Any]]:
        try:
            done = self.settle_pending()
        except Exception as error:
            self.last_error = str(error)
            log.exception("settlement failed; will retry")
            return []
        self.last_error = None
        return done

    def wake(self, *_: object) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._wake.wait(self.interval)
            self._wake.clear()

    def start(self) -> SettlementLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)
