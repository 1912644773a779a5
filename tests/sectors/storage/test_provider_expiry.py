"""What a provider agent does with a piece whose paid storage ran out (docs/storage.md, "Renewal and
expiry"): from the expiry on it serves no byte (410 `storage.expired`) and takes no renewal; it deletes the
bytes once the audit answer deadline after the expiry has passed, never before; an audit issued after the
expiry owes nothing for it. The agent here is the real one on its own directory; its node is never asked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import HTTPException

from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.pieces import PieceMeta
from opendepin.sectors.storage.provider import ProviderAgent, ProviderOptions

SEGMENT = "ab" * 32


def agent_with_pieces(directory: Path, expiries: list[int]) -> ProviderAgent:
    agent = ProviderAgent(ProviderOptions(directory, "http://127.0.0.1:9", 10**9, "100.64.0.0/24", ""))
    for index, expires in enumerate(expiries):
        data = bytes([index]) * 5_000
        root = merkle.compute_root(data, agent.params.leaf_size).hex()
        meta = PieceMeta(SEGMENT, index, len(data), root, 2, 4, "0x" + "11" * 20, "", expires, "")
        agent.store.put(meta, data)
    return agent


def test_expired_bytes_are_kept_until_the_answer_deadline_then_deleted(tmp_path: Path) -> None:
    now = int(time.time())
    agent = agent_with_pieces(tmp_path, [now - 10, now + 3_600, 0])
    grace = agent.params.timeout_s
    assert agent.expire_once(now) == 0  # within the deadline of an audit issued before the expiry
    assert agent.store.read(SEGMENT, 0) is not None
    assert agent.expire_once(now - 10 + grace) == 1
    assert agent.store.meta(SEGMENT, 0) is None and agent.store.read(SEGMENT, 0) is None
    assert [m.index for m in agent.store.all()] == [1, 2]  # the paid one and the one without expiry
    assert agent.expire_once(now + 10**6) == 1 and [m.index for m in agent.store.all()] == [2]


def test_an_expired_piece_is_neither_served_nor_renewed(tmp_path: Path) -> None:
    now = int(time.time())
    agent = agent_with_pieces(tmp_path, [now - 1, 0])
    with pytest.raises(HTTPException) as served:
        agent.serve_get(SEGMENT, 0, {})
    assert served.value.status_code == 410 and served.value.detail["reason"] == "storage.expired"
    with pytest.raises(HTTPException) as renewed:
        agent.renew(SEGMENT, 0, {})
    assert renewed.value.status_code == 410 and renewed.value.detail["reason"] == "storage.expired"
    with pytest.raises(HTTPException) as never:
        agent.renew(SEGMENT, 1, {})
    assert never.value.detail["reason"] == "storage.renew_not_later"


def test_an_audit_issued_after_the_expiry_owes_nothing_for_the_piece(tmp_path: Path) -> None:
    now = int(time.time())
    agent = agent_with_pieces(tmp_path, [now - 100])
    kind_after, after = agent.audit_answers("cd" * 32, now - 50)
    kind_before, before = agent.audit_answers("ef" * 32, now - 200)
    assert kind_after == "storage.ping" and after == [{"challenge": "cd" * 32}]
    assert kind_before == "storage.proof" and before[0]["piece"] == 0
