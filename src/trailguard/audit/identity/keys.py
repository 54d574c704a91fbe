"""RAM/IAM identities from the export and from the trail.

Export responses read (``global``): the credential report ``GetCredentialReport`` (``Content``
CSV, plain or base64; AWS and Alibaba IMS share the columns used here: ``user``,
``password_enabled``/``password_exist``, ``mfa_active``, ``access_key_N_active``,
``access_key_N_last_rotated``, ``access_key_N_last_used_date``; the root row is
``<root_account>`` or ``<root>``), ``GetAccountSummary`` (``AccountAccessKeysPresent``),
``ListUsers``, ``ListAccessKeys-<user>`` (CreateDate, Status), ``GetAccessKeyLastUsed-<key>``,
``GetLoginProfile-<user>`` (Alibaba ``MFABindRequired``), ``ListMFADevices-<user>`` /
``GetUserMFAInfo-<user>`` / ``ListVirtualMFADevices``, ``ListAttachedUserPolicies-<user>`` /
``ListPoliciesForUser-<user>``.

Trail (case): root-account access-key use (``actor_type`` root-account/Root with a long-term
key) and keys used from many source addresses or countries within :data:`ADDRESS_WINDOW`.
Countries come from the offline `iptocc` tables (built from the regional internet registries'
delegation files; MIT/Apache-2.0); no network lookup is made.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailguard.audit.export import ExportReader
from trailguard.audit.logging._json import find, items, truthy

if TYPE_CHECKING:
    import duckdb
import iptocc

MAX_AGE = dt.timedelta(days=90)
ADDRESS_WINDOW = dt.timedelta(hours=24)
ADDRESS_THRESHOLD = 4
COUNTRY_THRESHOLD = 2
"""A key seen from this many distinct source addresses within the window is flagged; so is a
session key (``STS.``/``ASIA``) seen from both a private and a public address (instance
credentials taken off the instance)."""
ROOT_ROWS = ("<root_account>", "<root>", "root")
ADMIN_POLICIES = frozenset({"AdministratorAccess"})


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or value in ("", "N/A", "no_information", "not_supported"):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def credential_report(export: ExportReader) -> list[dict[str, str]]:
    body = export.body("GetCredentialReport", "global")
    content = find(body, "Content") if body is not None else None
    if not isinstance(content, str):
        return []
    text = content
    if not content or "," not in content.splitlines()[0]:
        try:
            text = base64.b64decode(content, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return []
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


@dataclass(frozen=True)
class AccessKey:
    user: str
    key_id: str
    active: bool
    created: dt.datetime | None
    last_used: dt.datetime | None
    root: bool = False


def access_keys(export: ExportReader) -> list[AccessKey]:
    """Every access key: from ListAccessKeys-<user> (+ GetAccessKeyLastUsed-<key>), else from
    the credential report."""
    found: dict[tuple[str, str], AccessKey] = {}
    for response in export.responses("ListAccessKeys"):
        for key in items(response.body, "AccessKeyMetadata", "AccessKeys", "AccessKey"):
            key_id = str(key.get("AccessKeyId") or key.get("UserAccessKeyId") or "")
            if not key_id:
                continue
            user = str(key.get("UserName") or response.resource or "")
            used = export.body("GetAccessKeyLastUsed", response.region, key_id)
            found[(user, key_id)] = AccessKey(
                user, key_id, truthy(key.get("Status", "Active")) is not False,
                parse_time(key.get("CreateDate")),
                parse_time(find(used, "LastUsedDate")) if used is not None else None)
    for row in credential_report(export):
        user = row.get("user", "")
        for n in ("1", "2"):
            if truthy(row.get(f"access_key_{n}_active")) is not True:
                continue
            if any(k.user == user for k in found.values()) and user not in ROOT_ROWS:
                continue
            found[(user, f"access_key_{n}")] = AccessKey(
                user, f"access_key_{n}", True,
                parse_time(row.get(f"access_key_{n}_last_rotated")),
                parse_time(row.get(f"access_key_{n}_last_used_date")), user in ROOT_ROWS)
    return sorted(found.values(), key=lambda k: (k.user, k.key_id))


def root_keys(export: ExportReader) -> list[dict[str, Any]]:
    keys = [{"key": k.key_id, "last_rotated": k.created and k.created.isoformat(),
             "last_used": k.last_used and k.last_used.isoformat()}
            for k in access_keys(export) if k.root and k.active]
    summary = export.body("GetAccountSummary", "global")
    present = find(summary, "AccountAccessKeysPresent") if summary is not None else None
    if not keys and isinstance(present, int | str) and str(present) not in ("0", ""):
        keys.append({"key": "root access key (GetAccountSummary AccountAccessKeysPresent="
                            f"{present})"})
    return keys


def stale_keys(export: ExportReader, now: dt.datetime) -> Iterator[tuple[AccessKey, str]]:
    """Active keys older than :data:`MAX_AGE` ("old") or unused for it ("unused")."""
    for key in access_keys(export):
        if not key.active or key.root:
            continue
        if key.created is not None and now - key.created > MAX_AGE:
            yield key, "old"
        reference = key.last_used or key.created
        if reference is not None and now - reference > MAX_AGE:
            yield key, "unused"


def _users(export: ExportReader) -> set[str]:
    names = {str(u.get("UserName")) for r in export.responses("ListUsers")
             for u in items(r.body, "Users", "User") if u.get("UserName")}
    for action in ("GetLoginProfile", "ListMFADevices", "GetUserMFAInfo",
                   "ListAttachedUserPolicies", "ListPoliciesForUser", "ListAccessKeys"):
        names.update(r.resource for r in export.responses(action) if r.resource)
    return names


def console_users_without_mfa(export: ExportReader) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    virtual = {str(find(d, "UserName")) for r in export.responses("ListVirtualMFADevices")
               for d in items(r.body, "VirtualMFADevices", "VirtualMFADevice")
               if find(d, "UserName")}
    for user in sorted(_users(export)):
        profile = export.body("GetLoginProfile", "global", user)
        if profile is None or find(profile, "Code") is not None \
                or find(profile, "LoginProfile") is None:
            continue
        devices = export.body("ListMFADevices", "global", user)
        info = export.body("GetUserMFAInfo", "global", user)
        has_device = (bool(items(devices, "MFADevices")) if devices is not None else False) \
            or (find(info, "SerialNumber") is not None if info is not None else False) \
            or user in virtual
        known = devices is not None or info is not None or bool(virtual)
        if known and not has_device:
            found[user] = {"user": user, "console_password": True, "mfa_device": False,
                           "mfa_bind_required": truthy(find(profile, "MFABindRequired"))}
    for row in credential_report(export):
        user = row.get("user", "")
        password = truthy(row.get("password_enabled", row.get("password_exist")))
        mfa = truthy(row.get("mfa_active", row.get("mfa_bound")))
        if user and user not in ROOT_ROWS and password is True and mfa is False:
            found.setdefault(user, {"user": user, "console_password": True,
                                    "mfa_device": False, "source": "credential report"})
    return [found[u] for u in sorted(found)]


def admin_policies_on_users(export: ExportReader) -> list[dict[str, Any]]:
    found = []
    for action in ("ListAttachedUserPolicies", "ListPoliciesForUser"):
        for response in export.responses(action):
            for policy in items(response.body, "AttachedPolicies", "Policies", "Policy"):
                name = str(policy.get("PolicyName", ""))
                arn = str(policy.get("PolicyArn", ""))
                if name in ADMIN_POLICIES or arn.endswith(":policy/AdministratorAccess"):
                    found.append({"user": response.resource, "policy": name,
                                  "policy_arn": arn or None,
                                  "policy_type": policy.get("PolicyType")})
    return found


_INTERNAL = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"))


def _public_address(value: str) -> bool:
    """Outside the network: not RFC 1918/6598, loopback, link-local or ULA. (Documentation
    ranges count as public: the demo and tests use them for Internet hosts.)"""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not any(address.version == n.version and address in n for n in _INTERNAL)


def root_key_use(connection: duckdb.DuckDBPyConnection, source: str) -> list[dict[str, Any]]:
    """Long-term access keys of the root account used in the trail."""
    rows = connection.execute(
        "SELECT actor_access_key, count(*), min(time), max(time), list(DISTINCT src_ip), "
        "list(DISTINCT operation)[1:10] FROM events WHERE source_type = ? AND lower(actor_type) "
        "IN ('root-account', 'root') AND actor_access_key IS NOT NULL AND actor_access_key "
        "NOT LIKE 'STS.%' AND actor_access_key NOT LIKE 'ASIA%' GROUP BY 1 ORDER BY 1",
        [source]).fetchall()
    return [{"access_key": key, "events": int(n), "first": str(first), "last": str(last),
             "source_ips": sorted(str(i) for i in ips if i), "operations": list(ops)}
            for key, n, first, last, ips, ops in rows]


def country_of(address: str) -> str | None:
    """ISO 3166 country of a public address from the offline `iptocc` tables (regional
    registries' delegations); None for private, reserved or unknown addresses."""
    if not _public_address(address):
        return None
    found = iptocc.country_code(address)
    return str(found) if found else None


def keys_from_many_addresses(connection: duckdb.DuckDBPyConnection, source: str,
                             threshold: int = ADDRESS_THRESHOLD,
                             window: dt.timedelta = ADDRESS_WINDOW,
                             country_threshold: int = COUNTRY_THRESHOLD
                             ) -> list[dict[str, Any]]:
    """Keys seen from ``threshold`` or more distinct addresses, or ``country_threshold`` or
    more countries, within ``window``: the busiest window per key, its addresses with first
    sighting, event count and country."""
    rows = connection.execute(
        "SELECT actor_access_key, src_ip, min(time) AS first, count(*) FROM events "
        "WHERE source_type = ? AND actor_access_key IS NOT NULL AND src_ip IS NOT NULL "
        "GROUP BY actor_access_key, src_ip, time_bucket(INTERVAL 1 hour, time) "
        "ORDER BY 1, 3", [source]).fetchall()
    by_key: dict[str, list[tuple[dt.datetime, str, int]]] = {}
    for key, ip, first, count in rows:
        if _is_ip(str(ip)):
            by_key.setdefault(str(key), []).append((first, str(ip), int(count)))
    countries = {ip: country_of(ip) for sightings in by_key.values() for _, ip, _ in sightings}
    found = []
    for key, sightings in sorted(by_key.items()):
        best: tuple[int, int, int] = (0, 0, 0)  # (addresses, countries, start)
        start = 0
        for end in range(len(sightings)):
            while sightings[end][0] - sightings[start][0] > window:
                start += 1
            seen = sightings[start:end + 1]
            distinct = len({s[1] for s in seen})
            lands = len({countries[s[1]] for s in seen} - {None})
            if (distinct, lands) > best[:2]:
                best = (distinct, lands, start)
        session = key.startswith(("STS.", "ASIA"))
        kinds = {_public_address(s[1]) for s in sightings}
        many = best[0] >= threshold or best[1] >= country_threshold
        if not many and not (session and len(kinds) == 2):
            continue
        span = window
        if not many:  # a session seen both inside the network and outside it
            best = (len({s[1] for s in sightings}), best[1], 0)
            span = sightings[-1][0] - sightings[0][0]
        first_time = sightings[best[2]][0]
        inside = [s for s in sightings[best[2]:] if s[0] - first_time <= span]
        addresses: dict[str, dict[str, Any]] = {}
        for time, ip, count in inside:
            entry = addresses.setdefault(ip, {"address": ip, "first": str(time), "events": 0,
                                              "public": _public_address(ip),
                                              "country": countries[ip]})
            entry["events"] += count
        lands_seen = sorted({land for ip in addresses if (land := countries[ip])})
        reason = ("session credentials used from private and public addresses" if not many
                  else f">= {threshold} addresses within the window" if best[0] >= threshold
                  else f">= {country_threshold} countries within the window")
        found.append({"access_key": key, "distinct_addresses": best[0],
                      "window_hours": round(span.total_seconds() / 3600, 2),
                      "threshold": threshold, "country_threshold": country_threshold,
                      "reason": reason, "window_start": str(first_time),
                      "addresses": list(addresses.values()), "countries": lands_seen,
                      "countries_note": "offline iptocc tables (regional registries); "
                                        "documentation and private addresses have none"})
    return found


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

