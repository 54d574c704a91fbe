"""Least-privilege policy documents for the chosen response actions.

``policy_document("aliyun")`` is a RAM policy (``"Version": "1"``), ``policy_document("aws")``
an IAM policy (``"Version": "2012-10-17"``); each allows exactly the read and write API
actions the chosen actions need to plan, execute and roll back. ``Resource`` is ``*``:
resource-level scoping (a VPC, a tag) is a site decision the document can be edited for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trailguard.respond.actions import ACTIONS
from trailguard.respond.errors import ParamsError

VERSIONS = {"aliyun": "1", "aws": "2012-10-17"}


def action_ids(provider: str, actions: Iterable[str] | None = None) -> list[str]:
    """Registry ids of ``provider``'s actions; ``actions`` may give ids or bare names."""
    if provider not in VERSIONS:
        raise ParamsError(f"no policy language for provider {provider!r}; "
                          f"choose {' or '.join(VERSIONS)}")
    own = [name for name, cls in ACTIONS if cls.provider == provider]
    if actions is None:
        return own
    chosen = []
    for item in actions:
        action_id = item if "." in item else f"{provider}.{item}"
        if action_id not in own:
            raise ParamsError(f"{item!r} is not a {provider} action; known: {', '.join(own)}")
        chosen.append(action_id)
    return chosen


def permissions(provider: str, actions: Iterable[str] | None = None) -> list[str]:
    """The sorted union of the chosen actions' permissions."""
    needed: set[str] = set()
    for action_id in action_ids(provider, actions):
        needed.update(ACTIONS.get(action_id)().permissions())
    return sorted(needed)


def policy_document(provider: str, actions: Iterable[str] | None = None) -> dict[str, Any]:
    """A RAM (``aliyun``) or IAM (``aws``) policy allowing exactly what the actions need."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": permissions(provider, actions),
                                 "Resource": "*"}
    if provider == "aws":
        statement = {"Sid": "TrailGuardResponse", **statement}
    return {"Version": VERSIONS[provider], "Statement": [statement]}
