"""Benign activity on the three hosts: cron jobs, package updates, log rotation, a developer
and two admins at work over SSH, CI builds and deployments through Cloud Assistant.

Several of these look like parts of the attack on purpose, because real evidence is like that:
wchen runs pip and the Aliyun CLI (which reads ~/.aliyun/config.json), CI deploys with
InvokeCommand, db-01 dumps its database every night, ops edits nginx.conf and reloads nginx.
"""

from __future__ import annotations

from random import Random

from trailguard.demo.actiontrail import (
    UA_CLI_WCHEN,
    UA_OSSUTIL,
    UA_PYTHON_CI,
    UA_TERRAFORM,
    api_call,
    key_actor,
    role_actor,
)
from trailguard.demo.audit import Proc
from trailguard.demo.benign.keys import wchen_key
from trailguard.demo.clock import DAY, HOUR, MINUTE, SECOND, alnum, date_parts
from trailguard.demo.flows import Flow
from trailguard.demo.plan import Plan, at
from trailguard.demo.scene import HostScene, Login, Scene
from trailguard.demo.world import (
    ARTIFACT_BUCKET,
    BACKUP_BUCKET,
    GITHUB_IP,
    MIRROR_IP,
    OFFICE_IP,
    PYPI_IP,
    REGISTRY_IP,
    VPN_IP,
)

OSS_INTERNAL_IP = "100.118.28.43"
ECS_ENDPOINT_IP = "100.100.80.186"
DEV_CWD = "/home/wchen/src/inventory-sync"
WCHEN_FP = "pM4x0QwZ8nR2vT6yB1cL9eF3hJ5kA7sD0gU2iO4lXqE"
OPS_FP = "Zc2dE8vN1qW4rT7yU0iO3pA6sD9fG2hJ5kL8zX1cV4b"
ZLIU_FP = "Hq7wE2rT5yU8iO1pA4sD7fG0hJ3kL6zX9cV2bN5mQ8w"
SYSTEMD = Proc(1, 0, 0, "/usr/lib/systemd/systemd", ("/sbin/init",))

#: (weight, command line, argv of each process it starts, side effect)
DEV_COMMANDS: tuple[tuple[int, str, tuple[tuple[str, ...], ...], str], ...] = (
    (8, "git status", (("git", "status"),), ""),
    (4, "git pull --rebase", (("git", "pull", "--rebase"),), "github"),
    (3, "git log --oneline -8", (("git", "log", "--oneline", "-8"),), ""),
    (3, "git diff", (("git", "diff"),), ""),
    (2, "git push origin HEAD", (("git", "push", "origin", "HEAD"),), "github"),
    (7, "vim inventory_sync/sync.py", (("vim", "inventory_sync/sync.py"),), ""),
    (3, "vim tests/test_sync.py", (("vim", "tests/test_sync.py"),), ""),
    (6, "python3 -m pytest -q", (("python3", "-m", "pytest", "-q"),), ""),
    (3, "make lint", (("make", "lint"), ("python3", "-m", "ruff", "check", ".")), ""),
    (5, "ls -la", (("ls", "-la"),), ""),
    (2, "cat config/settings.toml", (("cat", "config/settings.toml"),), ""),
    (2, "grep -rn TODO inventory_sync", (("grep", "-rn", "TODO", "inventory_sync"),), ""),
    (1, "pip3 install --user -r requirements.txt",
     (("/usr/bin/python3", "/usr/bin/pip3", "install", "--user", "-r", "requirements.txt"),),
     "pypi"),
    (1, "docker build -t registry.acme.example/inventory-sync:dev .",
     (("docker", "build", "-t", "registry.acme.example/inventory-sync:dev", "."),), "registry"),
    (1, "aliyun ecs DescribeInstances --RegionId ap-southeast-1 --PageSize 50",
     (("aliyun", "ecs", "DescribeInstances", "--RegionId", "ap-southeast-1", "--PageSize",
       "50"),), "aliyun"),
    (2, "clear", (("clear",),), ""),
    (1, "df -h", (("df", "-h"),), ""),
    (1, "htop", (("htop",),), ""),
)
_DEV_WEIGHTS = [weight for weight, *_ in DEV_COMMANDS]


