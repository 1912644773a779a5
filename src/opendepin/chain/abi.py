"""A small ABI codec over `eth_abi`: calls, constructor arguments, return values, events, reverts.

Pure functions of the compiled ABI; both chain backends use it so they encode and decode identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

_ERROR_SELECTOR = keccak(text="Error(string)")[:4]
_PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]


def _type_of(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _normalise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, tuple | list):
        return type(value)(_normalise(v) for v in value)
    return value


@dataclass(frozen=True)
class Event:
    """A decoded log entry."""

    name: str
    address: str
    args: dict[str, Any]


class ContractAbi:
    """Encoder/decoder for one contract's ABI."""

    def __init__(self, abi: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> None:
        self._functions: dict[str, dict[str, Any]] = {}
        self._events: dict[bytes, dict[str, Any]] = {}
        self._constructor: dict[str, Any] = {"inputs": []}
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                self._functions[item["name"]] = item
            elif kind == "event":
                types = ",".join(_type_of(p) for p in item["inputs"])
                self._events[keccak(text=f"{item['name']}({types})")] = item
            elif kind == "constructor":
                self._constructor = item

    def function(self, name: str) -> dict[str, Any]:
        try:
            return self._functions[name]
        except KeyError:
            raise KeyError(f"the contract has no function {name!r}") from None

    def encode_call(self, name: str, *args: Any) -> bytes:
        """Selector + ABI-encoded arguments of `name(args)`."""
        fn = self.function(name)
        types = [_type_of(p) for p in fn["inputs"]]
        if len(types) != len(args):
            raise TypeError(f"{name} takes {len(types)} arguments, got {len(args)}")
        selector = keccak(text=f"{name}({','.join(types)})")[:4]
        return selector + abi_encode(types, [_normalise(a) for a in args])

    def encode_constructor(self, *args: Any) -> bytes:
        types = [_type_of(p) for p in self._constructor["inputs"]]
        if len(types) != len(args):
            raise TypeError(f"constructor takes {len(types)} arguments, got {len(args)}")
        return abi_encode(types, [_normalise(a) for a in args])

    def decode_output(self, name: str, data: bytes) -> Any:
        """The return value of `name` (a single value, or a tuple for several outputs)."""
        outputs = self.function(name)["outputs"]
        values = abi_decode([_type_of(p) for p in outputs], data)
        values = tuple(_normalise(v) for v in values)
        return values[0] if len(values) == 1 else values

    def decode_log(self, address: str, topics: list[bytes], data: bytes) -> Event | None:
        """Decode a log emitted by this contract, or None if it is not one of its events."""
        if not topics or topics[0] not in self._events:
            return None
        item = self._events[topics[0]]
        indexed = [p for p in item["inputs"] if p.get("indexed")]
        plain = [p for p in item["inputs"] if not p.get("indexed")]
        args: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=False):
            args[param["name"]] = _normalise(abi_decode([_type_of(param)], topic)[0])
        values = abi_decode([_type_of(p) for p in plain], data)
        for param, value in zip(plain, values, strict=True):
            args[param["name"]] = _normalise(value)
        return Event(name=item["name"], address=to_checksum_address(address), args=args)


def decode_revert_reason(data: bytes) -> str:
    """The human-readable reason of a revert's return data (Error(string), Panic(uint256) or raw)."""
    if data[:4] == _ERROR_SELECTOR:
        try:
            return str(abi_decode(["string"], data[4:])[0])
        except Exception:  # malformed payload: fall through to hex
            pass
    if data[:4] == _PANIC_SELECTOR and len(data) >= 36:
        return f"panic 0x{int.from_bytes(data[4:36], 'big'):02x}"
    return "no reason given" if not data else f"raw revert data 0x{data.hex()}"
