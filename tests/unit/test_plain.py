"""terminal_safe: every character that acts on a terminal is shown, not obeyed."""

from __future__ import annotations

import pytest

from infra_bootstrap.operate.plain import terminal_safe


@pytest.mark.parametrize(("raw", "shown"), [
    ("Order.Created", "Order.Created"),
    ("é ü 日本 🙂", "é ü 日本 🙂"),  # printable Unicode stays as it is
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),  # SGR colour
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC: set the window title
    ("a\rb\bc\nd\te", "a\\x0db\\x08c\\x0ad\\x09e"),  # rewind, backspace, new line, tab
    ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),  # NUL, DEL, the C1 control sequence introducer
    ("\u202egnp.exe\u2066x\u2069", "\\u202egnp.exe\\u2066x\\u2069"),  # bidi override, isolate
])
def test_controls_are_escaped_and_everything_else_is_kept(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


def test_already_escaped_text_is_left_as_it_is() -> None:
    assert terminal_safe("\\x1b[31m") == "\\x1b[31m"
