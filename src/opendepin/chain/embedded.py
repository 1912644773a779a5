"""The embedded chain: an in-process EVM (titanoboa / py-evm) whose state survives restarts.

Persistence is a write-ahead journal, `<data dir>/chain/embedded-journal.jsonl`: every state-changing
transaction is executed, then appended (sender, target, calldata or init code, block number, timestamp,
outcome) and fsync'ed before the caller gets its receipt. The journal is the source of truth. On start it
is replayed in order with the recorded block context, which rebuilds the exact state (same addresses,
storage, balances); a record whose outcome differs on replay stops the start with ChainStateError. A
torn last line (crash while writing) is dropped: that transaction was never acknowledged. An advisory
lock keeps two processes from writing one journal. Another process may still read it (`read_only=True`,
e.g. `depin chain status` beside a running `depin serve`): it replays the journal's complete lines, takes
no lock, cuts nothing and refuses every transaction.

Replay costs about 4 ms per transaction, so the state is also snapshotted to
`<data dir>/chain/embedded-snapshot.bin` (the py-evm state trie's key-value store and state root) on
`close()` and every `snapshot_every` transactions. A snapshot names the journal prefix it covers (length
and sha256) and carries a checksum; on start a valid snapshot is loaded and only the journal after it is
replayed. A missing, corrupt or mismatching snapshot is ignored (full replay), so a crash at any point
loses nothing that was acknowledged.

Each transaction is mined in its own block; the block timestamp is max(previous, clock()). Gas reported
is what a node would charge: intrinsic gas (21,000 + calldata, EIP-7623 floor) + execution − capped
refund, with EIP-2929 access lists reset per transaction. Gas price is zero (no ether needed).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from eth_utils import to_checksum_address

from opendepin.chain.abi import decode_revert_reason
from opendepin.chain.backend import (
    ChainBackend,
    ChainInUseError,
    ChainStateError,
    RawLog,
    RawReceipt,
    TransactionRevertedError,
    tx_hash_of,
)
from opendepin.chain.keys import ChainKeys, PrivateKey
from opendepin.chain.signing import address_of

EMBEDDED_CHAIN_ID = 1337
JOURNAL_NAME = "embedded-journal.jsonl"
SNAPSHOT_NAME = "embedded-snapshot.bin"
_SNAPSHOT_MAGIC = b"ODPSNAP1"
_GAS_LIMIT = 30_000_000
_PRECOMPILES = [i.to_bytes(20, "big") for i in range(1, 0x12)]


def compute_intrinsic_gas(data: bytes, is_create: bool) -> tuple[int, int]:
    """(intrinsic gas, EIP-7623 calldata floor) of a transaction carrying `data`."""
    zeros = data.count(0)
    nonzeros = len(data) - zeros
    intrinsic = 21_000 + 4 * zeros + 16 * nonzeros
    if is_create:
        intrinsic += 32_000 + 2 * ((len(data) + 31) // 32)
    floor = 21_000 + 10 * (zeros + 4 * nonzeros)
    return intrinsic, floor


def compute_tx_gas(data: bytes, is_create: bool, execution: int, refund: int) -> int:
    """Gas a node charges: intrinsic + execution − min(refund, used/5), at least the calldata floor."""
    intrinsic, floor = compute_intrinsic_gas(data, is_create)
    used = intrinsic + execution
    return max(used - min(refund, used // 5), floor)


def _unwrap_tracer(op: Any) -> Any:
    return getattr(op, "sha3", None) or getattr(op, "sstore", None) or op


def _private_env() -> Any:
    """A titanoboa Env that neither leaks into nor records for other Envs in this process.

    Creating an Env wraps the SHA3 and SSTORE opcodes of the fork's *shared* opcode table with tracers
    bound to the new Env (titanoboa 0.2.x), so every Env created stacks one more layer that records every
    64-byte keccak preimage forever. Here the shared table gets its previous entries back and this Env
    runs on its own copy without tracers: constant memory for a long-running chain.
    """
    from boa.environment import Env  # heavy import, deferred
    from boa.vm.py_evm import Sha3PreimageTracer, SstoreTracer

    env = Env()
    computation_class = env.evm.vm.state.computation_class
    shared = computation_class.opcodes
    own = dict(shared)
    for opcode in (0x20, 0x55):
        op = shared[opcode]
        if isinstance(op, Sha3PreimageTracer | SstoreTracer) and op.env is env:
            shared[opcode] = _unwrap_tracer(op)
        while isinstance(own[opcode], Sha3PreimageTracer | SstoreTracer):
            own[opcode] = _unwrap_tracer(own[opcode])
    computation_class.opcodes = own
    return env


class EmbeddedBackend(ChainBackend):
    """In-process EVM persisted by journal replay; construct with `EmbeddedBackend(data_dir, keys)`."""

    kind = "embedded"

    def __init__(
        self,
        data_dir: Path,
        keys: ChainKeys,
        *,
        clock: Callable[[], int] | None = None,
        snapshot_every: int = 1_000,
        read_only: bool = False,
    ) -> None:
        super().__init__(data_dir, keys)
        self.read_only = read_only
        """Only if the chain is held by another process: a view of its journal as it stands (no lock, no
        transaction, no snapshot written)."""
        self._env = _private_env()
        self._env.evm.patch.chain_id = EMBEDDED_CHAIN_ID
        self._env.evm.patch.gas_limit = _GAS_LIMIT
        self._clock: Callable[[], int] = clock or (lambda: int(time.time()))
        self._number = 0
        self._timestamp = 0
        self.snapshot_every = snapshot_every
        self.replayed = 0
        """Transactions re-executed from the journal at start (those after the snapshot, if any)."""
        self.restored = 0
        """Transactions covered by the snapshot loaded at start (0 if none was usable)."""
        self._lines = 0
        self._since_snapshot = 0
        self._journal_hash = hashlib.sha256()
        path = self.data_dir / "chain" / JOURNAL_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = path.with_name(SNAPSHOT_NAME)
        self._journal: IO[bytes] = open(path, "a+b")  # noqa: SIM115 - held open for the backend's lifetime
        try:
            fcntl.flock(self._journal.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.read_only = False  # nobody else holds it: a writer, as any
        except BlockingIOError:
            if not read_only:
                self._journal.close()
                raise ChainInUseError(
                    f"the embedded chain in {self.data_dir} is in use by another process (lock on {path}); "
                    "stop it (e.g. the running `depin up`) or use another --data-dir"
                ) from None
        self.journal_path = path
        try:
            self._replay()
        except BaseException:
            if not self.read_only:
                fcntl.flock(self._journal.fileno(), fcntl.LOCK_UN)
            self._journal.close()
            raise

    # ---- primitives -------------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return EMBEDDED_CHAIN_ID

    def _block(self) -> tuple[int, int]:
        return self._number, self._timestamp

    def latest_block_hash(self) -> str:
        """The embedded chain has no block hashes; its head is committed to by the journal's running SHA-256
        (every transaction so far, in order) together with the block number."""
        digest = self._journal_hash.copy()
        digest.update(self._number.to_bytes(8, "big"))
        return "0x" + digest.hexdigest()

    def _now(self) -> int:
        return max(self._timestamp, int(self._clock()))

    def _has_code(self, address: str) -> bool:
        try:
            return len(self._env.get_code(address)) > 0
        except Exception:
            return False

    def _set_context(self, number: int, timestamp: int) -> None:
        self._env.evm.patch.block_number = number
        self._env.evm.patch.timestamp = timestamp

    def _execute(self, sender: str, to: str | None, data: bytes) -> tuple[Any, str | None]:
        evm = self._env.evm
        evm.reset_access_counters()
        state = evm.vm.state
        for address in [*_PRECOMPILES, bytes.fromhex(sender[2:])]:
            state.mark_address_warm(address)
        created: str | None = None
        if to is None:
            address, computation = self._env.deploy(sender=sender, bytecode=data, gas=_GAS_LIMIT)
            created = to_checksum_address(str(address))
        else:
            state.mark_address_warm(bytes.fromhex(to[2:]))
            computation = self._env.execute_code(to_address=to, sender=sender, data=data, gas=_GAS_LIMIT)
        # End of transaction, as a node does it: the values written become the "original" values that
        # EIP-2200/3529 SSTORE pricing and refunds compare against in the next transaction.
        state.lock_changes()
        return computation, created

    def _transact(self, sender_key: PrivateKey, to: str | None, data: bytes, action: str) -> RawReceipt:
        if self.read_only:
            raise ChainInUseError(
                f"{action}: the embedded chain in {self.data_dir} is held by another process (a running "
                "node); this view of it only reads"
            )
        sender = address_of(sender_key)
        number, timestamp = self._number + 1, max(self._timestamp, int(self._clock()))
        self._set_context(number, timestamp)
        computation, created = self._execute(sender, to, data)
        record = {
            "sender": sender,
            "to": to,
            "data": data.hex(),
            "block": number,
            "timestamp": timestamp,
            "ok": not computation.is_error,
            "created": created,
        }
        line = json.dumps(record, sort_keys=True)
        tx_hash = tx_hash_of(line.encode())
        if computation.is_error and to is not None:
            # A failed call changes nothing (not even a nonce here): it is not journalled.
            self._set_context(self._number, self._timestamp)
            raise TransactionRevertedError(action, decode_revert_reason(bytes(computation.output)))
        # Creations bump the sender's nonce even when they fail, so they are always journalled. The block
        # is this transaction's before it is appended: a snapshot taken by the append covers the line, so
        # it must carry its block (it carried the one before, and a restart from it mined the next
        # transaction in a block number already used)
        self._number, self._timestamp = number, timestamp
        self._append(line)
        if computation.is_error:
            raise TransactionRevertedError(action, decode_revert_reason(bytes(computation.output)), tx_hash)
        logs = tuple(
            RawLog(to_checksum_address(address), tuple(t.to_bytes(32, "big") for t in topics), bytes(payload))
            for address, topics, payload in computation.get_log_entries()
        )
        gas = compute_tx_gas(data, to is None, computation.get_gas_used(), computation.get_gas_refund())
        return RawReceipt(tx_hash, number, gas, logs, created)

    def _call(self, to: str, data: bytes, action: str) -> bytes:
        # Reads see the pending block: the next number and the current clock.
        self._set_context(self._number + 1, max(self._timestamp, int(self._clock())))
        try:
            sender = self.keys.address("operator")  # no decryption for a read
            computation = self._env.execute_code(
                to_address=to, sender=sender, data=data, is_modifying=False, gas=_GAS_LIMIT
            )
        finally:
            self._set_context(self._number, self._timestamp)
        if computation.is_error:
            raise TransactionRevertedError(action, decode_revert_reason(bytes(computation.output)))
        return bytes(computation.output)

    # ---- journal and snapshots ----------------------------------------------------------------------------

    def _append(self, line: str) -> None:
        if self.read_only:  # never reached: `_transact` refuses first
            raise ChainInUseError("a read-only view of the embedded chain records no transaction")
        raw = line.encode() + b"\n"
        self._journal.write(raw)
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._journal_hash.update(raw)
        self._lines += 1
        self._since_snapshot += 1
        if self.snapshot_every and self._since_snapshot >= self.snapshot_every:
            self.snapshot()

    def _kv_store(self) -> dict[bytes, bytes]:
        # AtomicDB -> MemoryDB.kv_store: every trie node and code blob of this chain.
        return self._env.evm.chain.chaindb.db.wrapped_db.kv_store  # type: ignore[no-any-return]

    def snapshot(self) -> None:
        """Write the current state to the snapshot file (atomically); the journal stays authoritative."""
        state = self._env.evm.vm.state
        state.persist()
        body = b"".join(
            struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v for k, v in self._kv_store().items()
        )
        header = json.dumps(
            {
                "state_root": bytes(state.state_root).hex(),
                "lines": self._lines,
                "journal_bytes": self._journal.tell(),
                "journal_sha256": self._journal_hash.hexdigest(),
                "block": self._number,
                "timestamp": self._timestamp,
                "body_sha256": hashlib.sha256(body).hexdigest(),
            },
            sort_keys=True,
        ).encode()
        tmp = self.snapshot_path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            handle.write(_SNAPSHOT_MAGIC + struct.pack(">I", len(header)) + header + body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.snapshot_path)
        self._since_snapshot = 0

    def _load_snapshot(self, journal: bytes) -> int:
        """Load a snapshot consistent with `journal`; the journal offset it covers (0 if none usable)."""
        try:
            raw = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            return 0
        if raw[:8] != _SNAPSHOT_MAGIC:
            return 0
        (size,) = struct.unpack(">I", raw[8:12])
        try:
            header = json.loads(raw[12 : 12 + size])
        except ValueError:
            return 0
        body = raw[12 + size :]
        offset = int(header["journal_bytes"])
        if (
            hashlib.sha256(body).hexdigest() != header["body_sha256"]
            or offset > len(journal)
            or hashlib.sha256(journal[:offset]).hexdigest() != header["journal_sha256"]
        ):
            return 0
        store, position = self._kv_store(), 0
        while position < len(body):
            (klen,) = struct.unpack(">I", body[position : position + 4])
            key = body[position + 4 : position + 4 + klen]
            position += 4 + klen
            (vlen,) = struct.unpack(">I", body[position : position + 4])
            store[key] = body[position + 4 : position + 4 + vlen]
            position += 4 + vlen
        self._env.evm.vm.state._account_db.state_root = bytes.fromhex(header["state_root"])
        self._number, self._timestamp = int(header["block"]), int(header["timestamp"])
        self.restored = self._lines = int(header["lines"])
        self._journal_hash.update(journal[:offset])
        return offset

    def _replay(self) -> None:
        self._journal.seek(0)
        content = self._journal.read()
        end = content.rfind(b"\n") + 1
        if end < len(content):
            # Crash while appending (or, read-only, the writer's line not yet whole): that transaction was
            # never acknowledged; cut it off (only the writer cuts the file)
            if not self.read_only:
                self._journal.truncate(end)
            content = content[:end]
        offset = self._load_snapshot(content)
        for line in content[offset:].splitlines(keepends=True):
            index = self._lines + 1
            try:
                record = json.loads(line)
            except ValueError:
                raise ChainStateError(
                    f"{self.journal_path}:{index} is not valid JSON; the embedded chain cannot be rebuilt. "
                    f"Move the file away to start a fresh chain."
                ) from None
            self._set_context(record["block"], record["timestamp"])
            data = bytes.fromhex(record["data"])
            computation, created = self._execute(record["sender"], record["to"], data)
            if (not computation.is_error) != record["ok"] or created != record["created"]:
                raise ChainStateError(
                    f"{self.journal_path}:{index} does not replay to the recorded outcome "
                    f"(ok={record['ok']}, created={record['created']}); the file was edited or the EVM "
                    "changed. Move the file away to start a fresh chain."
                )
            self._number, self._timestamp = record["block"], record["timestamp"]
            self._journal_hash.update(line)
            self._lines = index
            self.replayed += 1
        self._journal.seek(0, os.SEEK_END)

    def _mined_call(self, sender: str, to: str, data: bytes) -> bool:
        """The journal holds every transaction (a snapshot only shortens the replay): scan it."""
        wanted = (sender.lower(), to.lower(), data.hex())
        with open(self.journal_path, "rb") as journal:
            for line in journal:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn last line: never acknowledged
                found = (str(record["sender"]).lower(), str(record["to"]).lower(), record["data"])
                if record["ok"] and record["to"] is not None and found == wanted:
                    return True
        return False

    def fund(self, address: str, wei: int) -> None:
        """Nothing to do: the embedded chain charges no gas (gas price 0)."""

    def close(self) -> None:
        """Snapshot the state (if anything changed since the last one), release the lock (a read-only
        view: close the file only)."""
        if self.read_only:
            self._journal.close()
        if not self._journal.closed:
            if self._since_snapshot:
                self.snapshot()
            fcntl.flock(self._journal.fileno(), fcntl.LOCK_UN)
            self._journal.close()
