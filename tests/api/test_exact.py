"""Exact integers in JSON: token amounts always strings, any integer beyond 2^53 - 1 a string, nothing else
changed; every JSON answer of the app follows the rule."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from opendepin.api.app import create_app
from opendepin.api.exact import AMOUNT_KEYS, MAX_SAFE_INTEGER, ExactJSONResponse, exact_json
from opendepin.clock import SimulatedClock
from opendepin.node import Node

keys = st.sampled_from([*sorted(AMOUNT_KEYS), "epoch", "count", "ts", "name"])
values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.text(max_size=8)
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)


def _walk(value: Any, amount: bool, exact: Any) -> None:
    """Check `exact` is `value` under the rule (amount: below an amount key)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        assert exact == value and type(exact) is type(value)
    elif isinstance(value, int):
        if amount or abs(value) > MAX_SAFE_INTEGER:
            assert exact == str(value)
        else:
            assert exact == value and type(exact) is int
    elif isinstance(value, dict):
        assert list(exact) == list(value)
        for key in value:
            _walk(value[key], amount or key in AMOUNT_KEYS, exact[key])
    else:
        assert len(exact) == len(value)
        for item, out in zip(value, exact, strict=True):
            _walk(item, amount, out)


@given(values)
def test_rule_holds_at_every_depth(value: Any) -> None:
    exact = exact_json(value)
    _walk(value, False, exact)
    # what a JavaScript decoder does (every number a double) loses nothing
    decoded = json.loads(json.dumps(exact), parse_int=float)
    for number in _numbers(decoded):
        assert abs(number) <= MAX_SAFE_INTEGER


def _numbers(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


def test_examples() -> None:
    big = 164_383_561_643_835_616_438_356
    assert exact_json({"emitted": big, "epoch": 3}) == {"emitted": str(big), "epoch": 3}
    assert exact_json({"pools": {"coverage": 5}}) == {"pools": {"coverage": "5"}}
    assert exact_json({"reward": 0, "reports": 2**60}) == {"reward": "0", "reports": str(2**60)}
    assert exact_json((1, True, None, 1.5)) == [1, True, None, 1.5]
    assert ExactJSONResponse({"amount": 2**70}).body == b'{"amount":"1180591620717411303424"}'


def test_every_json_answer_is_exact(node: Node, clock: SimulatedClock) -> None:
    client = TestClient(create_app(node), raise_server_exceptions=False)
    clock.set(clock.now() + 86_400 + 600)
    node.close_due_epochs()
    listing = client.get("/v1/epochs").json()
    assert listing[0]["paid"] == "0" and isinstance(listing[0]["emitted"], str) and listing[0]["number"] == 0
    manifest = client.get("/v1/epochs/0").json()
    assert all(isinstance(v, str) for v in manifest["pools"].values())
    assert int(manifest["emitted"]) > 0
    network = client.get("/v1/network").json()
    assert network["epochs"][0]["supply"] == "0" and network["epochs"][0]["epoch"] == 0
