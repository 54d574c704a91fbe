"""EQL-style sequences: ordered stages, join keys, maxspan and `until`, with bounded state.

Semantics follow endgameinc/eql (docs/query-guide/implementation.rst, eql/engine.py):

* A sequence is a state machine per join key. State *i* holds at most **one** pending
  sequence per key: the one waiting for stage *i*. A stage-0 match starts a pending sequence
  in state 1, replacing any pending one for its key; a stage-*i* match advances the pending
  sequence of state *i* into state *i + 1* (replacing what was there) and empties state *i*;
  a match of the last stage completes the sequence and emits it. Memory is therefore bounded by
  keys x stages and the output by the number of last-stage matches, never a self-join.
* Join key of a member at a stage: the values of the sequence's `by` fields followed by the
  stage's own `by` fields (as EQL's `sequence by host [a] by pid [b] by ppid`), compared
  case-insensitively for strings; an absent field is None, a key like any other.
* `maxspan` (inclusive): a pending sequence may advance at time t only while
  t - start <= maxspan; otherwise it is discarded. Expiry is checked lazily when a pending
  sequence would advance, which is exact and keeps the work per event O(1).
* `until`: a match of the until stage clears every pending sequence of its key (EQL's
  "process terminated, PID state is void"). At one instant, until applies first.
* Order is strict in time: members at the same instant never follow one another (the
  sqlite backend's rule: equal timestamps do not establish order). Within one instant the
  stages are applied last to first, as EQL does, so a member that matches several stages
  cannot advance the same sequence twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

from trailguard.detect.correlation.model import CorrelationInputError, Member
from trailguard.detect.correlation.values import group_key, micros, span_micros


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a sequence: the rule whose matches can fill it, and its own join fields."""

    rule: str
    by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SequenceMatch:
    """A completed sequence: its join key (comparable form) and one member per stage."""

    key: tuple[Any, ...]
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class _Pending:
    start: int
    last: int
    members: tuple[Member, ...]


@dataclass(slots=True)
class _Step:
    """One member as the machine sees it: when, which stage (-1 for until), which key."""

    time: int
    stage: int
    key: tuple[Any, ...]
    member: Member


@dataclass(frozen=True, slots=True)
class Sequence:
    """`sequence [by k…] [with maxspan=T] [stage]… [until [stage]]` over rule matches."""

    stages: tuple[Stage, ...]
    by: tuple[str, ...] = ()
    maxspan: timedelta | None = None
    until: Stage | None = None

    def __post_init__(self) -> None:
        if not self.stages:
            raise CorrelationInputError("a sequence needs at least one stage")
        widths = {len(stage.by) for stage in self.stages}
        if self.until is not None:
            widths.add(len(self.until.by))
        if len(widths) != 1:
            raise CorrelationInputError(
                "every stage (and until) of a sequence must join on the same number of fields"
            )
        if self.maxspan is not None and self.maxspan < timedelta(0):
            raise CorrelationInputError("a sequence maxspan cannot be negative")

    def run(self, members: Mapping[str, Iterable[Member]]) -> list[SequenceMatch]:
        """Completed sequences in completion order. `members`: each rule's matches, any order."""
        steps = self._steps(members)
        pending: list[dict[tuple[Any, ...], _Pending]] = [{} for _ in self.stages]
        limit = None if self.maxspan is None else span_micros(self.maxspan)
        matches: list[SequenceMatch] = []
        for moment, batch in groupby(steps, key=_step_time):
            ordered = list(batch)
            if len(ordered) > 1:
                ordered.sort(key=_step_stage_descending)
            for step in ordered:
                if step.stage == -1:
                    for state in pending:
                        state.pop(step.key, None)
                else:
                    self._advance(step, moment, pending, limit, matches)
        return matches

    def _advance(
        self,
        step: _Step,
        moment: int,
        pending: list[dict[tuple[Any, ...], _Pending]],
        limit: int | None,
        matches: list[SequenceMatch],
    ) -> None:
        last_stage = len(self.stages) - 1
        if step.stage == 0:
            started = _Pending(moment, moment, (step.member,))
        else:
            previous = pending[step.stage].get(step.key)
            if previous is None or previous.last >= moment:
                return
            del pending[step.stage][step.key]
            if limit is not None and moment - previous.start > limit:
                return
            started = _Pending(previous.start, moment, (*previous.members, step.member))
        if step.stage == last_stage:
            matches.append(SequenceMatch(step.key, started.members))
        else:
            pending[step.stage + 1][step.key] = started

    def _steps(self, members: Mapping[str, Iterable[Member]]) -> list[_Step]:
        roles: dict[str, list[tuple[int, Stage]]] = {}
        for index, stage in enumerate(self.stages):
            roles.setdefault(stage.rule, []).append((index, stage))
        if self.until is not None:
            roles.setdefault(self.until.rule, []).append((-1, self.until))
        steps: list[_Step] = []
        for rule, stages in roles.items():
            keyed = [(index, (*self.by, *stage.by)) for index, stage in stages]
            seen: set[str] = set()
            for member in members.get(rule, ()):
                if member.uid in seen:
                    continue
                seen.add(member.uid)
                moment = micros(member.time)
                for index, names in keyed:
                    steps.append(_Step(moment, index, group_key(member.fields, names), member))
        steps.sort(key=_step_order)
        return steps


def _step_time(step: _Step) -> int:
    return step.time


def _step_order(step: _Step) -> tuple[int, str]:
    return (step.time, step.member.uid)


def _step_stage_descending(step: _Step) -> tuple[int, int]:
    # until (-1) first, then the last stage down to the first.
    return (0 if step.stage == -1 else 1, -step.stage)
