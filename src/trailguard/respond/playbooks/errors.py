"""Errors of playbooks: every one says which file and which step it came from."""

from __future__ import annotations

from dataclasses import dataclass

from trailguard.errors import SourceLocation
from trailguard.respond.errors import ResponseError


class PlaybookError(ResponseError):
    """A playbook is invalid (at load time) or cannot be expanded for an incident (at plan
    time). ``location`` names the file (``path``), the step (``member``: ``step disable-keys``
    or ``step disable-keys[LTAI…]``) and, when known, the line."""


@dataclass(frozen=True)
class Problem:
    """One problem of a CACAO document: its JSON path (``$.workflow['action--…'].agent``)
    and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class CacaoError(PlaybookError):
    """A CACAO document was refused; ``problems`` lists every problem with its JSON path."""

    def __init__(self, message: str, problems: list[Problem],
                 location: SourceLocation | None = None) -> None:
        detail = "; ".join(str(p) for p in problems[:20])
        more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{message}: {detail}{more}" if problems else message, location)
        self.problems = problems
