"""The chain backend interface (issue 3, "Python side") and the logic both backends share.

A backend is an adapter at the edge of the functional core: it sends transactions and reads state.
`ChainBackend` implements every operation of the settlement layer — deploy, register a device, post an
epoch, claim, buy credits, status — on top of four primitives that each backend provides:
`_transact` (a state-changing transaction), `_call` (a read), `_block` (latest block number and
timestamp) and `chain_id`. So the embedded (titanoboa) and the rpc (web3) backends encode, decode and
check identically; only transport, nonces, gas and persistence differ.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from opendepin.chain.abi import ContractAbi, Event
from opendepin.chain.artifacts import CONTRACT_FILES, Artifact, load_artifact, sources_digest
from opendepin.chain.keys import ChainKeys, PrivateKey
from opendepin.chain.schedule import EmissionCap
from opendepin.chain.signing import address_of, compute_onboard_digest, sign_digest, sign_epoch

ZERO_ROOT = bytes(32)
"""The root an epoch posts while nobody has ever been paid (its total is 0)."""

MAX_ORACLES = 16
"""The distributor's bound on the oracle set (a `set_oracles` call fits one timelock payload)."""

DEFAULT_TIMELOCK_DELAY_SECONDS = 2 * 86_400
"""How long every admin change waits between being scheduled and taking effect."""

USD = 10**18
"""USD amounts on chain are fixed point with 18 decimals ("USD wad")."""

DEFAULT_DC_PRICE_USD = Decimal("0.00001")
"""Helium's data credit price: one credit is worth $0.00001."""


class ChainError(RuntimeError):
    """Base of every settlement-layer error; the message says what to do."""


class NodeUnavailableError(ChainError):
    """The JSON-RPC node cannot be reached (down, wrong URL, timing out)."""


class TransactionRevertedError(ChainError):
    """A transaction or call reverted; `reason` is the contract's revert string."""

    def __init__(self, action: str, reason: str, tx_hash: str | None = None) -> None:
        self.action = action
        self.reason = reason
        self.tx_hash = tx_hash
        where = f" (tx {tx_hash})" if tx_hash else ""
        super().__init__(f"{action} reverted{where}: {reason}")


class NotDeployedError(ChainError):
    """No contracts are deployed for this data dir and chain."""


class ChainStateError(ChainError):
    """Local chain state is inconsistent (e.g. an embedded journal that does not replay)."""


class ChainInUseError(ChainStateError):
    """The embedded chain of a data dir is held by another process (a running node): it can be read
    (`open_backend(..., read_only=True)`), not written."""


@dataclass(frozen=True)
class TxReceipt:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[Event, ...] = ()
    contract_address: str | None = None

    def events_named(self, name: str) -> list[Event]:
        return [event for event in self.events if event.name == name]


@dataclass(frozen=True)
class RawLog:
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class RawReceipt:
    """What a backend primitive returns for a successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    logs: tuple[RawLog, ...]
    contract_address: str | None = None


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of a claim: `amount` = cumulative − previously claimed, minted to `account`."""

    account: str
    amount: int
    cumulative: int
    tx_hash: str
    gas_used: int


@dataclass(frozen=True)
class Settlement:
    """Outcome of `settle_epoch`: `posted` now, or found `already_posted` on chain (receipt None)."""

    epoch: int
    root: bytes
    status: str
    receipt: TxReceipt | None


@dataclass(frozen=True)
class CreditPurchase:
    """Outcome of `buy_credits`: credits minted and tokens burned (rounded up)."""

    recipient: str
    credits: int
    tokens_burned: int
    price_usd_wad: int
    tx_hash: str


