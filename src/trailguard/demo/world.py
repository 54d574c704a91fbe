"""The demo's world: one Alibaba Cloud account in ap-southeast-1, three ECS hosts, the people
who run them, their keys and the addresses everyone connects from.

Identifiers (account, instance, key ids) come from the seed; addresses are fixed. Every public
address is from the documentation ranges (RFC 5737: 192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24), so no real network is ever named; 100.100.x.x are Alibaba Cloud's own internal
service addresses (metadata service, DNS, mirrors), which every ECS instance talks to.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from trailguard.demo.clock import (
    DAY,
    access_key_id,
    alnum,
    digits,
    epoch_us,
    sts_key_id,
)

REGION = "ap-southeast-1"
START = epoch_us(2026, 10, 12)  # Monday 12 October 2026, 00:00 UTC
DAYS = 5  # Monday to Friday; the evidence was collected at the end of Friday

# Alibaba Cloud's internal services, as an ECS instance sees them.
METADATA_IP = "100.100.100.200"
DNS_IPS = ("100.100.2.136", "100.100.2.138")
MIRROR_IP = "100.100.2.148"  # mirrors.cloud.aliyuncs.com
CMS_IP = "100.100.45.73"  # CloudMonitor agent endpoint

# Company and well-known services (RFC 5737 TEST-NET-1).
OFFICE_IP = "192.0.2.10"
VPN_IP = "192.0.2.11"
UPTIME_IP = "192.0.2.50"
GITHUB_IP = "192.0.2.140"
PYPI_IP = "192.0.2.151"
REGISTRY_IP = "192.0.2.160"

# The intruder (never used by anyone else).
ATTACKER_IP = "198.51.100.77"  # the VPS the stolen keys are used from; SSH in later
C2_IP = "203.0.113.66"  # the implant's command-and-control server
EXFIL_IP = "203.0.113.200"  # the server the database dump is uploaded to
SCANNER_IPS = ("203.0.113.5", "203.0.113.6", "203.0.113.7", "203.0.113.8", "203.0.113.9")
RESERVED_IPS = frozenset({ATTACKER_IP, C2_IP, EXFIL_IP, *SCANNER_IPS})

SHOP_DOMAIN = "shop.acme-retail.example"
TRAIL_NAME = "acme-account-trail"
TRAIL_BUCKET = "acme-trail-logs"
TRAIL_PREFIX = "actiontrail"
BACKUP_BUCKET = "acme-prod-backups"
ARTIFACT_BUCKET = "acme-build-artifacts"
MEDIA_BUCKET = "acme-shop-media"


@dataclass(frozen=True)
class LocalUser:
    name: str
    uid: int
    home: str


@dataclass(frozen=True)
class Host:
    name: str
    private_ip: str
    instance_id: str
    eni_id: str
    vswitch_id: str
    security_group: str
    role: str
    """The RAM role attached to the instance (its metadata-service credentials)."""
    users: tuple[LocalUser, ...]
    public: bool
    """Reached directly through an EIP (else it leaves through the NAT gateway)."""
    assist_pid: int = 812
    """The Cloud Assistant agent's process id."""

    def user(self, name: str) -> LocalUser:
        for user in self.users:
            if user.name == name:
                return user
        raise KeyError(name)

    def uid_name(self, uid: int) -> str:
        for user in self.users:
            if user.uid == uid:
                return user.name
        return str(uid)


@dataclass(frozen=True)
class RamUser:
    name: str
    principal_id: str
    access_key: str
    login: str


@dataclass(frozen=True)
class RamRole:
    name: str
    role_id: str
    sts_key: str


@dataclass(frozen=True)
class World:
    seed: int
    account_id: str
    vpc_id: str
    hosts: dict[str, Host]
    users: dict[str, RamUser]
    roles: dict[str, RamRole]
    sg_quarantine: str
    command_deploy: str
    """The saved Cloud Assistant command CI deploys with."""
    start: int = START
    days: int = DAYS

    @property
    def end(self) -> int:
        return self.start + self.days * DAY

    def host_by_ip(self, ip: str) -> Host | None:
        for host in self.hosts.values():
            if host.private_ip == ip:
                return host
        return None


def _common_users() -> tuple[LocalUser, ...]:
    return (LocalUser("root", 0, "/root"), LocalUser("www-data", 33, "/var/www"))


def build_world(seed: int) -> World:
    """The account, hosts and identities for a seed (ids change with the seed, roles do not)."""
    rng = Random(f"{seed}/world")

    def ecs_id(prefix: str) -> str:
        return f"{prefix}-t4n{alnum(rng, 17)}"

    vpc_id = ecs_id("vpc")
    vsw_build, vsw_web, vsw_db = ecs_id("vsw"), ecs_id("vsw"), ecs_id("vsw")
    hosts = {
        "build-01": Host("build-01", "172.16.1.10", ecs_id("i"), ecs_id("eni"), vsw_build,
                         ecs_id("sg"), "build-01-role",
                         (*_common_users(), LocalUser("wchen", 1000, "/home/wchen"),
                          LocalUser("ci", 1001, "/home/ci")), public=False,
                         assist_pid=rng.randint(700, 990)),
        "web-01": Host("web-01", "172.16.2.20", ecs_id("i"), ecs_id("eni"), vsw_web,
                       ecs_id("sg"), "web-01-role",
                       (*_common_users(), LocalUser("ops", 1000, "/home/ops"),
                        LocalUser("sysbackup", 1001, "/home/sysbackup")), public=True,
                       assist_pid=rng.randint(700, 990)),
        "db-01": Host("db-01", "172.16.3.30", ecs_id("i"), ecs_id("eni"), vsw_db, ecs_id("sg"),
                      "db-01-role",
                      (*_common_users(), LocalUser("mysql", 110, "/nonexistent"),
                       LocalUser("zliu", 1000, "/home/zliu"),
                       LocalUser("sysbackup", 1001, "/home/sysbackup")), public=False,
                      assist_pid=rng.randint(700, 990)),
    }
    users = {
        name: RamUser(name, digits(rng, 17), access_key_id(rng), f"{name}@acme.onaliyun.com")
        for name in ("zliu", "mgarcia", "wchen", "ops-automation")
    }
    roles = {
        name: RamRole(name, digits(rng, 17), sts_key_id(rng))
        for name in ("build-01-role", "web-01-role", "db-01-role", "AliyunServiceRoleForSas",
                     "AliyunServiceRoleForCloudMonitor")
    }
    return World(seed=seed, account_id=digits(rng, 16), vpc_id=vpc_id, hosts=hosts, users=users,
                 roles=roles, sg_quarantine=ecs_id("sg"), command_deploy=f"c-sg0{alnum(rng, 11)}")
