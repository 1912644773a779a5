"""Run a pure computation on a thread of its own while the caller goes on."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def start(function: Callable[..., T], *args: Any) -> Future[T]:
    """`function(*args)` on a new thread; its result (or exception) from the returned Future. Meant for
    numpy-heavy work (numpy releases the GIL in its array loops) whose inputs nobody changes meanwhile."""
    pool = ThreadPoolExecutor(max_workers=1)
    job = pool.submit(function, *args)
    pool.shutdown(wait=False)  # the job runs to its end; nothing else is queued
    return job
