"""Plain text for every operator command: the same on a terminal and in a pipe. Pure.

The rule (issue 11, item 7): the commands print plain text, no colour and no terminal
escape codes, whether stdout is a TTY or not, so a pipe, a file or `grep` gets exactly
what a terminal shows (and ``NO_COLOR`` has nothing to turn off). What they print
includes data from events, dead letters and error messages, which anyone allowed to
publish an event chooses; :func:`terminal_safe` makes every control character of it
visible as an escape (``\\x1b``) instead of letting it move the cursor, recolour or
retitle the terminal, and so does Unicode's bidirectional overrides, which reorder
what a line shows ("Trojan Source", CVE-2021-42574).

>>> terminal_safe("Order.Created\\x1b[31m red\\x1b[0m")
'Order.Created\\\\x1b[31m red\\\\x1b[0m'
"""

from __future__ import annotations

import re

import click

# C0 controls (tab and newline too: one record is one line), DEL, C1 controls, and the
# bidirectional embeddings, overrides and isolates (Unicode UAX #9).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with each character that would act on a terminal written as an escape.

    >>> terminal_safe("a\\tb\\u202ec")
    'a\\\\x09b\\\\u202ec'
    """
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def echo(line: str, *, err: bool = False) -> None:
    """Print one line of a command's output (stderr with ``err``), terminal-safe."""
    click.echo(terminal_safe(line), err=err)
