"""ActionTrail events as the trail delivers them to OSS (reference: /work/shared/reference/
cloud.md §1; https://www.alibabacloud.com/help/doc-detail/28819.html).

An :class:`Actor` is who calls (a RAM user through an AccessKey or a console session, an
assumed role) and from where; :func:`api_call` and :func:`console_signin` build events with the
field names, order and quirks of the documentation's samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

import orjson

from trailguard.demo.clock import hex_lower, iso_z, uuid_upper
from trailguard.demo.evidence import TrailEvent
from trailguard.demo.world import REGION, World

#: service → (serviceName, eventSource, apiVersion, global)
SERVICES: dict[str, tuple[str, str, str, bool]] = {
    "ecs": ("Ecs", "ecs.{region}.aliyuncs.com", "2014-05-26", False),
    "vpc": ("Vpc", "vpc.{region}.aliyuncs.com", "2016-04-28", False),
    "ram": ("Ram", "ram.aliyuncs.com", "2015-05-01", True),
    "sts": ("Sts", "sts.aliyuncs.com", "2015-04-01", True),
    "oss": ("Oss", "oss-{region}.aliyuncs.com", "2019-05-17", False),
    "actiontrail": ("Actiontrail", "actiontrail.{region}.aliyuncs.com", "2020-07-06", False),
    "rds": ("Rds", "rds.aliyuncs.com", "2014-08-15", False),
    "kms": ("Kms", "kms.{region}.aliyuncs.com", "2016-01-20", False),
    "cms": ("Cms", "metrics.{region}.aliyuncs.com", "2019-01-01", False),
    "sas": ("Sas", "tds.aliyuncs.com", "2018-12-03", False),
}
READ_PREFIXES = ("Describe", "List", "Get", "Query", "Check", "Lookup")
FORBIDDEN = ("Forbidden.RAM", "User not authorized to operate on the specified resource, or "
             "this API doesn't support RAM.")

UA_CLI_WCHEN = "AlibabaCloud (linux; amd64) Golang/1.21.5 Core/0.01 Aliyun-CLI/v3.0.190"
UA_CLI_ATTACKER = "AlibabaCloud (linux; amd64) Golang/1.22.5 Core/0.01 Aliyun-CLI/v3.0.225"
UA_PYTHON_CI = ("AlibabaCloud (Linux 6.8.0-1015-aliyun; x86_64) Python/3.12.3 Core/2.15.1 "
                "python-requests/2.31.0")
UA_TERRAFORM = ("Terraform/1.9.5 (+https://www.terraform.io) Terraform-Plugin-SDK/2.10.1 "
                "terraform-provider-alicloud/1.230.0")
UA_OSSUTIL = "aliyun-sdk-go/v1.2.3 (Linux/6.8.0-1015-aliyun/x86_64;go1.21.5)/ossutil-v1.7.19"
UA_BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/129.0.0.0 Safari/537.36")
UA_BROWSER_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                  "(KHTML, like Gecko) Version/18.0 Safari/605.1.15")


@dataclass(frozen=True)
class Actor:
    """Who calls and from where."""

    identity: dict[str, Any]
    ip: str
    agent: str

    @property
    def name(self) -> str:
        return str(self.identity.get("userName", ""))


def key_actor(world: World, user: str, ip: str, agent: str, access_key: str | None = None
              ) -> Actor:
    """A RAM user calling with an AccessKey (``access_key``: another key of the same user)."""
    ram = world.users[user]
    return Actor({"type": "ram-user", "principalId": ram.principal_id,
                  "accountId": world.account_id, "userName": ram.name,
                  "accessKeyId": access_key or ram.access_key}, ip, agent)


def console_actor(world: World, user: str, ip: str, agent: str, signed_in: int,
                  session_key: str) -> Actor:
    """A RAM user in the console (temporary key, MFA in the session context)."""
    ram = world.users[user]
    return Actor({"type": "ram-user", "principalId": ram.principal_id,
                  "accountId": world.account_id, "userName": ram.name,
                  "accessKeyId": session_key,
                  "sessionContext": {"attributes": {"mfaAuthenticated": "true",
                                                    "creationDate": iso_z(signed_in)}}},
                 ip, agent)


def role_actor(world: World, role: str, session: str, ip: str, agent: str, since: int) -> Actor:
    """An assumed role (instance RAM role or a service-linked role) with its STS key."""
    found = world.roles[role]
    return Actor({"type": "assumed-role", "principalId": f"{found.role_id}:{session}",
                  "accountId": world.account_id, "userName": f"{role}:{session}",
                  "accessKeyId": found.sts_key,
                  "sessionContext": {"attributes": {"mfaAuthenticated": "false",
                                                    "creationDate": iso_z(since)}}},
                 ip, agent)


def api_call(rng: Random, world: World, t: int, actor: Actor, service: str, name: str,
             params: dict[str, Any] | None = None, *, region: str = REGION,
             resources: dict[str, list[str]] | None = None,
             response: dict[str, Any] | None = None, error: tuple[str, str] | None = None,
             category: str = "Management") -> TrailEvent:
    """One API call event (``eventType`` ApiCall)."""
    service_name, source, version, is_global = SERVICES[service]
    event_id = uuid_upper(rng)
    request_id = uuid_upper(rng)
    host = source.format(region=region)
    event: dict[str, Any] = {
        "eventId": event_id,
        "eventVersion": 1,
        "eventType": "ApiCall",
        "eventCategory": category,
        "eventRW": "Read" if name.startswith(READ_PREFIXES) else "Write",
        "eventName": name,
        "eventSource": host,
        "serviceName": service_name,
        "apiVersion": version,
        "acsRegion": region,
        "requestId": request_id,
        "requestParameters": {**(params or {}), "RegionId": region, "AcsHost": host},
    }
    if resources:
        event["referencedResources"] = resources
    if error is None:
        event["responseElements"] = {"RequestId": request_id, **(response or {})}
    else:
        event["errorCode"], event["errorMessage"] = error
    event.update({
        "userIdentity": actor.identity,
        "sourceIpAddress": actor.ip,
        "userAgent": actor.agent,
        "eventTime": iso_z(t),
        "isGlobal": is_global,
    })
    return TrailEvent("ApiCall", region, event_id, orjson.dumps(event))


def console_signin(rng: Random, world: World, t: int, user: str, ip: str, agent: str,
                   mfa: bool = True) -> TrailEvent:
    """A RAM user's console logon (``ConsoleSignin``, service AasSub, id not a UUID)."""
    ram = world.users[user]
    event_id = f"1.{rng.randint(100, 999)}_{t // 1000}_{hex_lower(rng, 4)}"
    event = {
        "requestId": event_id,
        "eventType": "ConsoleSignin",
        "userIdentity": {"accountId": world.account_id, "principalId": ram.principal_id,
                         "type": "ram-user", "userName": ram.name},
        "acsRegion": REGION,
        "eventName": "ConsoleSignin",
        "eventSource": "signin.aliyun.com",
        "serviceName": "AasSub",
        "eventTime": iso_z(t),
        "eventId": event_id,
        "additionalEventData": {"loginAccount": ram.login,
                                "callbackUrl": "https://home.console.aliyun.com/",
                                "mfaChecked": "true" if mfa else "false"},
        "errorCode": "",
        "errorMessage": "",
        "eventVersion": "1",
        "sourceIpAddress": ip,
        "userAgent": agent,
    }
    return TrailEvent("ConsoleSignin", REGION, event_id, orjson.dumps(event))
