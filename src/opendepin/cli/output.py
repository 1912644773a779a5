"""How `depin` shows things to a person: tokens with their symbol, ISO times, tables that never cut a code.

Every function has a `raw` form for scripts and exact checks: base units (integers in the token's smallest
unit) and Unix seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Console
from rich.table import Table

SHOWN_DECIMALS = 6


def format_tokens(units: int, decimals: int, symbol: str, *, raw: bool = False, exact: bool = False) -> str:
    """`units` (smallest units) as tokens with the symbol: rounded toward zero to 6 decimals, or `exact`
    (every decimal, trailing zeros dropped); `raw`: the integer and the word `units`."""
    if raw:
        return f"{units} units"
    scale = 10**decimals
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), scale)
    digits = f"{fraction:0{decimals}d}" if decimals else ""
    digits = digits.rstrip("0") if exact else digits[:SHOWN_DECIMALS]
    return f"{sign}{whole:,}{'.' + digits if digits else ''} {symbol}"


def format_time(ts: int, *, raw: bool = False) -> str:
    """Unix seconds as an ISO 8601 UTC time (`2026-01-01T00:00:00Z`), or the integer with `raw`."""
    if raw:
        return str(ts)
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(seconds: int) -> str:
    """A duration in the largest unit that divides it (`1 day`, `6 h`, `90 s`)."""
    for size, unit in ((86_400, "day"), (3_600, "h"), (60, "min")):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{seconds} s"


def format_fraction(value: str | float | Decimal, *, percent: bool = True) -> str:
    """A ratio (a number or its exact text such as `1/3`) as a percentage with two decimals."""
    text = str(value)
    if "/" in text:
        numerator, denominator = text.split("/", 1)
        number = Decimal(numerator) / Decimal(denominator)
    else:
        number = Decimal(text)
    return f"{number * 100:.2f} %" if percent else f"{number:.4f}"


def format_counts(counts: Mapping[str, int]) -> str:
    """`reason count, …` by decreasing count, or `-`."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{reason} {count:,}" for reason, count in ordered) or "-"


def code_column(table: Table, header: str) -> None:
    """A column of reason codes: never wrapped nor cut."""
    table.add_column(header, no_wrap=True, overflow="ignore")


def minimum_width(console: Console, table: Table) -> int:
    """The narrowest `table` can be drawn without cutting a cell of a `no_wrap` column (others may wrap
    between words)."""
    options = console.options.update_width(10_000)
    widths = [
        (measured.maximum if column.no_wrap else measured.minimum)
        for column in table.columns
        for measured in [table._measure_column(console, options, column)]
    ]
    return sum(widths) + table._extra_width


def print_table(console: Console, table: Table) -> None:
    """Print `table` at least as wide as its unbreakable cells need, so no code is cut or folded (a
    terminal narrower than that wraps the lines itself)."""
    width = console.width
    needed = minimum_width(console, table)
    if needed <= width:
        console.print(table)
        return
    console.width = needed  # rich never prints wider than its console: widen it for this table
    try:
        console.print(table, crop=False)
    finally:
        console.width = width
