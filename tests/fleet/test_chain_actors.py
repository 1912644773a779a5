"""The fleet's owners claim in turn: a rotating share, so that every owner claims within a few epochs."""

from __future__ import annotations

import math

from opendepin.fleet.chain_actors import compute_claimers


def test_a_rotating_share_of_owners_claims() -> None:
    assert compute_claimers(5, 0.5, 0) == [0, 1, 2]
    assert compute_claimers(5, 0.5, 1) == [0, 3, 4]
    assert compute_claimers(4, 1.0, 7) == [0, 1, 2, 3]
    assert compute_claimers(4, 0.0, 3) == [] and compute_claimers(0, 0.5, 0) == []
    for owners, share in ((20, 0.5), (33, 0.5), (7, 0.2)):
        rounds = math.ceil(owners / math.ceil(share * owners))
        claimed = {i for epoch in range(rounds) for i in compute_claimers(owners, share, epoch)}
        assert claimed == set(range(owners))