def developer_work(scene: Scene, build: HostScene, login: Login, start: int, end: int,
                   rng: Random) -> None:
    """wchen's commands between ``start`` and ``end`` in one login (history, processes, and
    what they reach: GitHub, PyPI, the registry, the ECS API)."""
    t = start
    while t < end:
        _, line, argvs, effect = rng.choices(DEV_COMMANDS, _DEV_WEIGHTS)[0]
        procs = build.typed(login, t, line, argvs, cwd=DEV_CWD)
        _dev_effect(scene, build, procs[0], t, effect, rng)
        t += int(rng.uniform(40, 480) * SECOND)


def _dev_effect(scene: Scene, build: HostScene, proc: Proc, t: int, effect: str,
                rng: Random) -> None:
    world = scene.world
    if effect == "github":
        remote = build.exec(t + 90_000, ("/usr/lib/git-core/git-remote-https", "origin",
                                         "https://github.com/acme-retail/inventory-sync.git"),
                            proc, comm="git-remote-http")
        build.connect(t + 95_000, remote, GITHUB_IP, 443)
        scene.flow(Flow(t + 95_000, int(rng.uniform(0.8, 3) * SECOND), "172.16.1.10",
                        build.port(), GITHUB_IP, 443, rng.randint(3_000, 40_000),
                        rng.randint(8_000, 900_000)))
    elif effect == "pypi":
        build.connect(t + 400_000, proc, PYPI_IP, 443)
        scene.flow(Flow(t + 400_000, int(rng.uniform(1, 6) * SECOND), "172.16.1.10",
                        build.port(), PYPI_IP, 443, rng.randint(4_000, 9_000),
                        rng.randint(200_000, 4_000_000)))
    elif effect == "registry":
        scene.flow(Flow(t + 20 * SECOND, int(rng.uniform(5, 40) * SECOND), "172.16.1.10",
                        build.port(), REGISTRY_IP, 443, rng.randint(20_000, 90_000),
                        rng.randint(5_000_000, 90_000_000)))
    elif effect == "aliyun":
        build.open(t + 40_000, proc, "/home/wchen/.aliyun/config.json", write=False,
                   key="cloud_creds", owner=1000, mode="0100600")
        build.connect(t + 60_000, proc, ECS_ENDPOINT_IP, 443)
        actor = key_actor(world, "wchen", "172.16.1.10", UA_CLI_WCHEN,
                          wchen_key(world, scene.plan, t))
        scene.api(t + SECOND, api_call(rng, world, t + SECOND, actor, "ecs",
                                       "DescribeInstances", {"PageSize": "50"}))


def _ssh_flow(scene: Scene, login: Login, start: int, end: int, host_ip: str,
              rng: Random) -> None:
    scene.flow(Flow(start - 300_000, end - start + SECOND, login.ip, login.port, host_ip, 22,
                    rng.randint(20_000, 200_000), rng.randint(60_000, 900_000)))


def _session(scene: Scene, host: HostScene, user: str, ip: str, fingerprint: str, start: int,
             end: int, rng: Random) -> Login:
    login = host.ssh_login(start, user, ip, end=end, fingerprint=fingerprint)
    _ssh_flow(scene, login, start, end, host.host.private_ip, rng)
    return login


# --- cron, timers, logrotate ----------------------------------------------------------------

