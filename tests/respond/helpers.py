"""Assertions shared by the action tests."""

from __future__ import annotations

import json
from typing import Any

from tests.respond.conftest import SECRET_VALUES
from trailguard.respond.actions.base import Action
from trailguard.respond.model import ApiCall, Plan


def calls(plan: Plan) -> list[tuple[str, str, dict[str, Any]]]:
    return [(c.service, c.action, dict(c.parameters)) for c in plan.calls]


def assert_permitted(action: Action[Any, Any], made: list[tuple[str, str, Any]]
                     | list[ApiCall]) -> None:
    """Every call made is covered by the action's declared permissions."""
    allowed = set(action.permissions())
    for call in made:
        service, name = (call.service, call.action) if isinstance(call, ApiCall) else call[:2]
        assert f"{service}:{name}" in allowed, f"{service}:{name} not in {sorted(allowed)}"


def assert_no_secrets(*objects: Any, text: str = "") -> None:
    blob = json.dumps([getattr(o, "to_dict", lambda o=o: o)() for o in objects], default=str)
    blob += text
    for secret in SECRET_VALUES:
        assert secret not in blob
