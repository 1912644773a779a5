"""Named integer types for money (DESIGN.md style: money is integers with named types)."""

from typing import NewType

TokenUnits = NewType("TokenUnits", int)
"""An amount in the token's smallest unit (10**decimals per token)."""