def _every(day_start: int, minutes: int, offset: int, rng: Random) -> list[int]:
    """cron's start times for a job every ``minutes`` (cron wakes up just after the minute)."""
    return [day_start + (offset + index * minutes) * MINUTE + rng.randint(2_000, 400_000)
            for index in range((24 * 60 - offset + minutes - 1) // minutes)]


def cron_day(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    world = scene.world
    day_start = world.start + day * DAY
    for host in scene.hosts.values():
        for t in _every(day_start, 60, 17, rng):
            host.cron(t, "root", "   cd / && run-parts --report /etc/cron.hourly",
                      [("run-parts", "--report", "/etc/cron.hourly")], duration=SECOND // 5)
        apt = day_start + 6 * HOUR + int(rng.uniform(0, 50) * MINUTE)
        host.exec(apt, ("/bin/sh", "/usr/lib/apt/apt.systemd.daily", "update"), SYSTEMD,
                  comm="apt.systemd.dai")
        host.exec(apt + 2 * SECOND, ("apt-get", "-qq", "-y", "update"), SYSTEMD)
        if not (host.host.name == "build-01" and apt > plan.quarantine):
            scene.flow(Flow(apt + 2 * SECOND, int(rng.uniform(3, 9) * SECOND),
                            host.host.private_ip, host.port(), MIRROR_IP, 80,
                            rng.randint(9_000, 20_000), rng.randint(900_000, 4_000_000)))
        upgrade = apt + 30 * MINUTE + int(rng.uniform(0, 20) * MINUTE)
        host.exec(upgrade, ("/usr/bin/python3", "/usr/bin/unattended-upgrade"), SYSTEMD,
                  comm="unattended-upgr")
    build, web, db = scene.hosts["build-01"], scene.hosts["web-01"], scene.hosts["db-01"]
    for t in _every(day_start, 30, 0, rng):
        build.cron(t, "ci", "/home/ci/bin/gc-workspaces.sh >/dev/null 2>&1",
                   [("/bin/bash", "/home/ci/bin/gc-workspaces.sh"),
                    ("find", "/home/ci/builds", "-maxdepth", "2", "-mtime", "+3", "-delete")],
                   duration=SECOND)
    for t in _every(day_start, 10, 0, rng):
        web.cron(t, "www-data", "php /var/www/shop/bin/console scheduler:run >> "
                 "/var/log/shop/scheduler.log 2>&1",
                 [("php", "/var/www/shop/bin/console", "scheduler:run")],
                 duration=int(rng.uniform(0.4, 3) * SECOND))
    for t in _every(day_start, 15, 0, rng):
        db.cron(t, "root", "/usr/local/sbin/mysql-health.sh",
                [("/bin/bash", "/usr/local/sbin/mysql-health.sh"),
                 ("mysqladmin", "--defaults-file=/etc/mysql/debian.cnf", "ping")],
                duration=SECOND // 2)
    _nightly_backup(scene, db, day_start, rng)
    rotate = day_start + int(rng.uniform(0, 20) * SECOND)
    if day > 0:
        sh = web.exec(rotate, ("/bin/sh", "-c", "invoke-rc.d nginx rotate >/dev/null 2>&1"),
                      SYSTEMD, comm="sh")
        web.exec(rotate + 30_000, ("/usr/sbin/invoke-rc.d", "nginx", "rotate"), sh)
        web.exec(rotate + 60_000, ("nginx", "-s", "reopen"), sh)


def _nightly_backup(scene: Scene, db: HostScene, day_start: int, rng: Random) -> None:
    world = scene.world
    t = day_start + 2 * HOUR + 30 * MINUTE + SECOND
    year, month, mday = date_parts(t)
    dump = f"/var/backups/mysql/all-{year}{month}{mday}.sql.gz"
    shell = db.cron(t, "root", "/usr/local/sbin/mysql-backup.sh", [
        ("/bin/bash", "/usr/local/sbin/mysql-backup.sh"),
        ("mysqldump", "--defaults-file=/etc/mysql/debian.cnf", "--single-transaction",
         "--all-databases"),
        ("gzip", "-6"),
    ], duration=4 * MINUTE)
    upload = t + 3 * MINUTE + int(rng.uniform(0, 40) * SECOND)
    db.exec(upload, ("ossutil", "cp", dump, f"oss://{BACKUP_BUCKET}/mysql/{year}-{month}-{mday}/"
                     "all.sql.gz"), shell)
    scene.flow(Flow(upload, int(rng.uniform(40, 70) * SECOND), "172.16.3.30", db.port(),
                    OSS_INTERNAL_IP, 443, rng.randint(380_000_000, 420_000_000), 90_000))
    actor = role_actor(world, "db-01-role", db.host.instance_id, "172.16.3.30", UA_OSSUTIL,
                       day_start)
    scene.api(upload + 50 * SECOND, api_call(
        rng, world, upload + 50 * SECOND, actor, "oss", "PutObject",
        {"BucketName": BACKUP_BUCKET, "ObjectName": f"mysql/{year}-{month}-{mday}/all.sql.gz"},
        resources={"ACS::OSS::Object": [f"{BACKUP_BUCKET}/mysql/{year}-{month}-{mday}/"
                                        "all.sql.gz"]}, category="Data"))


# --- people ---------------------------------------------------------------------------------

def people_day(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    world = scene.world
    build, web, db = scene.hosts["build-01"], scene.hosts["web-01"], scene.hosts["db-01"]

    def moment(hour: int, minute: int, spread: float = 20) -> int:
        return at(world, day, hour, minute, rng.uniform(0, spread * 60))

    # wchen on build-01 (Tuesday morning is the story's; build-01 is isolated on Thursday).
    sessions: list[tuple[int, int]] = []
    if day in (0, 2, 3):
        sessions.append((moment(9, 2), moment(12, 20)))
    if day in (0, 1, 2):
        sessions.append((moment(13, 30), moment(17, 45)))
    for start, end in sessions:
        # On Thursday wchen's key is disabled and build-01 isolated: he has left by then.
        end = min(end, plan.logging_started - 12 * MINUTE)
        if end <= start:
            continue
        login = _session(scene, build, "wchen", OFFICE_IP, WCHEN_FP, start, end, rng)
        if start < plan.key_rotation < end:
            developer_work(scene, build, login, start + MINUTE, plan.key_rotation, rng)
            configure = plan.key_rotation + 9 * MINUTE
            proc = build.typed(login, configure, "aliyun configure --profile default",
                               [("aliyun", "configure", "--profile", "default")], cwd=DEV_CWD)
            build.open(configure + 50 * SECOND, proc[0], "/home/wchen/.aliyun/config.json",
                       write=True, key="cloud_creds", owner=1000, mode="0100600")
            developer_work(scene, build, login, configure + 2 * MINUTE, end - MINUTE, rng)
        else:
            developer_work(scene, build, login, start + MINUTE, end - MINUTE, rng)
    # ops on web-01: a daily look, plus Monday's nginx change and Wednesday's upgrade.
    start = moment(10, 5, 40)
    login = _session(scene, web, "ops", VPN_IP, OPS_FP, start, start + 24 * MINUTE, rng)
    _admin_look(web, login, start, rng, ("/var/log/nginx/error.log", "php8.3-fpm"))
    if day == 0:
        _nginx_edit(scene, web, plan, rng)
    if day == 2:
        _upgrade(scene, web, moment(11, 10), rng)
    if day == 3:
        _remove_account(scene, web, "ops", VPN_IP, OPS_FP, plan.accounts_removed, rng)
        _remove_account(scene, db, "zliu", OFFICE_IP, ZLIU_FP,
                        plan.accounts_removed + 12 * MINUTE, rng)
    if day == 0:
        start = moment(11, 0, 30)
        login = _session(scene, db, "zliu", OFFICE_IP, ZLIU_FP, start, start + 17 * MINUTE, rng)
        _admin_look(db, login, start, rng, ("/var/log/mysql/error.log", "mysql"))
        db.typed(login, start + 9 * MINUTE, "ls -lh /var/backups/mysql",
                 [("ls", "-lh", "/var/backups/mysql")])


def _admin_look(host: HostScene, login: Login, start: int, rng: Random,
                what: tuple[str, str]) -> None:
    log, service = what
    t = start + MINUTE
    host.typed(login, t, "uptime", [("uptime",)])
    host.typed(login, t + 20 * SECOND, "df -h", [("df", "-h")])
    host.typed(login, t + 45 * SECOND, "free -m", [("free", "-m")])
    host.sudo(login, t + 2 * MINUTE, ("tail", "-n", "50", log),
              history=f"sudo tail -n 50 {log}")
    host.typed(login, t + 4 * MINUTE, f"systemctl status {service} --no-pager",
               [("systemctl", "status", service, "--no-pager")])
    if rng.random() < 0.5:
        host.typed(login, t + 6 * MINUTE, "last -n 10", [("last", "-n", "10")])


def _nginx_edit(scene: Scene, web: HostScene, plan: Plan, rng: Random) -> None:
    """Monday afternoon: ops turns on gzip for JSON in nginx.conf and reloads nginx."""
    t = plan.nginx_edit
    login = _session(scene, web, "ops", VPN_IP, OPS_FP, t, t + 14 * MINUTE, rng)
    vim = web.sudo(login, t + MINUTE, ("vim", "/etc/nginx/nginx.conf"), duration=4 * MINUTE,
                   history="sudo vim /etc/nginx/nginx.conf")
    web.open(t + 4 * MINUTE, vim, "/etc/nginx/nginx.conf", write=True, key="nginx_conf")
    web.sudo(login, t + 6 * MINUTE, ("nginx", "-t"), history="sudo nginx -t")
    reload = plan.nginx_reloads[0]
    web.sudo(login, reload, ("systemctl", "reload", "nginx"),
             history="sudo systemctl reload nginx")
    web.exec(reload + 200_000, ("nginx", "-s", "reload"),
             Proc(1, 0, 0, "/usr/lib/systemd/systemd", ("/sbin/init",)))


def _upgrade(scene: Scene, web: HostScene, t: int, rng: Random) -> None:
    login = _session(scene, web, "ops", VPN_IP, OPS_FP, t, t + 25 * MINUTE, rng)
    web.sudo(login, t + MINUTE, ("apt-get", "update"), history="sudo apt-get update",
             duration=20 * SECOND)
    scene.flow(Flow(t + MINUTE, 15 * SECOND, "172.16.2.20", web.port(), MIRROR_IP, 80, 14_000,
                    3_800_000))
    upgrade = web.sudo(login, t + 3 * MINUTE, ("apt-get", "-y", "upgrade"),
                       history="sudo apt-get -y upgrade", duration=3 * MINUTE)
    web.connect(t + 3 * MINUTE, upgrade, MIRROR_IP, 80)
    scene.flow(Flow(t + 3 * MINUTE, 70 * SECOND, "172.16.2.20", web.port(), MIRROR_IP, 80,
                    60_000, 48_000_000))
    for index, package in enumerate(("libssl3t64", "openssl", "php8.3-fpm", "php8.3-common")):
        web.exec(t + 4 * MINUTE + index * 9 * SECOND,
                 ("/usr/bin/dpkg", "--status-fd", "37", "--no-triggers", "--unpack",
                  "--auto-deconfigure", f"/var/cache/apt/archives/{package}.deb"), upgrade)


def _remove_account(scene: Scene, host: HostScene, user: str, ip: str, fingerprint: str, t: int,
                    rng: Random) -> None:
    """Thursday: a responder removes the account the intruder planted."""
    login = _session(scene, host, user, ip, fingerprint, t, t + 11 * MINUTE, rng)
    host.sudo(login, t + MINUTE, ("grep", "sysbackup", "/etc/passwd"),
              history="sudo grep sysbackup /etc/passwd")
    host.sudo(login, t + 2 * MINUTE, ("last", "-n", "20", "sysbackup"),
              history="sudo last -n 20 sysbackup")
    userdel = host.sudo(login, t + 4 * MINUTE, ("userdel", "-r", "sysbackup"),
                        history="sudo userdel -r sysbackup")
    host.auth_line(t + 4 * MINUTE + 50_000, "userdel", userdel.pid,
                   "delete user 'sysbackup'")
    host.auth_line(t + 4 * MINUTE + 60_000, "userdel", userdel.pid,
                   "removed group 'sysbackup' owned by 'sysbackup'")
    host.open(t + 4 * MINUTE + 40_000, userdel, "/etc/passwd", write=True, key="identity")
    rm = host.sudo(login, t + 5 * MINUTE, ("rm", "-f", "/etc/sudoers.d/90-sysbackup"),
                   history="sudo rm -f /etc/sudoers.d/90-sysbackup")
    _ = rm


# --- CI -------------------------------------------------------------------------------------

RUNNER_PID = 1288


def ci_day(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    """CI jobs on build-01 (until it is isolated) and the nightly terraform plan."""
    world = scene.world
    day_start = world.start + day * DAY
    moments = sorted(day_start + int(rng.uniform(8 * HOUR, 20 * HOUR))
                     for _ in range(rng.randint(10, 14)))
    moments += [day_start + int(rng.uniform(0, 7 * HOUR)) for _ in range(rng.randint(0, 2))]
    for number, t in enumerate(sorted(moments)):
        if t + 10 * MINUTE < plan.quarantine:  # build-01 is isolated on Thursday morning
            _ci_job(scene, plan, t, rng, deploy=number % 4 == 1)
    terraform = day_start + HOUR + 30 * MINUTE + int(rng.uniform(0, 5) * MINUTE)
    if terraform < plan.quarantine:
        _terraform_plan(scene, terraform, rng)


def _ci_job(scene: Scene, plan: Plan, t: int, rng: Random, deploy: bool) -> None:
    world = scene.world
    build = scene.hosts["build-01"]
    project = "shop" if deploy or rng.random() < 0.5 else "inventory-sync"
    job = rng.randint(48_000, 59_000)
    workdir = f"/home/ci/builds/acme-retail/{project}"
    runner = Proc(RUNNER_PID, 1, 1001, "/usr/bin/gitlab-runner",
                  ("/usr/bin/gitlab-runner", "run", "--working-directory", "/home/ci",
                   "--user", "ci"), cwd=workdir)
    bash = build.exec(t, ("bash", "--login"), runner)
    git = build.exec(t + 2 * SECOND, ("git", "fetch", "origin", "--prune", "--quiet"), bash)
    build.exec(t + 2 * SECOND + 80_000, ("/usr/lib/git-core/git-remote-https", "origin",
                                         f"https://github.com/acme-retail/{project}.git"), git,
               comm="git-remote-http")
    scene.flow(Flow(t + 2 * SECOND, int(rng.uniform(1, 4) * SECOND), "172.16.1.10",
                    build.port(), GITHUB_IP, 443, rng.randint(4_000, 12_000),
                    rng.randint(40_000, 2_000_000)))
    build.exec(t + 9 * SECOND, ("python3", "-m", "pip", "install", "-q", "-r",
                                "requirements.txt"), bash)
    scene.flow(Flow(t + 10 * SECOND, int(rng.uniform(3, 20) * SECOND), "172.16.1.10",
                    build.port(), PYPI_IP, 443, rng.randint(5_000, 15_000),
                    rng.randint(100_000, 30_000_000)))
    build.exec(t + 50 * SECOND, ("python3", "-m", "pytest", "-q", "--junitxml=report.xml"),
               bash)
    image = f"registry.acme.example/{project}:{alnum(rng, 8)}"
    build.exec(t + 140 * SECOND, ("docker", "build", "-t", image, "."), bash)
    build.exec(t + 200 * SECOND, ("docker", "push", image), bash)
    # Most pushes send a few changed layers; now and then a new base image goes up whole.
    pushed = (rng.randint(3_000_000, 60_000_000) if rng.random() < 0.85
              else rng.randint(120_000_000, 400_000_000))
    scene.flow(Flow(t + 201 * SECOND, int(rng.uniform(8, 40) * SECOND), "172.16.1.10",
                    build.port(), REGISTRY_IP, 443, pushed, rng.randint(30_000, 200_000)))
    artifact = f"{project}/release-{job}.tar.gz"
    upload = t + 250 * SECOND
    build.exec(upload, ("ossutil", "cp", f"dist/release-{job}.tar.gz",
                        f"oss://{ARTIFACT_BUCKET}/{artifact}"), bash)
    scene.flow(Flow(upload, int(rng.uniform(2, 8) * SECOND), "172.16.1.10", build.port(),
                    OSS_INTERNAL_IP, 443, rng.randint(4_000_000, 30_000_000), 40_000))
    role = role_actor(world, "build-01-role", build.host.instance_id, "172.16.1.10", UA_OSSUTIL,
                      t - HOUR)
    scene.api(upload + 3 * SECOND, api_call(
        rng, world, upload + 3 * SECOND, role, "oss", "PutObject",
        {"BucketName": ARTIFACT_BUCKET, "ObjectName": artifact},
        resources={"ACS::OSS::Object": [f"{ARTIFACT_BUCKET}/{artifact}"]}, category="Data"))
    if deploy:
        _deploy(scene, t + 270 * SECOND, bash, artifact, rng)


def _deploy(scene: Scene, t: int, bash: Proc, artifact: str, rng: Random) -> None:
    world = scene.world
    build, web = scene.hosts["build-01"], scene.hosts["web-01"]
    build.exec(t, ("python3", "deploy/invoke.py", "--target", "web-01"), bash)
    role = role_actor(world, "build-01-role", build.host.instance_id, "172.16.1.10",
                      UA_PYTHON_CI, t - HOUR)
    invoke = f"t-sg0{alnum(rng, 11)}"
    targets = [web.host.instance_id]
    scene.api(t + SECOND, api_call(
        rng, world, t + SECOND, role, "ecs", "InvokeCommand",
        {"CommandId": world.command_deploy, "InstanceId": targets, "Timed": "false",
         "Parameters": {"artifact": artifact}},
        resources={"ACS::ECS::Instance": targets}, response={"InvokeId": invoke}))
    for offset in (15, 40):
        scene.api(t + offset * SECOND, api_call(
            rng, world, t + offset * SECOND, role, "ecs", "DescribeInvocationResults",
            {"InvokeId": invoke}))
    run = t + 3 * SECOND
    script = web.assist_script(run, invoke)
    release = artifact.rsplit("/", 1)[-1].removesuffix(".tar.gz")
    for index, argv in enumerate((
            ("ossutil", "cp", f"oss://{ARTIFACT_BUCKET}/{artifact}", "/tmp/"),
            ("tar", "-xzf", f"/tmp/{release}.tar.gz", "-C", f"/var/www/shop/releases/{release}"),
            ("ln", "-sfn", f"/var/www/shop/releases/{release}", "/var/www/shop/current"),
            ("systemctl", "reload", "php8.3-fpm"))):
        web.exec(run + (index + 1) * 2 * SECOND, argv, script)
    scene.flow(Flow(run + 2 * SECOND, 3 * SECOND, "172.16.2.20", web.port(), OSS_INTERNAL_IP,
                    443, 30_000, rng.randint(4_000_000, 30_000_000)))


def _terraform_plan(scene: Scene, t: int, rng: Random) -> None:
    """The nightly drift check: a burst of reads by build-01's role (looks like discovery)."""
    world = scene.world
    role = role_actor(world, "build-01-role", scene.hosts["build-01"].host.instance_id,
                      "172.16.1.10", UA_TERRAFORM, t - HOUR)
    calls: list[tuple[str, str, dict[str, object] | None]] = [
        ("vpc", "DescribeVpcs", None), ("vpc", "DescribeVSwitches", {"VpcId": world.vpc_id}),
        ("vpc", "DescribeNatGateways", None), ("vpc", "DescribeEipAddresses", None),
        ("ecs", "DescribeSecurityGroups", None),
    ]
    for host in world.hosts.values():
        calls += [("ecs", "DescribeSecurityGroupAttribute",
                   {"SecurityGroupId": host.security_group}),
                  ("ecs", "DescribeInstances", {"InstanceIds": f'["{host.instance_id}"]'}),
                  ("ecs", "DescribeInstanceRamRole", {"InstanceIds": host.instance_id}),
                  ("ecs", "DescribeDisks", {"InstanceId": host.instance_id})]
    calls += [("ram", "GetRole", {"RoleName": role_name}) for role_name in
              ("build-01-role", "web-01-role", "db-01-role")]
    calls += [("oss", "GetBucketInfo", {"BucketName": bucket}) for bucket in
              (ARTIFACT_BUCKET, BACKUP_BUCKET, "acme-shop-media", "acme-trail-logs")]
    calls += [("actiontrail", "DescribeTrails", None)]
    moment = t
    for service, name, params in calls:
        scene.api(moment, api_call(rng, world, moment, role, service, name, params))
        moment += int(rng.uniform(0.1, 1.5) * SECOND)


def host_day(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    cron_day(scene, plan, day, rng)
    people_day(scene, plan, day, rng)
    ci_day(scene, plan, day, rng)
