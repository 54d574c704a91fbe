"""Benign ActionTrail activity: admins in the console (signed in with MFA), the changes they
make (a key rotation, a new read-only user, a staging port for the office, a Cloud Assistant
check), Alibaba's own services reading the account, the shop uploading media, and Thursday's
response: logging started again, keys disabled, the group closed, build-01 isolated.
"""

from __future__ import annotations

from random import Random
from typing import Any

from trailguard.demo.actiontrail import (
    UA_BROWSER,
    UA_BROWSER_MAC,
    Actor,
    api_call,
    console_actor,
    console_signin,
    role_actor,
)
from trailguard.demo.benign.keys import old_wchen_key
from trailguard.demo.clock import DAY, HOUR, MINUTE, SECOND, alnum, hex_lower, sts_key_id
from trailguard.demo.plan import Plan, at
from trailguard.demo.scene import Scene
from trailguard.demo.world import (
    BACKUP_BUCKET,
    MEDIA_BUCKET,
    OFFICE_IP,
    TRAIL_NAME,
    VPN_IP,
)

UA_PHP_OSS = "aliyun-sdk-php/2.7.1(Linux/6.8.0-1015-aliyun/x86_64;8.3.6)"
CONSOLE_READS: tuple[tuple[str, str, dict[str, Any] | None], ...] = (
    ("ecs", "DescribeInstances", {"PageSize": "10"}),
    ("ecs", "DescribeInstanceStatus", None),
    ("ecs", "DescribeSecurityGroups", None),
    ("ecs", "DescribeDisks", None),
    ("ecs", "DescribeSnapshots", None),
    ("vpc", "DescribeVpcs", None),
    ("vpc", "DescribeEipAddresses", None),
    ("cms", "DescribeMetricList", {"Namespace": "acs_ecs_dashboard",
                                   "MetricName": "CPUUtilization"}),
    ("cms", "DescribeMetricList", {"Namespace": "acs_ecs_dashboard",
                                   "MetricName": "memory_usedutilization"}),
    ("ram", "ListUsers", None),
    ("oss", "GetService", None),
    ("oss", "GetBucketInfo", {"BucketName": MEDIA_BUCKET}),
    ("actiontrail", "GetTrailStatus", {"Name": TRAIL_NAME}),
)


class Console:
    """One admin's console session: the sign-in, then calls with the session's key."""

    def __init__(self, scene: Scene, rng: Random, user: str, ip: str, agent: str,
                 t: int) -> None:
        self.scene = scene
        self.rng = rng
        scene.api(t, console_signin(rng, scene.world, t, user, ip, agent))
        self.actor = console_actor(scene.world, user, ip, agent, t, sts_key_id(rng))

    def call(self, t: int, service: str, name: str, params: dict[str, Any] | None = None,
             **extra: Any) -> None:
        self.scene.api(t, api_call(self.rng, self.scene.world, t, self.actor, service, name,
                                   params, **extra))

    def browse(self, start: int, end: int, count: int) -> None:
        for _ in range(count):
            service, name, params = self.rng.choice(CONSOLE_READS)
            self.call(int(self.rng.uniform(start, end)), service, name, params)


