"""Errors every layer may raise and the command line reports as a message, not a traceback."""

from __future__ import annotations


class ServiceUnavailable(RuntimeError):
    """A server the node needs (its database, its message bus) cannot be reached or opened; the message says
    which, at what address, and what to do."""
