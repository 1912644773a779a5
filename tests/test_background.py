"""A computation started in the background gives its result, or its exception, through the Future."""

from __future__ import annotations

import threading

import pytest

from opendepin.background import start


def test_the_result_comes_from_another_thread() -> None:
    caller = threading.get_ident()
    job = start(lambda a, b: (a + b, threading.get_ident()), 2, 3)
    total, thread = job.result(timeout=10)
    assert total == 5 and thread != caller


def test_an_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("no luck")

    with pytest.raises(ValueError, match="no luck"):
        start(fail).result(timeout=10)
