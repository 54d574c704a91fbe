"""Read-only collection of an account's configuration into the export layout
(:mod:`trailguard.audit.export`): ``collect("aliyun"|"aws", folder)``.

Every call is a read (Describe/List/Get); a call that fails is noted in the manifest's
``errors`` and collection goes on; credentials come from the SDKs' default chains and are never
written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trailguard.audit.collect.base import CollectError, CollectResult

PROVIDERS = ("aliyun", "aws")


def collect(provider: str, out_folder: Path, regions: Iterable[str] | None = None, *,
            client_factory: Callable[[str], Any] | None = None, **options: Any
            ) -> CollectResult:
    """Collect ``provider``'s configuration into ``out_folder``.

    ``regions``: the regions to read (default: all the account's regions). ``client_factory``:
    region id -> client (:class:`~trailguard.respond.clients.aliyun.AliyunClient`-like for
    aliyun, :class:`~trailguard.respond.clients.aws.AwsClient` for aws); ``options`` go to
    :func:`~trailguard.audit.collect.aliyun.collect_aliyun` or
    :func:`~trailguard.audit.collect.aws.collect_aws` (``home_region``, ``taken_at``, ``oss`` …).
    """
    if provider == "aliyun":
        from trailguard.audit.collect.aliyun import collect_aliyun

        return collect_aliyun(out_folder, regions, client_factory=client_factory, **options)
    if provider == "aws":
        from trailguard.audit.collect.aws import collect_aws

        return collect_aws(out_folder, regions, client_factory=client_factory, **options)
    raise CollectError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")


__all__ = ["PROVIDERS", "CollectError", "CollectResult", "collect"]