@dataclass(frozen=True)
class DeployParams:
    """Everything the contracts are constructed with (amounts in smallest units, USD as 18-decimal wad).

    `admin`, `pauser` and `feeder` default to the data dir's keys of those roles. Every role address must
    be distinct from the others and from the operator (the deployer keeps no power): see the README,
    "Who holds what".
    """

    token_name: str
    token_symbol: str
    decimals: int
    max_supply: int
    emission_cap: EmissionCap
    oracles: tuple[str, ...]
    oracle_threshold: int = 1
    first_epoch: int = 0
    epoch_genesis_ts: int = 0
    epoch_seconds: int = 86_400
    """Epoch clock for the distributor: only ended epochs may be posted (must be > 0)."""
    dc_price_usd_wad: int = int(DEFAULT_DC_PRICE_USD * USD)
    onboarding_fee_dc: int = 0
    price_max_age_seconds: int = 86_400
    price_max_change_bps: int = 2_000
    price_change_period_seconds: int = 3_600
    """`price_max_change_bps` may be used up once per this many seconds (a bound per unit of time)."""
    initial_price_usd_wad: int = USD
    makers: tuple[str, ...] = ()
    genesis_receiver: str | None = None
    genesis_amount: int = 0
    admin: str | None = None
    """Proposer, executor and canceller of the timelock (None: the data dir's `admin` key)."""
    pauser: str | None = None
    """May pause the registry, the credits vault and the distributor (None: the data dir's `pauser` key)."""
    feeder: str | None = None
    """Posts the token price (None: the data dir's `feeder` key)."""
    routers: tuple[str, ...] = ()
    """Service routers allowed to spend users' credits, besides the device registry."""
    timelock_delay_seconds: int = DEFAULT_TIMELOCK_DELAY_SECONDS

    def check(self) -> None:
        """Raise ValueError naming the parameter the contracts would reject."""
        if not 1 <= len(self.token_name) <= 25:
            raise ValueError(f"token name must be 1-25 characters (snekmate ERC-20): {self.token_name!r}")
        if not 1 <= len(self.token_symbol) <= 5:
            raise ValueError(f"token symbol must be 1-5 characters (snekmate ERC-20): {self.token_symbol!r}")
        if not 1 <= self.oracle_threshold <= len(self.oracles) <= MAX_ORACLES:
            raise ValueError(
                f"oracle threshold {self.oracle_threshold} must be between 1 and the oracle count "
                f"{len(self.oracles)} (at most {MAX_ORACLES})"
            )
        if len({a.lower() for a in self.oracles}) != len(self.oracles):
            raise ValueError("oracle addresses must be distinct")
        if self.genesis_amount > self.max_supply:
            raise ValueError("genesis_amount exceeds max_supply")
        if self.dc_price_usd_wad <= 0 or self.initial_price_usd_wad < 0:
            raise ValueError("prices must be positive")
        if self.epoch_seconds <= 0:
            raise ValueError(
                f"epoch_seconds must be positive, got {self.epoch_seconds}: without an epoch clock a quorum "
                "of oracles could post every future epoch at once"
            )
        if not 0 <= self.emission_cap.initial_epoch_cap < 2**128:
            raise ValueError("emission_cap.initial_epoch_cap must be below 2**128")
        if self.timelock_delay_seconds <= 0:
            raise ValueError("timelock_delay_seconds must be positive: admin changes must be announced")
        if self.price_change_period_seconds <= 0 or self.price_max_change_bps <= 0:
            raise ValueError("price_change_period_seconds and price_max_change_bps must be positive")


@dataclass(frozen=True)
class Deployment:
    """Record of deployed contracts, stored as JSON in the data dir."""

    chain_id: int
    contracts: dict[str, str]
    deployer: str
    block_number: int
    sources_digest: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainStatus:
    """A snapshot of the settlement layer for `depin chain status` and the explorer."""

    backend: str
    chain_id: int
    block_number: int
    contracts: dict[str, str]
    total_supply: int
    max_supply: int
    total_posted: int
    total_claimed: int
    latest_epoch: int | None
    latest_root: str | None
    next_epoch: int
    price_usd_wad: int
    price_stale: bool
    credits_supply: int
    devices: int
    paused: dict[str, bool]
    timelock_delay_seconds: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimelockOperation:
    """An admin call scheduled on the timelock: `target.payload`, executable from `ready_at` (unix s)."""

    operation_id: bytes
    target: str
    payload: bytes
    predecessor: bytes
    salt: bytes
    ready_at: int


def usd_to_wad(usd: Decimal | str | int | float) -> int:
    """USD → 18-decimal fixed point, rounded toward zero."""
    return int(Decimal(str(usd)) * USD)


