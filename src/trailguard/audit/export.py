"""The configuration export layout: API responses saved as they came, one file each.

    <folder>/
      manifest.json                    {"provider", "account", "taken_at", "regions", "tool"}
      <region>/<Action>.json            e.g. cn-hangzhou/DescribeInstances.json
      <region>/<Action>-<ResourceId>.json  cn-hangzhou/DescribeSecurityGroupAttribute-sg-bp1abc.json
      global/<Action>[-<ResourceId>].json  account-wide services (RAM/IAM, OSS/S3 bucket lists …)

Each file is the raw JSON body of one API response (a paginated call saved as several pages:
`<Action>.json`, `<Action>.2.json`, …). Exports written by scripts or by the providers' own
CLIs (`aliyun ecs DescribeInstances > cn-hangzhou/DescribeInstances.json`, `aws ec2
describe-security-groups > us-east-1/DescribeSecurityGroups.json`) read the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailguard.errors import SourceLocation, TrailGuardError

GLOBAL = "global"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^(?P<action>[A-Z][A-Za-z0-9]+)(?:-(?P<resource>[^/\\]+?))?"
                   r"(?:\.(?P<page>\d+))?\.json$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@=+-]{0,254}$")


class ExportError(TrailGuardError):
    """An export folder or file that cannot be read as the layout says."""


@dataclass(frozen=True)
class Response:
    region: str  # a region id, or "global"
    action: str  # DescribeInstances
    resource: str | None  # sg-bp1abc for DescribeSecurityGroupAttribute-sg-bp1abc.json
    page: int
    body: Mapping[str, Any]
    path: Path


class ExportReader:
    """Every response of an export folder, by region and action."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ExportError(f"not an export folder: {folder}", SourceLocation(str(folder)))
        self.folder = folder
        manifest = folder / MANIFEST
        self.manifest: dict[str, Any] = (json.loads(manifest.read_text(encoding="utf-8"))
                                         if manifest.is_file() else {})
        self._responses = list(self._read())

    def _read(self) -> Iterator[Response]:
        for region_dir in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            for path in sorted(region_dir.glob("*.json")):
                match = _NAME.match(path.name)
                if match is None:
                    continue
                try:
                    body = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                    raise ExportError(f"unreadable response: {error}",
                                      SourceLocation(str(path))) from error
                if not isinstance(body, dict):
                    raise ExportError("a response body must be a JSON object",
                                      SourceLocation(str(path)))
                yield Response(region_dir.name, match["action"], match["resource"],
                               int(match["page"] or 1), body, path)

    def all(self) -> list[Response]:
        """Every response of the export, in folder and file order."""
        return list(self._responses)

    @property
    def regions(self) -> list[str]:
        return sorted({r.region for r in self._responses if r.region != GLOBAL})

    def responses(self, action: str, region: str | None = None) -> list[Response]:
        """The responses of one action (in one region, or all), pages in order."""
        return sorted((r for r in self._responses
                       if r.action == action and (region is None or r.region == region)),
                      key=lambda r: (r.region, r.resource or "", r.page))

    def body(self, action: str, region: str, resource: str | None = None
             ) -> Mapping[str, Any] | None:
        """The first page of one response, None when the export lacks it."""
        for response in self.responses(action, region):
            if response.resource == resource:
                return response.body
        return None


class ExportWriter:
    """Writes responses in the layout (used by `trailguard audit collect`)."""

    def __init__(self, folder: Path, provider: str, account: str = "", taken_at: str = "",
                 tool: str = "trailguard") -> None:
        self.folder = folder
        self.manifest: dict[str, Any] = {"provider": provider, "account": account,
                                         "taken_at": taken_at, "regions": [], "tool": tool}
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, region: str, action: str, body: Mapping[str, Any],
              resource: str | None = None, page: int = 1) -> Path:
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", action):
            raise ExportError(f"not an API action name: {action!r}")
        if region != GLOBAL and not re.fullmatch(r"[a-z0-9-]{2,40}", region):
            raise ExportError(f"not a region id: {region!r}")
        if resource is not None and not _SAFE_ID.match(resource):
            raise ExportError(f"resource id not usable in a file name: {resource!r}")
        name = action + (f"-{resource}" if resource else "") + (
            f".{page}" if page > 1 else "") + ".json"
        path = self.folder / region / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True,
                                   default=str) + "\n", encoding="utf-8")
        if region != GLOBAL and region not in self.manifest["regions"]:
            self.manifest["regions"].append(region)
        return path

    def close(self) -> Path:
        path = self.folder / MANIFEST
        self.manifest["regions"].sort()
        path.write_text(json.dumps(self.manifest, indent=1) + "\n", encoding="utf-8")
        return path
