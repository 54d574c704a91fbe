"""Evidence text shown to a person (terminal, HTML report): what must never reach the eye raw.

Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the marks that reorder
text (U+200E, U+200F, U+061C) let evidence show one thing and be another ("Trojan Source"):
they are shown as ``\\uNNNN`` everywhere TrailGuard displays evidence."""

from __future__ import annotations

from typing import Any

BIDI_CONTROLS: dict[int, str] = {code: f"\\u{code:04x}" for code in (
    0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def visible(value: Any) -> Any:
    """A string with its bidirectional controls made visible; anything else unchanged (a
    Jinja `finalize`, applied before autoescaping)."""
    return value.translate(BIDI_CONTROLS) if isinstance(value, str) else value
