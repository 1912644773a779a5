"""The report's Markdown and HTML rendering."""

from __future__ import annotations

from opendepin.economics.document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    format_number,
    render_html,
    render_markdown,
)

BLOCKS: list[Block] = [
    Heading(1, "Title"),
    Paragraph("Burns cover **1.5×** of mints <today>."),
    Bullets(("one", "two")),
    Table(("metric", "value"), (("supply", "1M"),)),
    Image("supply.png", "supply"),
]


def test_markdown() -> None:
    text = render_markdown(BLOCKS)
    assert text.startswith("# Title\n")
    assert "- one\n- two" in text
    assert "| metric | value |\n|---|---|\n| supply | 1M |" in text
    assert "![supply](supply.png)" in text


def test_html_escapes_and_bolds() -> None:
    page = render_html(BLOCKS, "T")
    assert "<strong>1.5×</strong>" in page
    assert "&lt;today&gt;" in page
    assert '<img src="supply.png" alt="supply">' in page


def test_format_number() -> None:
    assert [format_number(x) for x in (1_234_567.0, 45_600.0, 0.0123, float("nan"))] == [
        "1.23M",
        "45.6k",
        "0.0123",
        "n/a",
    ]
