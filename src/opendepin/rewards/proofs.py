"""Why a Merkle proof cannot be given (the proofs themselves come from services/proofs.py)."""

from __future__ import annotations


class ProofError(LookupError):
    """No proof: the epoch is not closed, paid nobody, its stored leaves are damaged, or the owner has no
    leaf; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
