"""How `depin` shows things: tokens with their symbol, ISO times, tables that never cut a reason code."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from opendepin.cli.output import code_column, format_fraction, format_time, format_tokens, print_table


def test_tokens_with_symbol_and_raw_units() -> None:
    assert format_tokens(1_234_567_890_123_456_789, 18, "DPN") == "1.234567 DPN"
    assert format_tokens(1_500_000_000_000_000_000, 18, "DPN", exact=True) == "1.5 DPN"
    assert format_tokens(-5, 0, "DPN") == "-5 DPN"
    assert format_tokens(42, 18, "DPN", raw=True) == "42 units"


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=0, max_value=24))
def test_exact_tokens_read_back_to_the_same_units(units: int, decimals: int) -> None:
    text = format_tokens(units, decimals, "T", exact=True).removesuffix(" T").replace(",", "")
    whole, _, fraction = text.lstrip("-").partition(".")
    back = int(whole) * 10**decimals + (int(fraction.ljust(decimals, "0")) if fraction else 0)
    assert (-back if text.startswith("-") else back) == units


def test_times_and_fractions() -> None:
    assert format_time(0) == "1970-01-01T00:00:00Z"
    assert format_time(1_767_225_600, raw=True) == "1767225600"
    assert format_fraction("1/3") == "33.33 %"
    assert format_fraction(0.015) == "1.50 %"


def test_a_narrow_terminal_never_cuts_a_reason_code() -> None:
    code = "sector.wireless.heartbeat.too_few_heartbeats_in_the_epoch"
    for width in (20, 40, 80):
        buffer = io.StringIO()
        console = Console(file=buffer, width=width, color_system=None)
        table = Table(title="refused")
        code_column(table, "reason")
        table.add_column("count", justify="right")
        table.add_column("note")
        table.add_row(code, "12", "a note that may wrap between its words")
        print_table(console, table)
        lines = buffer.getvalue().splitlines()
        assert any(code in line for line in lines), buffer.getvalue()
        assert console.width == width  # the console is given back its width
