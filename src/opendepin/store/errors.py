"""Errors of the store that callers handle (kept apart so every adapter can raise them)."""

from __future__ import annotations


class StoreCorruption(ValueError):
    """Stored data that cannot be what the store wrote (e.g. an envelope that is not bytes); names the row."""
