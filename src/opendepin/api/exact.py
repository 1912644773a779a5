"""Exact integers in JSON: token amounts are decimal strings, every other integer beyond 2^53 too.

JavaScript (and many JSON decoders) read numbers as IEEE-754 doubles, exact only up to 2^53: an amount of
164383561643835616438356 smallest units would arrive rounded. Rule of the API: every token amount (the
values under the keys in `AMOUNT_KEYS`, however deep) is a string of decimal digits, always, whatever its
size, so a field never changes type; counts, timestamps and epoch numbers stay numbers, and any other
integer whose magnitude exceeds 2^53 − 1 is a string too (so no output can lose precision).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

MAX_SAFE_INTEGER = 2**53 - 1
AMOUNT_KEYS = frozenset(
    {
        "amount",
        "amounts",
        "burned",
        "cap_units",
        "chain_total_supply",
        "claimed",
        "cumulative",
        "emitted",
        "flows",
        "formula_amount",
        "max_reward",
        "paid",
        "pool",
        "pools",
        "remainder",
        "reward",
        "supply",
        "total_supply",
        "totals",
    }
)
"""Keys whose integer values (and every integer nested under them) are token amounts in smallest units."""


def exact_json(value: Any, amount: bool = False) -> Any:
    """`value` with token amounts and unsafe integers as decimal strings (module docstring); booleans,
    floats, strings and None unchanged; tuples become lists."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value) if amount or abs(value) > MAX_SAFE_INTEGER else value
    if isinstance(value, Mapping):
        return {key: exact_json(item, amount or key in AMOUNT_KEYS) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_json(item, amount) for item in value]
    return value


class ExactJSONResponse(JSONResponse):
    """The node's JSON answers: `exact_json` applied to the content before encoding (the app's default
    response class, so every route's integers follow the rule above)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            exact_json(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
