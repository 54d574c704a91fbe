"""Showing evidence text on a terminal safely."""

from __future__ import annotations

from rich.markup import escape

from trailguard.display import BIDI_CONTROLS

#: Control characters (ANSI/OSC escapes in log fields, file names …) shown as \xNN, so that
#: evidence can never drive the analyst's terminal.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))
             if code not in (0x09, 0x0A)}
_CONTROLS.update(BIDI_CONTROLS)  # and no reordering of what the analyst reads


def shown(text: str) -> str:
    """Evidence text made safe for the terminal: no markup, no control sequences."""
    return escape(text.translate(_CONTROLS))
