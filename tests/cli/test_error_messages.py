"""Error messages are shown as written: a TOML table named in one (`[store]`, `[[makers]]`) is text, where
Rich markup would have dropped it as a style tag ("add it to network.toml's []")."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import typer

from opendepin.chain.cli import _fail as chain_fail
from opendepin.cli.common import fail
from opendepin.economics.cli import _fail as economics_fail

MESSAGE = 'fix [store] dsn, add [[makers]] name = "load", see [chain] kind'


def _raise_economics(message: str) -> None:
    raise economics_fail(message)


@pytest.mark.parametrize("failing", [fail, chain_fail, _raise_economics])
def test_a_failure_prints_its_brackets(
    failing: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit):
        failing(MESSAGE)
    printed = " ".join(capsys.readouterr().err.split())
    assert "[store] dsn" in printed and "[[makers]]" in printed and "[chain] kind" in printed
