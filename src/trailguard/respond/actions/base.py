"""The response-action extension point: an :class:`Action` base class and the ``ACTIONS``
registry.

To add an action:

1. Write a frozen dataclass of parameters subclassing :class:`Params` (validate in
   ``__post_init__``; secrets are never parameters: take the *name* of an environment
   variable instead).
2. Subclass :class:`Action` with ``name``, ``provider``, ``Params``, ``READ_PERMISSIONS`` and
   ``WRITE_PERMISSIONS`` (RAM/IAM action strings, ``ecs:DescribeInstances``), ``REVERSIBLE``.
3. Implement :meth:`Action.plan`: read the current state with :meth:`PlanBuilder.read`, add
   the write calls that are still needed with :meth:`PlanBuilder.call` and the human diff with
   :meth:`PlanBuilder.change`; put what rollback needs into ``PlanBuilder.state``. Return an
   empty plan when nothing needs changing: that is the idempotency contract.
4. If reversible, implement :meth:`Action.rollback_plan` from the result's ``state``.
5. Decorate the class with :func:`register_action`; its id is ``<provider>.<name>`` and its
   module must be ``trailguard.respond.actions.<provider>.<name>``.

``execute`` is shared: it makes the plan's calls in order, substituting ``${ref}`` outputs,
and records each request and response (redacted).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Literal, TypeVar

from trailguard.plugins import Registry
from trailguard.respond.clients.base import ProviderClient
from trailguard.respond.errors import CloudCallError, NotReversibleError, ParamsError
from trailguard.respond.model import ApiCall, CallRecord, Change, Plan, Result, dig, resolve_refs
from trailguard.respond.redact import redact

log = logging.getLogger(__name__)

Provider = Literal["aliyun", "aws", "notify"]


@dataclasses.dataclass(frozen=True)
class Params:
    """Base of every action's parameters (a frozen dataclass)."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> typing.Self:
        """Build from playbook data: unknown or missing keys raise :class:`ParamsError`,
        lists become tuples, scalar types are checked."""
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ParamsError(f"{cls.__qualname__}: unknown parameter(s) {', '.join(unknown)}; "
                              f"known: {', '.join(fields)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            kwargs[name] = _coerce(cls.__qualname__, name, hints[name], value)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ParamsError(f"{cls.__qualname__}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(owner: str, name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ParamsError(f"{owner}.{name}: expected a list, got {value!r}")
        return tuple(str(v) for v in value)
    allowed = typing.get_args(hint) if origin in (types.UnionType, typing.Union) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return value
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is str and isinstance(value, str):
            return value
    raise ParamsError(f"{owner}.{name}: expected {hint}, got {value!r}")


P = TypeVar("P", bound=Params)
C = TypeVar("C", bound=ProviderClient)


class PlanBuilder:
    """Collects reads, calls, changes, state and notes while an action plans."""

    def __init__(self, action: str, params: Params | Mapping[str, Any], *,
                 rollback: bool = False) -> None:
        self.action = action
        self.params = params
        self.rollback = rollback
        self.calls: list[ApiCall] = []
        self.reads: list[ApiCall] = []
        self.changes: list[Change] = []
        self.notes: list[str] = []
        self.state: dict[str, Any] = {}

    def read(self, client: ProviderClient, service: str, action: str,
             parameters: Mapping[str, Any]) -> Mapping[str, Any]:
        """Make a read call now and return its response body."""
        call = ApiCall(service, action, dict(parameters))
        self.reads.append(call)
        return client.call(call).body

    def call(self, service: str, action: str, parameters: Mapping[str, Any],
             outputs: Mapping[str, str] | None = None) -> ApiCall:
        """Add a write call to the plan."""
        call = ApiCall(service, action, dict(parameters), dict(outputs or {}))
        self.calls.append(call)
        return call

    def change(self, resource: str, attribute: str, before: Any, after: Any) -> None:
        self.changes.append(Change(resource, attribute, before, after))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def build(self) -> Plan:
        params = (self.params.to_dict() if isinstance(self.params, Params)
                  else dict(self.params))
        return Plan(action=self.action, params=params, calls=tuple(self.calls),
                    changes=tuple(self.changes), reads=tuple(self.reads),
                    state=dict(self.state), notes=tuple(self.notes), rollback=self.rollback)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Action(ABC, Generic[P, C]):
    """A containment or notification step against one provider.

    Class attributes:

    * ``name``: snake_case, equal to the module name; ``provider``: ``aliyun``, ``aws`` or
      ``notify``; the registry id is ``f"{provider}.{name}"`` (:attr:`id`).
    * ``Params``: the frozen dataclass of parameters.
    * ``READ_PERMISSIONS`` / ``WRITE_PERMISSIONS``: every RAM/IAM action the plan and
      execution need (``service:Action``); :meth:`permissions` is their union.
    * ``REVERSIBLE``: whether :meth:`rollback_plan` exists.
    * ``IDEMPOTENT``: False only for actions whose effect cannot be read back (notify);
      they must use an idempotency key instead.
    """

    name: ClassVar[str]
    provider: ClassVar[Provider]
    Params: type[P]
    summary: ClassVar[str] = ""
    READ_PERMISSIONS: ClassVar[tuple[str, ...]] = ()
    WRITE_PERMISSIONS: ClassVar[tuple[str, ...]] = ()
    REVERSIBLE: ClassVar[bool] = False
    IDEMPOTENT: ClassVar[bool] = True
    NOT_REVERSIBLE_BECAUSE: ClassVar[str] = "this action has no rollback"

    @classmethod
    def action_id(cls) -> str:
        return f"{cls.provider}.{cls.name}"

    @property
    def id(self) -> str:
        return self.action_id()

    def permissions(self) -> tuple[str, ...]:
        """Every policy action needed to plan, execute and roll back (sorted, unique)."""
        return tuple(sorted(set(self.READ_PERMISSIONS) | set(self.WRITE_PERMISSIONS)))

    def parse_params(self, data: Mapping[str, Any]) -> P:
        return self.Params.from_mapping(data)

    def builder(self, params: P | Mapping[str, Any], *, rollback: bool = False) -> PlanBuilder:
        """A :class:`PlanBuilder` for this action (rollback plans pass the state as params)."""
        return PlanBuilder(self.id, params, rollback=rollback)

    @abstractmethod
    def plan(self, client: C, params: P) -> Plan:
        """Read the current state and return the calls still needed (empty when none)."""

    def execute(self, client: C, plan: Plan) -> Result:
        """Make the plan's calls in order and record each (redacted).

        On failure the :class:`CloudCallError` is re-raised with ``action`` set and
        ``partial`` holding the calls that had succeeded.
        """
        if plan.action != self.id:
            raise ParamsError(f"plan is for {plan.action}, not {self.id}")
        outputs: dict[str, Any] = dict(plan.state.get("outputs", {}))
        records: list[CallRecord] = []
        for planned in plan.calls:
            call = planned.resolve(outputs)
            started = _now()
            try:
                response = client.call(call)
            except CloudCallError as exc:
                exc.action = self.id
                exc.partial = self._result(plan, records, outputs)
                log.warning("%s", exc)
                raise
            for ref_name, path in planned.outputs.items():
                outputs[ref_name] = dig(response.body, path)
            records.append(CallRecord(
                call=ApiCall(call.service, call.action, redact(dict(call.parameters)),
                             dict(call.outputs)),
                response=redact(dict(response.body)), attempts=response.attempts,
                started_at=started, finished_at=_now(), request_id=response.request_id))
            log.info("%s: %s:%s done", self.id, call.service, call.action)
        return self._result(plan, records, outputs)

    def _result(self, plan: Plan, records: list[CallRecord],
                outputs: Mapping[str, Any]) -> Result:
        state = resolve_refs(dict(plan.state), outputs)
        if outputs:
            state["outputs"] = dict(outputs)
        return Result(action=self.id, records=tuple(records), state=redact(state),
                      rollback=plan.rollback)

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        """The plan that undoes a result whose ``state`` is given."""
        raise NotReversibleError(f"{self.id}: {self.NOT_REVERSIBLE_BECAUSE}")


ACTIONS: Registry[Action[Any, Any]] = Registry("trailguard.actions", "response action")
"""Every response action by id (``aliyun.isolate_instance``); entry-point group
``trailguard.actions`` for third-party actions (built-ins win on a clash)."""

A = TypeVar("A", bound=type[Action[Any, Any]])


def register_action(cls: A) -> A:
    """Class decorator: add a built-in action to :data:`ACTIONS` under its id."""
    register: Callable[[type[Action[Any, Any]]], type[Action[Any, Any]]]
    register = ACTIONS.register(cls.action_id())
    register(cls)
    return cls
