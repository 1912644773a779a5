"""The rpc chain backend: web3.py against any JSON-RPC node (anvil, a testnet, an L2).

Transactions are built and signed locally (eth-account) and sent raw, so the node needs no unlocked
accounts. The backend keeps a local nonce per sender (resynchronised from the node's pending count on
a nonce error), estimates gas (+20 %), prices EIP-1559 transactions from the latest base fee, retries
transport failures with exponential backoff, waits for `confirmations` blocks, and turns every failure
into an error that says what to do: `NodeUnavailableError` (node down / wrong URL) or
`TransactionRevertedError` carrying the contract's revert reason.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from opendepin.chain.abi import decode_revert_reason
from opendepin.chain.backend import (
    ChainBackend,
    ChainError,
    NodeUnavailableError,
    RawLog,
    RawReceipt,
    TransactionRevertedError,
)
from opendepin.chain.keys import ChainKeys, PrivateKey
from opendepin.chain.signing import address_of

_GWEI = 10**9


class RpcError(ChainError):
    """The node answered a request with an error that is not a revert."""


def _revert_from_error(action: str, error: dict[str, Any]) -> TransactionRevertedError | None:
    """A revert error (eth_call / eth_estimateGas) as TransactionRevertedError, else None."""
    message = str(error.get("message", ""))
    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest {"data": "0x..."}
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
        return TransactionRevertedError(action, decode_revert_reason(bytes.fromhex(data[2:])))
    if "revert" in message.lower():
        reason = message.split("execution reverted", 1)[-1].lstrip(": ").strip() or "no reason given"
        return TransactionRevertedError(action, reason)
    return None


class RpcBackend(ChainBackend):
    """Settlement through a JSON-RPC node; construct with `RpcBackend(data_dir, keys, url)`."""

    kind = "rpc"

    def __init__(
        self,
        data_dir: Path,
        keys: ChainKeys,
        url: str,
        *,
        confirmations: int = 1,
        retries: int = 4,
        backoff_seconds: float = 0.25,
        timeout_seconds: float = 10.0,
        receipt_timeout_seconds: float = 120.0,
        poll_seconds: float = 0.05,
    ) -> None:
        super().__init__(data_dir, keys)
        self.url = url
        self.confirmations = max(1, confirmations)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.receipt_timeout_seconds = receipt_timeout_seconds
        self.poll_seconds = poll_seconds
        # Retries are ours (with backoff and a clear final error), so web3's own are switched off.
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout_seconds}, exception_retry_configuration=None
        )
        self._w3 = Web3(provider)
        self._nonces: dict[str, int] = {}
        self._chain_id = int(self._rpc("eth_chainId", []), 16)

    # ---- transport --------------------------------------------------------------------------------------

    def _request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """One JSON-RPC request with retries and backoff on transport failures."""
        delay = self.backoff_seconds
        for attempt in range(self.retries + 1):
            try:
                response = self._w3.provider.make_request(method, params)  # type: ignore[arg-type]
                return dict(response)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError) as error:
                if attempt == self.retries:
                    raise NodeUnavailableError(
                        f"cannot reach the JSON-RPC node at {self.url} ({type(error).__name__}) after "
                        f"{self.retries + 1} attempts: start the node (e.g. `anvil`) or pass the right "
                        "--rpc-url"
                    ) from error
            except requests.exceptions.HTTPError as error:
                if attempt == self.retries:
                    raise NodeUnavailableError(f"the JSON-RPC node at {self.url} answered {error}") from error
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _rpc(self, method: str, params: list[Any], action: str | None = None) -> Any:
        response = self._request(method, params)
        if "error" in response:
            error = dict(response["error"])
            revert = _revert_from_error(action or method, error)
            if revert is not None:
                raise revert
            what = action or method
            raise RpcError(f"{what}: the node at {self.url} refused {method}: {error.get('message')}")
        return response.get("result")

    # ---- primitives -------------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def _block(self) -> tuple[int, int]:
        block = self._rpc("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), int(block["timestamp"], 16)

    def latest_block_hash(self) -> str:
        return str(self._rpc("eth_getBlockByNumber", ["latest", False])["hash"])

    def _has_code(self, address: str) -> bool:
        if not address:
            return False
        return len(str(self._rpc("eth_getCode", [address, "latest"]))) > 2

    def _call(self, to: str, data: bytes, action: str) -> bytes:
        result = self._rpc("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"], action)
        return bytes.fromhex(str(result)[2:])

    def _next_nonce(self, sender: str) -> int:
        pending = int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        nonce = max(pending, self._nonces.get(sender, 0))
        self._nonces[sender] = nonce
        return nonce

    def _fees(self) -> dict[str, int]:
        block = self._rpc("eth_getBlockByNumber", ["latest", False])
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(self._rpc("eth_gasPrice", []), 16)}
        try:
            tip = int(self._rpc("eth_maxPriorityFeePerGas", []), 16)
        except RpcError:
            tip = _GWEI
        return {"maxFeePerGas": 2 * int(base, 16) + tip, "maxPriorityFeePerGas": tip}

    def _transact(self, sender_key: PrivateKey, to: str | None, data: bytes, action: str) -> RawReceipt:
        sender = address_of(sender_key)
        call: dict[str, Any] = {"from": sender, "data": "0x" + data.hex()}
        if to is not None:
            call["to"] = to
        try:
            estimate = int(self._rpc("eth_estimateGas", [call], action), 16)  # reverts surface here
        except RpcError as error:
            raise self._explain_funds(error, sender) from error
        for attempt in range(2):
            tx: dict[str, Any] = {
                "chainId": self._chain_id,
                "nonce": self._next_nonce(sender),
                "gas": estimate * 6 // 5 + 10_000,
                "value": 0,
                "data": data,
                **self._fees(),
            }
            if to is not None:
                tx["to"] = to_checksum_address(to)
            signed = Account.sign_transaction(tx, sender_key)
            tx_hash = "0x" + bytes(signed.hash).hex()
            try:
                self._rpc("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()], action)
            except RpcError as error:
                text = str(error).lower()
                if "already known" in text:
                    pass  # the same signed transaction was already accepted: wait for it
                elif "nonce" in text and attempt == 0:
                    self._nonces.pop(sender, None)  # resynchronise with the node and rebuild
                    continue
                else:
                    raise self._explain_funds(error, sender) from error
            self._nonces[sender] = tx["nonce"] + 1
            return self._wait(tx_hash, call, action)
        raise RpcError(f"{action}: could not find a usable nonce for {sender}")

    def _explain_funds(self, error: RpcError, sender: str) -> ChainError:
        if "insufficient funds" not in str(error).lower():
            return error
        return ChainError(
            f"{sender} cannot pay for gas on chain {self._chain_id} ({error}): send it native coin, e.g. "
            "`cast rpc anvil_setBalance ADDRESS 0x56BC75E2D63100000` on anvil, a faucet on a testnet, or "
            "set DEPIN_OPERATOR_KEY to a funded key"
        )

    def _wait(self, tx_hash: str, call: dict[str, Any], action: str) -> RawReceipt:
        deadline = time.monotonic() + self.receipt_timeout_seconds
        receipt: dict[str, Any] | None = None
        while True:
            receipt = receipt or self._rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                mined = int(receipt["blockNumber"], 16)
                if int(self._rpc("eth_blockNumber", []), 16) - mined + 1 >= self.confirmations:
                    break
            if time.monotonic() > deadline:
                state = "not mined" if receipt is None else f"short of {self.confirmations} confirmations"
                raise ChainError(
                    f"{action}: transaction {tx_hash} is {state} after {self.receipt_timeout_seconds:.0f} s; "
                    "it may still be pending: check the node, or raise the gas price"
                )
            time.sleep(self.poll_seconds)
        if int(receipt["status"], 16) != 1:
            raise TransactionRevertedError(action, self._replay_reason(call, receipt), tx_hash)
        logs = tuple(
            RawLog(
                to_checksum_address(log["address"]),
                tuple(bytes.fromhex(t[2:]) for t in log["topics"]),
                bytes.fromhex(log["data"][2:]),
            )
            for log in receipt["logs"]
        )
        created = receipt.get("contractAddress")
        return RawReceipt(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"], 16),
            gas_used=int(receipt["gasUsed"], 16),
            logs=logs,
            contract_address=to_checksum_address(created) if created else None,
        )

    def _replay_reason(self, call: dict[str, Any], receipt: dict[str, Any]) -> str:
        """The revert reason of a mined, failed transaction (re-executed at its block)."""
        try:
            self._rpc("eth_call", [call, receipt["blockNumber"]])
        except TransactionRevertedError as revert:
            return revert.reason
        except RpcError:
            pass
        used = int(receipt["gasUsed"], 16)
        return f"reverted on chain without a reason (gas used {used}; possibly out of gas)"

    def credit_spend_found(self, account: str, credits: int, reason: bytes) -> bool:
        """Looks for the router's CreditsSpent log (account and router indexed; credits and reason in the
        data) since the deployment's block."""
        topic0 = "0x" + keccak(text="CreditsSpent(address,address,uint256,bytes32)").hex()
        logs = self._rpc(
            "eth_getLogs",
            [
                {
                    "address": self.contracts["DataCredits"],
                    "fromBlock": hex(self.deployment.block_number),
                    "toBlock": "latest",
                    "topics": [topic0, _topic(account), _topic(self.keys.address("router"))],
                }
            ],
        )
        wanted = credits.to_bytes(32, "big") + bytes(reason).rjust(32, b"\0")
        return any(bytes.fromhex(str(log["data"])[2:]) == wanted for log in logs)

    # ---- ether for gas ----------------------------------------------------------------------------------

    def native_balance(self, address: str) -> int:
        return int(self._rpc("eth_getBalance", [address, "latest"]), 16)

    def fund_operator_on_dev_node(self, wei: int) -> bool:
        """On a development node (anvil, hardhat) give the operator `wei` with the node's set-balance call;
        False on a real network, which refuses such calls (the operator must then be funded by hand)."""
        operator = self.keys.address("operator")
        if self.native_balance(operator) >= wei:
            return True
        for method in ("anvil_setBalance", "hardhat_setBalance"):
            try:
                self._rpc(method, [operator, hex(wei)])
                return True
            except RpcError:
                continue
        return False

    def fund(self, address: str, wei: int) -> None:
        """Send `wei` of the chain's native coin from the operator, so `address` can pay gas."""
        if self.native_balance(address) >= wei:
            return
        self._transfer_native(address, wei)

    def _transfer_native(self, to: str, wei: int) -> None:
        sender = self.keys.address("operator")
        tx: dict[str, Any] = {
            "chainId": self._chain_id,
            "nonce": self._next_nonce(sender),
            "gas": 21_000,
            "to": to_checksum_address(to),
            "value": wei,
            "data": b"",
            **self._fees(),
        }
        signed = Account.sign_transaction(tx, self.keys.operator)
        try:
            self._rpc("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()], "fund")
        except RpcError as error:
            raise self._explain_funds(error, sender) from error
        self._nonces[sender] = tx["nonce"] + 1
        self._wait("0x" + bytes(signed.hash).hex(), {"from": sender, "to": to}, f"fund {to}")

    def close(self) -> None:
        """Nothing to release: web3 pools HTTP sessions per process."""


def _topic(address: str) -> str:
    """An indexed address as a log topic (left-padded to 32 bytes)."""
    return "0x" + bytes.fromhex(address[2:]).rjust(32, b"\0").hex()