class ChainBackend(ABC):
    """Settlement on an EVM; subclasses provide the transport primitives.

    Construct with `opendepin.chain.factory.open_backend(data_dir, chain_config)`.
    """

    kind: str = "abstract"

    def __init__(self, data_dir: Path, keys: ChainKeys) -> None:
        self.data_dir = Path(data_dir)
        self.keys = keys
        self._deployment: Deployment | None = None
        self._abis: dict[str, ContractAbi] = {}

    # ---- primitives -------------------------------------------------------------------------------------

    @property
    @abstractmethod
    def chain_id(self) -> int: ...

    @abstractmethod
    def _transact(self, sender_key: PrivateKey, to: str | None, data: bytes, action: str) -> RawReceipt:
        """Send a transaction (`to=None`: contract creation with init code `data`); raise on revert."""

    @abstractmethod
    def _call(self, to: str, data: bytes, action: str) -> bytes:
        """Execute a read-only call against the latest state; raise TransactionRevertedError on revert."""

    @abstractmethod
    def _block(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block."""

    @abstractmethod
    def latest_block_hash(self) -> str:
        """0x-hex hash committing to the chain's head (the seed of challenge entropy, wireless-poc.md)."""

    @abstractmethod
    def _has_code(self, address: str) -> bool: ...

    def _now(self) -> int:
        """A timestamp the next transaction's block will not precede (default: the latest block's)."""
        return self._block()[1]

    @abstractmethod
    def fund(self, address: str, wei: int) -> None:
        """Make sure `address` holds at least `wei` of native coin to pay gas (no-op without gas cost)."""

    @abstractmethod
    def close(self) -> None:
        """Release resources (locks, files, connections)."""

    def __enter__(self) -> ChainBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- deployment record ------------------------------------------------------------------------------

    @property
    def deployment_path(self) -> Path:
        return self.data_dir / "chain" / f"deployment-{self.kind}-{self.chain_id}.json"

    def _load_deployment(self) -> Deployment | None:
        path = self.deployment_path
        if not path.exists():
            return None
        record = Deployment(**json.loads(path.read_text()))
        token = record.contracts.get("Token", "")
        if not self._has_code(token):
            raise NotDeployedError(
                f"{path} records contracts on chain {self.chain_id}, but there is no code at Token {token}: "
                f"the node was probably reset. Delete {path} or run `depin chain deploy --force`."
            )
        return record

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = self._load_deployment()
        if self._deployment is None:
            raise NotDeployedError(
                f"no contracts deployed for data dir {self.data_dir} on chain {self.chain_id}: "
                "run `depin chain deploy` (or `depin up`) first"
            )
        return self._deployment

    def is_deployed(self) -> bool:
        try:
            self.deployment  # noqa: B018 - loads and validates the record
        except NotDeployedError as error:
            if self.deployment_path.exists():
                raise error
            return False
        return True

    @property
    def contracts(self) -> dict[str, str]:
        """Contract name → checksummed address."""
        return dict(self.deployment.contracts)

    def _abi(self, name: str) -> ContractAbi:
        if name not in self._abis:
            self._abis[name] = ContractAbi(load_artifact(name).abi)
        return self._abis[name]

    def _decode_events(self, raw: RawReceipt) -> tuple[Event, ...]:
        record = self._deployment or _EMPTY
        by_address = {address.lower(): name for name, address in record.contracts.items()}
        events: list[Event] = []
        for log in raw.logs:
            name = by_address.get(log.address.lower())
            if name is None:
                continue
            event = self._abi(name).decode_log(log.address, list(log.topics), log.data)
            if event is not None:
                events.append(event)
        return tuple(events)

    def _receipt(self, raw: RawReceipt) -> TxReceipt:
        return TxReceipt(
            tx_hash=raw.tx_hash,
            block_number=raw.block_number,
            gas_used=raw.gas_used,
            events=self._decode_events(raw),
            contract_address=raw.contract_address,
        )

    def send(self, sender_key: PrivateKey, contract: str, function: str, *args: Any) -> TxReceipt:
        """Call `function(args)` of deployed `contract` in a transaction signed by `sender_key`."""
        data = self._abi(contract).encode_call(function, *args)
        raw = self._transact(sender_key, self.contracts[contract], data, f"{contract}.{function}")
        return self._receipt(raw)

    def read(self, contract: str, function: str, *args: Any) -> Any:
        """Return value of view `function(args)` of deployed `contract`."""
        abi = self._abi(contract)
        data = abi.encode_call(function, *args)
        data = self._call(self.contracts[contract], data, f"{contract}.{function}")
        return abi.decode_output(function, data)

    # ---- deploy -----------------------------------------------------------------------------------------

    def _create(self, artifact: Artifact, args: Sequence[Any]) -> tuple[str, int]:
        initcode = artifact.bytecode + ContractAbi(artifact.abi).encode_constructor(*args)
        raw = self._transact(self.keys.operator, None, initcode, f"deploy {artifact.name}")
        assert raw.contract_address is not None
        return to_checksum_address(raw.contract_address), raw.block_number

    def role_addresses(self, params: DeployParams) -> dict[str, str]:
        """Who holds each role of a deployment with `params` (defaults: the data dir's role keys)."""
        roles = {
            "operator": self.keys.address("operator"),
            "admin": params.admin or self.keys.address("admin"),
            "pauser": params.pauser or self.keys.address("pauser"),
            "feeder": params.feeder or self.keys.address("feeder"),
        }
        roles.update({f"oracle {i + 1}": oracle for i, oracle in enumerate(params.oracles)})
        holders: dict[str, str] = {}
        for role, address in roles.items():
            other = holders.get(address.lower())
            if other is not None:
                raise ValueError(
                    f"{role} and {other} are the same key {address}: give every role its own key "
                    '(README, "Who holds what")'
                )
            holders[address.lower()] = role
        return {role: to_checksum_address(address) for role, address in roles.items()}

    def deploy(self, params: DeployParams, *, force: bool = False) -> dict[str, str]:
        """Deploy and wire all contracts, then hand every power to its role; record them in the data dir.

        The operator deploys and wires (sets the distributor, the router, makers, pausers, the initial
        price), then gives up everything: the token's ownership is renounced (only the distributor
        mints, forever), the timelock becomes owner of the oracle, registry and distributor and admin of
        the credits vault, and the operator renounces its roles. Returns name → address.
        Refuses when a deployment is already recorded for this chain unless `force`.
        """
        params.check()
        roles = self.role_addresses(params)
        if not force and self.deployment_path.exists() and self._load_deployment() is not None:
            raise ChainError(
                f"contracts already deployed on chain {self.chain_id} ({self.deployment_path}); "
                "pass force=True (`--force`) to deploy a new set"
            )
        operator, admin = roles["operator"], roles["admin"]
        art = {name: load_artifact(name) for name in CONTRACT_FILES}
        cap = params.emission_cap
        timelock, first_block = self._create(
            art["Timelock"], [params.timelock_delay_seconds, [admin], [admin]]
        )
        token, _ = self._create(
            art["Token"],
            [
                params.token_name,
                params.token_symbol,
                params.decimals,
                params.max_supply,
                params.genesis_receiver or operator,
                params.genesis_amount,
            ],
        )
        oracle, _ = self._create(
            art["PriceOracle"],
            [
                params.price_max_age_seconds,
                params.price_max_change_bps,
                params.price_change_period_seconds,
                roles["feeder"],
            ],
        )
        credits, _ = self._create(art["DataCredits"], [token, oracle, params.dc_price_usd_wad])
        registry, _ = self._create(art["DeviceRegistry"], [credits, params.onboarding_fee_dc])
        distributor, _ = self._create(
            art["RewardsDistributor"],
            [
                token,
                sorted(params.oracles, key=lambda a: int(a, 16)),
                params.oracle_threshold,
                cap.initial_epoch_cap,
                cap.decay_bps,
                cap.decay_period_epochs,
                params.first_epoch,
                params.epoch_genesis_ts,
                params.epoch_seconds,
            ],
        )
        addresses = {
            "Timelock": timelock,
            "Token": token,
            "PriceOracle": oracle,
            "DataCredits": credits,
            "DeviceRegistry": registry,
            "RewardsDistributor": distributor,
        }
        self._deployment = Deployment(
            chain_id=self.chain_id,
            contracts=addresses,
            deployer=operator,
            block_number=first_block,
            sources_digest=sources_digest(),
            params={**_params_json(params), "roles": roles},
        )
        self._wire(params, roles)
        self._write_deployment(self._deployment)
        return dict(addresses)

    def _wire(self, params: DeployParams, roles: dict[str, str]) -> None:
        """The operator's deployment transactions: wiring, then handing every power to its role."""
        key, operator, pauser = self.keys.operator, roles["operator"], roles["pauser"]
        timelock, distributor = self.contracts["Timelock"], self.contracts["RewardsDistributor"]
        self.send(key, "Token", "set_distributor", distributor)
        self.send(key, "Token", "renounce_ownership")
        role = {name: self.read("DataCredits", name) for name in ("ROUTER_ROLE", "PAUSER_ROLE")}
        admin_role = self.read("DataCredits", "DEFAULT_ADMIN_ROLE")
        for router in (self.contracts["DeviceRegistry"], *params.routers):
            self.send(key, "DataCredits", "grantRole", role["ROUTER_ROLE"], router)
        self.send(key, "DataCredits", "grantRole", role["PAUSER_ROLE"], pauser)
        self.send(key, "DataCredits", "grantRole", admin_role, timelock)
        self.send(key, "DataCredits", "renounceRole", role["PAUSER_ROLE"], operator)
        self.send(key, "DataCredits", "renounceRole", admin_role, operator)
        for maker in params.makers:
            self.send(key, "DeviceRegistry", "set_maker", maker, True)
        if params.initial_price_usd_wad > 0:
            self.send(key, "PriceOracle", "reset_price", params.initial_price_usd_wad)
        for contract in ("DeviceRegistry", "RewardsDistributor"):
            self.send(key, contract, "set_pauser", pauser, True)
        for contract in ("PriceOracle", "DeviceRegistry", "RewardsDistributor"):
            self.send(key, contract, "transfer_ownership", timelock)

    # ---- timelocked administration ----------------------------------------------------------------------

    def schedule_admin_call(
        self,
        contract: str,
        function: str,
        *args: Any,
        salt: bytes = ZERO_ROOT,
        delay: int | None = None,
        admin_key: PrivateKey | None = None,
    ) -> TimelockOperation:
        """Schedule `contract.function(args)` on the timelock (admin key); it may run after the delay."""
        target = self.contracts[contract]
        payload = self._abi(contract).encode_call(function, *args)
        wait = int(self.read("Timelock", "get_minimum_delay")) if delay is None else delay
        self.send(
            admin_key or self.keys.admin, "Timelock", "schedule", target, 0, payload, ZERO_ROOT, salt, wait
        )
        operation_id = bytes(self.read("Timelock", "hash_operation", target, 0, payload, ZERO_ROOT, salt))
        ready_at = int(self.read("Timelock", "get_timestamp", operation_id))
        return TimelockOperation(operation_id, target, payload, ZERO_ROOT, salt, ready_at)

    def execute_admin_call(
        self, operation: TimelockOperation, *, admin_key: PrivateKey | None = None
    ) -> TxReceipt:
        """Execute a scheduled admin call once its delay has passed (reverts before: "not ready")."""
        return self.send(
            admin_key or self.keys.admin,
            "Timelock",
            "execute",
            operation.target,
            0,
            operation.payload,
            operation.predecessor,
            operation.salt,
        )

    def _write_deployment(self, record: Deployment) -> None:
        path = self.deployment_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2, sort_keys=True))
        os.replace(tmp, path)

    # ---- devices ----------------------------------------------------------------------------------------

    def sign_onboarding(
        self, maker_key: PrivateKey, device_key: bytes, owner: str, h3_cell: int = 0
    ) -> bytes:
        """A maker's EIP-712 signature binding `device_key` to `owner` and initial cell on this registry."""
        digest = compute_onboard_digest(
            self.chain_id, self.contracts["DeviceRegistry"], device_key, owner, h3_cell
        )
        return sign_digest(maker_key, digest)

    def register_device(
        self,
        maker_signature: bytes,
        device_key: bytes,
        owner: str,
        h3_cell: int = 0,
        *,
        payer_key: PrivateKey | None = None,
    ) -> TxReceipt:
        """Onboard a device (ERC-721 to `owner` at `h3_cell`, both covered by the maker's signature); the
        payer (default: operator) pays the fee in credits."""
        return self.send(
            payer_key or self.keys.operator,
            "DeviceRegistry",
            "register_device",
            _bytes32(device_key, "device_key"),
            owner,
            h3_cell,
            maker_signature,
        )

    def is_registered(self, device_key: bytes) -> bool:
        """True if the device has a registry token."""
        try:
            self.device_owner(device_key)
        except TransactionRevertedError:
            return False
        return True

    def onboard(
        self,
        maker_key: PrivateKey,
        device_key: bytes,
        owner: str,
        h3_cell: int = 0,
        *,
        payer_key: PrivateKey | None = None,
    ) -> TxReceipt | None:
        """Sign as the maker and register the device; None if it is registered already (safe re-runs)."""
        if self.is_registered(device_key):
            return None
        signature = self.sign_onboarding(maker_key, device_key, owner, h3_cell)
        return self.register_device(signature, device_key, owner, h3_cell, payer_key=payer_key)

    def assert_location(self, owner_key: PrivateKey, device_key: bytes, h3_cell: int) -> TxReceipt:
        return self.send(owner_key, "DeviceRegistry", "assert_location", _token_id(device_key), h3_cell)

    def transfer_device(self, owner_key: PrivateKey, device_key: bytes, to: str) -> TxReceipt:
        owner = address_of(owner_key)
        return self.send(owner_key, "DeviceRegistry", "transferFrom", owner, to, _token_id(device_key))

    def device_owner(self, device_key: bytes) -> str:
        return str(self.read("DeviceRegistry", "ownerOf", _token_id(device_key)))

    def device_location(self, device_key: bytes) -> int:
        return int(self.read("DeviceRegistry", "location", _token_id(device_key)))

    # ---- rewards ----------------------------------------------------------------------------------------

    def sign_epoch(
        self,
        epoch: int,
        root: bytes | None,
        manifest_hash: bytes,
        total: int,
        oracle_keys: Sequence[PrivateKey] | None = None,
    ) -> list[bytes]:
        """Oracle signatures for a posting (default: the data dir's oracle keys, as many as the threshold)."""
        keys = list(oracle_keys) if oracle_keys is not None else self.keys.oracles[: self.keys.threshold]
        return sign_epoch(
            keys,
            self.chain_id,
            self.contracts["RewardsDistributor"],
            epoch,
            _root(root),
            manifest_hash,
            total,
        )

    def post_epoch(
        self,
        epoch: int,
        root: bytes | None,
        manifest_hash: bytes,
        total: int,
        signatures: Sequence[bytes] | None = None,
        *,
        submitter_key: PrivateKey | None = None,
    ) -> TxReceipt:
        """Post epoch `epoch`'s rewards root, the next one on chain; `total` = the running total the root
        pays (Σ of the tree's cumulative leaves; None root and 0 while nobody was ever paid).

        The contract refuses a total below the posted one or above the schedule's allowance through
        `epoch`. Signatures default to `sign_epoch(...)`.
        """
        root = _root(root)
        manifest_hash = _bytes32(manifest_hash, "manifest_hash")
        if signatures is None:
            signatures = self.sign_epoch(epoch, root, manifest_hash, total)
        return self.send(
            submitter_key or self.keys.operator,
            "RewardsDistributor",
            "post_epoch",
            epoch,
            root,
            manifest_hash,
            total,
            list(signatures),
        )

    def next_epoch(self) -> int:
        """The one epoch the distributor accepts next."""
        return int(self.read("RewardsDistributor", "next_epoch"))

    def settle_epoch(
        self,
        epoch: int,
        root: bytes | None,
        manifest_hash: bytes,
        total: int,
        signatures: Sequence[bytes] | None = None,
    ) -> Settlement:
        """Post epoch `epoch` exactly once, safe to re-run after a crash (keyed by chain id, distributor
        and epoch).

        Epochs settle in order: the next one on chain is posted; one the chain already holds with the
        same root (e.g. the process died after broadcasting) sends nothing. A different root for a posted
        epoch, or an epoch beyond the next one, raises ChainStateError: the local epochs do not match what
        was settled, or an earlier one was never settled.
        """
        root = _root(root)
        next_epoch = self.next_epoch()
        if epoch > next_epoch:
            raise ChainStateError(
                f"epoch {epoch} cannot be settled on chain {self.chain_id} before epoch {next_epoch}: "
                "epochs settle in order; settle the earlier ones first"
            )
        if epoch == next_epoch:
            try:
                receipt = self.post_epoch(epoch, root, manifest_hash, total, signatures)
                return Settlement(epoch, root, "posted", receipt)
            except TransactionRevertedError as error:
                if "not the next epoch" not in error.reason:
                    raise  # lost a race with our own earlier broadcast: look at what was posted
        found = self.epoch_root(epoch) or ZERO_ROOT
        if found == root:
            return Settlement(epoch, root, "already_posted", None)
        on_chain = "the empty root" if found == ZERO_ROOT else "0x" + found.hex()
        raise ChainStateError(
            f"epoch {epoch} is settled on chain {self.chain_id} with {on_chain}, not 0x{root.hex()}: "
            "the local epoch differs from what was posted; investigate before posting anything else"
        )

    def claim(
        self,
        account_key: PrivateKey,
        cumulative: int,
        proof: Sequence[bytes],
        *,
        sender_key: PrivateKey | None = None,
    ) -> ClaimResult:
        """Claim `cumulative − claimed` for the account of `account_key` (sent by it unless `sender_key`)."""
        account = address_of(account_key)
        receipt = self.send(
            sender_key or account_key,
            "RewardsDistributor",
            "claim",
            account,
            cumulative,
            [_bytes32(p, "proof element") for p in proof],
        )
        claimed = receipt.events_named("Claimed")
        amount = int(claimed[0].args["amount"]) if claimed else 0
        return ClaimResult(account, amount, cumulative, receipt.tx_hash, receipt.gas_used)

    def claim_owed(
        self,
        account_key: PrivateKey,
        cumulative: int,
        proof: Sequence[bytes],
        *,
        sender_key: PrivateKey | None = None,
    ) -> ClaimResult | None:
        """Claim if `cumulative` exceeds what the account was paid; None (no transaction) otherwise."""
        if cumulative <= self.claimed(address_of(account_key)):
            return None
        return self.claim(account_key, cumulative, proof, sender_key=sender_key)

    def claimed(self, address: str) -> int:
        return int(self.read("RewardsDistributor", "claimed", address))

    def epoch_root(self, epoch: int) -> bytes | None:
        root = bytes(self.read("RewardsDistributor", "epoch_root", epoch))
        return None if root == bytes(32) else root

    def total_supply(self) -> int:
        return int(self.read("Token", "totalSupply"))

    def balance_of(self, address: str) -> int:
        return int(self.read("Token", "balanceOf", address))

    def transfer_tokens(self, sender_key: PrivateKey, to: str, amount: int) -> TxReceipt:
        return self.send(sender_key, "Token", "transfer", to, amount)

    # ---- price and credits ------------------------------------------------------------------------------

    def set_price(
        self,
        price_usd: Decimal | str | int,
        observed_at: int | None = None,
        *,
        feeder_key: PrivateKey | None = None,
    ) -> TxReceipt:
        """Post the token price (USD per whole token) as the feeder (default: the data dir's feeder key)."""
        when = observed_at if observed_at is not None else self._now()
        key = feeder_key or self.keys.feeder
        return self.send(key, "PriceOracle", "set_price", usd_to_wad(price_usd), when)

    def credits_of(self, address: str) -> int:
        return int(self.read("DataCredits", "balanceOf", address))

    def spend_credits(self, account: str, credits: int, reason: bytes) -> TxReceipt:
        """Spend `credits` of `account` as the node's router (usage it metered; `reason` a 32-byte tag)."""
        tag = _bytes32(reason, "reason")
        return self.send(self.keys.router, "DataCredits", "spend", account, credits, tag)

    def credit_spend_found(self, account: str, credits: int, reason: bytes) -> bool:
        """True if the router's spend of exactly `credits` of `account` with `reason` is mined on this chain:
        how settlement finds a spend it broadcast but did not record before a crash (never sent twice)."""
        data = self._abi("DataCredits").encode_call("spend", account, credits, _bytes32(reason, "reason"))
        return self._mined_call(self.keys.address("router"), self.contracts["DataCredits"], data)

    def _mined_call(self, sender: str, to: str, data: bytes) -> bool:
        """True if a successful transaction from `sender` to `to` with calldata `data` is on chain."""
        raise NotImplementedError(f"the {self.kind} backend cannot look up past transactions")

    def oracle_price_wad(self) -> int | None:
        """The oracle's price (USD per whole token × 10**18) if it is fresh, else None."""
        if bool(self.read("PriceOracle", "is_stale")):
            return None
        price = int(self.read("PriceOracle", "price"))
        return price or None

    def quote_credits(self, usd: Decimal | str | int) -> tuple[int, int]:
        """(credits, tokens to burn) for `usd` at the current fresh price; credits rounded down."""
        dc_price = int(self.read("DataCredits", "dc_price_usd"))
        credits = usd_to_wad(usd) // dc_price
        try:
            return credits, int(self.read("DataCredits", "quote_tokens", credits))
        except TransactionRevertedError as error:
            if "price is stale" not in error.reason:
                raise
            raise ChainError(
                "the oracle price is stale, so burning tokens for credits is refused: post a fresh price "
                "(`depin chain price --usd X`, or ChainBackend.set_price)"
            ) from error

    def buy_credits(
        self, usd: Decimal | str | int, *, buyer_key: PrivateKey | None = None, recipient: str | None = None
    ) -> CreditPurchase:
        """Burn the buyer's tokens for `usd` worth of data credits (approve + mint_credits)."""
        key = buyer_key or self.keys.operator
        buyer = address_of(key)
        credits, tokens = self.quote_credits(usd)
        if credits <= 0:
            raise ChainError(f"${usd} buys no credit (one credit costs ${self.dc_price_usd()})")
        balance = self.balance_of(buyer)
        if balance < tokens:
            raise ChainError(
                f"{buyer} holds {balance} token units but ${usd} of credits needs {tokens}: "
                "claim rewards or receive tokens first"
            )
        self.send(key, "Token", "approve", self.contracts["DataCredits"], tokens)
        receipt = self.send(key, "DataCredits", "mint_credits", recipient or buyer, credits, tokens)
        minted = receipt.events_named("CreditsMinted")[0].args
        return CreditPurchase(
            recipient=str(minted["recipient"]),
            credits=int(minted["credits"]),
            tokens_burned=int(minted["tokens_burned"]),
            price_usd_wad=int(minted["price"]),
            tx_hash=receipt.tx_hash,
        )

    def dc_price_usd(self) -> Decimal:
        return Decimal(int(self.read("DataCredits", "dc_price_usd"))) / USD

    # ---- status -----------------------------------------------------------------------------------------

    def status(self) -> ChainStatus:
        number, _ = self._block()
        posted = self.read("RewardsDistributor", "total_posted")
        next_epoch = self.next_epoch()
        has_epoch = next_epoch > int(self.read("RewardsDistributor", "first_epoch"))
        root = bytes(self.read("RewardsDistributor", "latest_root"))
        return ChainStatus(
            backend=self.kind,
            chain_id=self.chain_id,
            block_number=number,
            contracts=self.contracts,
            total_supply=self.total_supply(),
            max_supply=int(self.read("Token", "max_supply")),
            total_posted=int(posted),
            total_claimed=int(self.read("RewardsDistributor", "total_claimed")),
            latest_epoch=next_epoch - 1 if has_epoch else None,
            latest_root="0x" + root.hex() if has_epoch else None,
            next_epoch=next_epoch,
            price_usd_wad=int(self.read("PriceOracle", "price")),
            price_stale=bool(self.read("PriceOracle", "is_stale")),
            credits_supply=int(self.read("DataCredits", "totalSupply")),
            devices=int(self.read("DeviceRegistry", "totalSupply")),
            paused={
                "DataCredits": bool(self.read("DataCredits", "paused")),
                "DeviceRegistry": bool(self.read("DeviceRegistry", "paused")),
                "RewardsDistributor": bool(self.read("RewardsDistributor", "paused")),
            },
            timelock_delay_seconds=int(self.read("Timelock", "get_minimum_delay")),
        )

    def roles(self) -> dict[str, Any]:
        """Who holds what, read from the chain: owners, admins, pausers, feeders, oracles, delay."""
        timelock = self.contracts["Timelock"]
        recorded = dict(self.deployment.params.get("roles", {}))
        candidates = sorted(set(recorded.values()) | {timelock})
        credits_role = {
            name: self.read("DataCredits", name) for name in ("DEFAULT_ADMIN_ROLE", "PAUSER_ROLE")
        }
        proposer = self.read("Timelock", "PROPOSER_ROLE")
        executor = self.read("Timelock", "EXECUTOR_ROLE")
        return {
            "timelock": timelock,
            "timelock_delay_seconds": int(self.read("Timelock", "get_minimum_delay")),
            "timelock_proposers": [a for a in candidates if self.read("Timelock", "hasRole", proposer, a)],
            "timelock_executors": [a for a in candidates if self.read("Timelock", "hasRole", executor, a)],
            "owners": {
                name: str(self.read(name, "owner"))
                for name in ("Token", "PriceOracle", "DeviceRegistry", "RewardsDistributor")
            },
            "credits_admins": [
                a
                for a in candidates
                if self.read("DataCredits", "hasRole", credits_role["DEFAULT_ADMIN_ROLE"], a)
            ],
            "pausers": {
                "DataCredits": [
                    a
                    for a in candidates
                    if self.read("DataCredits", "hasRole", credits_role["PAUSER_ROLE"], a)
                ],
                **{
                    name: [a for a in candidates if self.read(name, "is_pauser", a)]
                    for name in ("DeviceRegistry", "RewardsDistributor")
                },
            },
            "feeders": [a for a in candidates if self.read("PriceOracle", "is_feeder", a)],
            "oracles": [str(a) for a in self._oracles()],
            "oracle_threshold": int(self.read("RewardsDistributor", "threshold")),
            "recorded_roles": recorded,
        }

    def _oracles(self) -> list[str]:
        found: list[str] = []
        for index in range(MAX_ORACLES):
            try:
                found.append(str(self.read("RewardsDistributor", "oracles", index)))
            except TransactionRevertedError:
                break
        return found


_EMPTY = Deployment(chain_id=0, contracts={}, deployer="", block_number=0, sources_digest="")


def _bytes32(value: bytes | str, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def _root(root: bytes | str | None) -> bytes:
    """A 32-byte root; None (a tree without leaves) is the empty root."""
    return ZERO_ROOT if root is None else _bytes32(root, "root")


def _token_id(device_key: bytes) -> int:
    return int.from_bytes(_bytes32(device_key, "device_key"), "big")


def _params_json(params: DeployParams) -> dict[str, Any]:
    data = asdict(params)
    data["oracles"] = list(params.oracles)
    data["makers"] = list(params.makers)
    return data


def tx_hash_of(record: bytes) -> str:
    """0x-prefixed keccak256 of `record` (embedded transaction ids)."""
    return "0x" + keccak(record).hex()
