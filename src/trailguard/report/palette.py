"""Colours of the HTML report. Fixed tables only: no colour is ever derived from evidence text,
so nothing attacker-controlled reaches a style attribute."""

from __future__ import annotations

from trailguard.report.attack import ENTERPRISE_TACTICS

_TACTIC_COLORS = (
    "#6b7b8c", "#8c6bb1", "#d7301f", "#fc8d59", "#b15928", "#e7298a", "#7570b3",
    "#a6761d", "#1b9e77", "#66a61e", "#1f78b4", "#e6ab02", "#cb181d", "#4d004b",
)
TACTIC_COLORS = dict(zip(ENTERPRISE_TACTICS, _TACTIC_COLORS, strict=True))
UNKNOWN_TACTIC_COLOR = "#999999"

ROLE_COLORS = {"attacker": "#d7301f", "victim": "#1f78b4"}
UNKNOWN_ROLE_COLOR = "#777777"

#: Heat from none to most: the shade of a heatmap cell.
HEAT = ("#fff5f0", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603")


def tactic_color(shortname: str) -> str:
    return TACTIC_COLORS.get(shortname, UNKNOWN_TACTIC_COLOR)


def role_color(role: str) -> str:
    return ROLE_COLORS.get(role, UNKNOWN_ROLE_COLOR)


def heat(value: int, most: int) -> str:
    """The shade of ``value`` on a scale whose top is ``most``."""
    if value <= 0 or most <= 0:
        return HEAT[0]
    return HEAT[1 + min(len(HEAT) - 2, (value * (len(HEAT) - 1) - 1) // most)]