def cloud_day(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    world = scene.world
    day_start = world.start + day * DAY

    def moment(hour: int, minute: int, spread: float = 20) -> int:
        return at(world, day, hour, minute, rng.uniform(0, spread * 60))

    zliu_in = moment(9, 8)
    if day == 3:
        zliu_in = plan.logging_started - 11 * MINUTE  # signed in to answer the alert
    zliu = Console(scene, rng, "zliu", OFFICE_IP, UA_BROWSER, zliu_in)
    zliu.browse(zliu_in + MINUTE, zliu_in + 3 * HOUR, rng.randint(10, 24))
    mgarcia_in = moment(13, 5, 40)
    mgarcia = Console(scene, rng, "mgarcia", VPN_IP, UA_BROWSER_MAC, mgarcia_in)
    mgarcia.browse(mgarcia_in + MINUTE, mgarcia_in + 2 * HOUR, rng.randint(5, 14))
    if day == 0:
        _monday(scene, plan, zliu, mgarcia, mgarcia_in)
    if day == 1:
        web_sg = world.hosts["web-01"].security_group
        mgarcia.call(mgarcia_in + 20 * MINUTE, "ecs", "AuthorizeSecurityGroup",
                     {"SecurityGroupId": web_sg, "IpProtocol": "tcp", "PortRange": "8443/8443",
                      "SourceCidrIp": f"{OFFICE_IP}/32", "Policy": "accept", "Priority": "10",
                      "NicType": "intranet", "Description": "staging preview for the office"},
                     resources={"ACS::ECS::SecurityGroup": [web_sg]})
    if day == 2:
        _assist_check(scene, mgarcia, mgarcia_in + 30 * MINUTE, rng)
    if day == 3:
        _response(scene, plan, zliu, rng)
    if day == 4:
        _cleanup(scene, zliu, zliu_in + 40 * MINUTE, mgarcia, mgarcia_in + 10 * MINUTE)
    _services(scene, day_start, rng)
    _media_uploads(scene, day_start, rng)


def _monday(scene: Scene, plan: Plan, zliu: Console, mgarcia: Console, mgarcia_in: int) -> None:
    """Key rotation for wchen (the new key is the one stolen on Tuesday); an intern account."""
    world = scene.world
    wchen = {"ACS::RAM::User": ["wchen"]}
    zliu.call(plan.key_rotation, "ram", "CreateAccessKey", {"UserName": "wchen"},
              resources=wchen, response={"AccessKey": {
                  "AccessKeyId": world.users["wchen"].access_key, "Status": "Active"}})
    zliu.call(plan.key_rotation + 31 * MINUTE, "ram", "DeleteAccessKey",
              {"UserName": "wchen", "UserAccessKeyId": old_wchen_key(world)}, resources=wchen)
    intern = {"ACS::RAM::User": ["intern-lee"]}
    t = mgarcia_in + 12 * MINUTE
    mgarcia.call(t, "ram", "CreateUser", {"UserName": "intern-lee", "DisplayName": "Lee (intern)"},
                 resources=intern)
    mgarcia.call(t + 40 * SECOND, "ram", "CreateLoginProfile",
                 {"UserName": "intern-lee", "MFABindRequired": "true",
                  "PasswordResetRequired": "true"}, resources=intern)
    mgarcia.call(t + 75 * SECOND, "ram", "AttachPolicyToUser",
                 {"PolicyType": "System", "PolicyName": "ReadOnlyAccess",
                  "UserName": "intern-lee"}, resources=intern)


def _assist_check(scene: Scene, mgarcia: Console, t: int, rng: Random) -> None:
    """Wednesday: mgarcia checks php-fpm on web-01 through Cloud Assistant from the console."""
    world = scene.world
    web = scene.hosts["web-01"]
    invoke = f"t-sg0{alnum(rng, 11)}"
    target = [web.host.instance_id]
    mgarcia.call(t, "ecs", "RunCommand",
                 {"Type": "RunShellScript", "CommandContent": "systemctl status php8.3-fpm "
                  "--no-pager", "InstanceId": target, "Name": "check-php-fpm", "Timeout": "60"},
                 resources={"ACS::ECS::Instance": target},
                 response={"CommandId": f"c-sg0{alnum(rng, 11)}", "InvokeId": invoke})
    mgarcia.call(t + 12 * SECOND, "ecs", "DescribeInvocationResults", {"InvokeId": invoke})
    script = web.assist_script(t + 3 * SECOND, invoke)
    web.exec(t + 3 * SECOND + 20_000, ("systemctl", "status", "php8.3-fpm", "--no-pager"),
             script)
    _ = world


def _response(scene: Scene, plan: Plan, zliu: Console, rng: Random) -> None:
    """Thursday: Security Center's alert leads zliu to the account; she contains it."""
    world = scene.world
    trail = {"ACS::ActionTrail::Trail": [TRAIL_NAME]}
    ops_user = {"ACS::RAM::User": ["ops-automation"]}
    t = plan.logging_started
    zliu.call(t - 3 * MINUTE, "actiontrail", "DescribeTrails", None)
    zliu.call(t, "actiontrail", "StartLogging", {"Name": TRAIL_NAME}, resources=trail)
    zliu.call(t + 40 * SECOND, "actiontrail", "GetTrailStatus", {"Name": TRAIL_NAME})
    zliu.call(t + 3 * MINUTE, "ram", "ListUsers", None)
    zliu.call(t + 4 * MINUTE, "ram", "ListAccessKeys", {"UserName": "ops-automation"},
              resources=ops_user)
    zliu.call(t + 5 * MINUTE, "ram", "UpdateAccessKey",
              {"UserName": "ops-automation", "Status": "Inactive",
               "UserAccessKeyId": world.users["ops-automation"].access_key}, resources=ops_user)
    zliu.call(t + 6 * MINUTE, "ram", "UpdateAccessKey",
              {"UserName": "wchen", "Status": "Inactive",
               "UserAccessKeyId": world.users["wchen"].access_key},
              resources={"ACS::RAM::User": ["wchen"]})
    zliu.call(t + 7 * MINUTE, "ram", "DetachPolicyFromUser",
              {"PolicyType": "System", "PolicyName": "AdministratorAccess",
               "UserName": "ops-automation"}, resources=ops_user)
    zliu.call(t + 9 * MINUTE, "oss", "PutBucketAcl",
              {"BucketName": BACKUP_BUCKET, "x-oss-acl": "private"},
              resources={"ACS::OSS::Bucket": [BACKUP_BUCKET]})
    web_sg = world.hosts["web-01"].security_group
    for offset, ports in ((0, "22/22"), (25, "3389/3389")):
        zliu.call(plan.sg_revoked + offset * SECOND, "ecs", "RevokeSecurityGroup",
                  {"SecurityGroupId": web_sg, "IpProtocol": "tcp", "PortRange": ports,
                   "SourceCidrIp": "0.0.0.0/0", "Policy": "accept", "Priority": "1",
                   "NicType": "intranet"}, resources={"ACS::ECS::SecurityGroup": [web_sg]})
    build = world.hosts["build-01"]
    zliu.call(plan.quarantine, "ecs", "ModifyInstanceAttribute",
              {"InstanceId": build.instance_id, "SecurityGroupIds": [world.sg_quarantine]},
              resources={"ACS::ECS::Instance": [build.instance_id]})
    zliu.call(plan.quarantine + 4 * MINUTE, "ecs", "CreateSnapshot",
              {"DiskId": f"d-t4n{alnum(rng, 17)}", "SnapshotName": "ir-build-01-system",
               "RetentionDays": "90"}, resources={"ACS::ECS::Instance": [build.instance_id]})
    zliu.call(plan.quarantine + 9 * MINUTE, "ecs", "DescribeInvocations", {"PageSize": "50"})
    zliu.call(plan.quarantine + 11 * MINUTE, "ecs", "DescribeCommands", None)


def _cleanup(scene: Scene, zliu: Console, t: int, mgarcia: Console, staging: int) -> None:
    """Friday: the backdoor user is deleted; the staging port closed again."""
    world = scene.world
    ops_user = {"ACS::RAM::User": ["ops-automation"]}
    zliu.call(t, "ram", "DeleteAccessKey",
              {"UserName": "ops-automation",
               "UserAccessKeyId": world.users["ops-automation"].access_key}, resources=ops_user)
    zliu.call(t + MINUTE, "ram", "DeleteUser", {"UserName": "ops-automation"},
              resources=ops_user)
    web_sg = world.hosts["web-01"].security_group
    mgarcia.call(staging, "ecs", "RevokeSecurityGroup",
                 {"SecurityGroupId": web_sg, "IpProtocol": "tcp", "PortRange": "8443/8443",
                  "SourceCidrIp": f"{OFFICE_IP}/32", "Policy": "accept", "Priority": "10",
                  "NicType": "intranet"}, resources={"ACS::ECS::SecurityGroup": [web_sg]})


def _services(scene: Scene, day_start: int, rng: Random) -> None:
    """Security Center reads the account every half hour, CloudMonitor every hour."""
    world = scene.world
    sas = role_actor(world, "AliyunServiceRoleForSas", "sas", "sas.aliyuncs.com",
                     "sas.aliyuncs.com", day_start)
    cms = role_actor(world, "AliyunServiceRoleForCloudMonitor", "cms",
                     "cloudmonitor.aliyuncs.com", "cloudmonitor.aliyuncs.com", day_start)
    for index in range(48):
        t = day_start + index * 30 * MINUTE + int(rng.uniform(30, 200) * SECOND)
        for offset, (name, params) in enumerate((
                ("DescribeInstances", {"PageSize": "100"}),
                ("DescribeSecurityGroups", {"PageSize": "50"}))):
            moment = t + offset * 2 * SECOND
            scene.api(moment, api_call(rng, world, moment, sas, "ecs", name, params))
        if index % 2 == 0:
            moment = t + int(rng.uniform(5, 25) * MINUTE)
            scene.api(moment, api_call(rng, world, moment, cms, "ecs", "DescribeInstances",
                                       {"PageSize": "100"}))


def _media_uploads(scene: Scene, day_start: int, rng: Random) -> None:
    """The shop stores product images uploaded by staff (web-01's instance role)."""
    world = scene.world
    web = world.hosts["web-01"]
    actor = Actor(role_actor(world, "web-01-role", web.instance_id, web.private_ip,
                             UA_PHP_OSS, day_start).identity, web.private_ip, UA_PHP_OSS)
    for _ in range(rng.randint(25, 50)):
        t = day_start + int(rng.uniform(7 * HOUR, 22 * HOUR))
        key = f"products/{rng.randint(1000, 9999)}/{hex_lower(rng, 12)}.webp"
        scene.api(t, api_call(rng, world, t, actor, "oss", "PutObject",
                              {"BucketName": MEDIA_BUCKET, "ObjectName": key},
                              resources={"ACS::OSS::Object": [f"{MEDIA_BUCKET}/{key}"]},
                              category="Data"))
