"""Named integer types for money: every amount is an integer with a named type."""

from typing import NewType

TokenUnits = NewType("TokenUnits", int)
"""An amount in the token's smallest unit (10**decimals per token)."""
