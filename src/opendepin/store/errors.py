"""Errors of the store that callers handle (kept apart so every adapter can raise them)."""

from __future__ import annotations

from opendepin.errors import ServiceUnavailable


class StoreCorruption(ValueError):
    """Stored data that cannot be what the store wrote (e.g. an envelope that is not bytes); names the row."""


class StoreUnavailable(ServiceUnavailable):
    """The store cannot be opened (the database server is down, the database does not exist, access is
    refused): the message says which and what to do."""
