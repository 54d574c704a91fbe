"""The vocabulary the story and the benign activity are written in.

A :class:`Scene` holds every evidence stream; :class:`HostScene` turns what happens on a host
(an SSH login, a typed command, a sudo, a cron job, a Cloud Assistant script) into the lines
each of the host's logs holds for it: auth.log (rsyslog, ISO timestamps), audit.log, the user's
bash history. Everything added while ``scene.step`` is set belongs to that attack step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from random import Random

from trailguard.demo import audit
from trailguard.demo.audit import UNSET, HostContext, Proc, Session
from trailguard.demo.clock import (
    DAY,
    HOUR,
    US,
    clf,
    date_parts,
    nginx_error_time,
    syslog_iso,
)
from trailguard.demo.evidence import LineStream, Rendered, Stream, TrailEvent, TrailStream
from trailguard.demo.flows import Flow, flow_records
from trailguard.demo.plan import Plan
from trailguard.demo.world import (
    SHOP_DOMAIN,
    TRAIL_BUCKET,
    TRAIL_PREFIX,
    Host,
    LocalUser,
    World,
)

#: Where a command is found on PATH (as sudo logs it), when not in /usr/bin.
WHICH = {
    "nginx": "/usr/sbin/nginx", "useradd": "/usr/sbin/useradd", "usermod": "/usr/sbin/usermod",
    "userdel": "/usr/sbin/userdel", "invoke-rc.d": "/usr/sbin/invoke-rc.d",
    "aliyun": "/usr/local/bin/aliyun", "ossutil": "/usr/local/bin/ossutil",
    "-bash": "/usr/bin/bash",
}
#: What the kernel really executes for a path that is a symlink (the audit ``exe``).
REAL = {
    "/usr/bin/sh": "/usr/bin/dash", "/usr/bin/python3": "/usr/bin/python3.12",
    "/usr/bin/pip3": "/usr/bin/python3.12", "/usr/bin/vim": "/usr/bin/vim.basic",
    "/usr/bin/php": "/usr/bin/php8.3", "/usr/bin/mysqladmin": "/usr/bin/mariadb-admin",
}
MOTD = ("/usr/bin/run-parts", "--lsbsysinit", "/etc/update-motd.d")


def which(command: str) -> str:
    """The path a command name is found at (Ubuntu 24.04: /bin and /sbin are /usr's)."""
    if command.startswith(("/bin/", "/sbin/")):
        return "/usr" + command
    if command.startswith("/"):
        return command
    return WHICH.get(command, f"/usr/bin/{command}")


def resolve(command: str) -> str:
    """The executable the kernel runs for a command (symlinks followed)."""
    path = which(command)
    return REAL.get(path, path)


class Lines:
    """Several ready lines forming one record (``offset``: the record's own line)."""

    __slots__ = ("lines", "offset")

    def __init__(self, lines: list[str], offset: int) -> None:
        self.lines = lines
        self.offset = offset

    def render(self, context: object, time: int) -> Rendered:
        return self.lines, self.offset


class SessionLine:
    """A syslog line naming a login session number (``systemd-logind``)."""

    __slots__ = ("message", "prefix", "session")

    def __init__(self, prefix: str, message: str, session: Session) -> None:
        self.prefix = prefix
        self.message = message
        self.session = session

    def render(self, context: HostContext, time: int) -> Rendered:
        number = str(context.session_number(self.session))
        return [self.prefix + self.message.replace(audit.SES, number)], 0


@dataclass
class Login:
    """An interactive SSH login: the session, its shell and where it came from."""

    user: LocalUser
    session: Session
    shell: Proc
    sshd_pid: int
    ip: str
    port: int
    tty: str

    @property
    def pts(self) -> str:
        return self.tty.replace("/", "")


class HostScene:
    """One host's logs: auth.log, audit.log and the users' bash histories."""

    LOGIND_PID = 801

    def __init__(self, scene: Scene, host: Host) -> None:
        self.scene = scene
        self.host = host
        self.rng = Random(f"{scene.world.seed}/host/{host.name}")
        self.context = HostContext(host, serial=self.rng.randint(20_000, 90_000),
                                   next_session=self.rng.randint(120, 400))
        root, start, end = scene.root, scene.world.start, scene.world.end
        base = f"hosts/{host.name}/var/log"
        self.audit = LineStream(start, end, "auditd", root, lambda day: f"{base}/audit/audit.log",
                                self.context)
        self.auth = LineStream(start, end, "syslog", root, lambda day: f"{base}/auth.log",
                               self.context)
        self.histories: dict[str, LineStream] = {}
        self.pids: dict[int, int] = {}
        self.assist = Proc(host.assist_pid, 1, 0, "/usr/local/share/aliyun-assist/2.5.3.556/"
                           "aliyun-service", ("/usr/local/share/aliyun-assist/2.5.3.556/"
                                              "aliyun-service",))
        self.cron_daemon = Proc(self.rng.randint(600, 690), 1, 0, "/usr/sbin/cron",
                                ("/usr/sbin/cron", "-f", "-P"))
        self.sshd = Proc(self.rng.randint(1000, 1100), 1, 0, "/usr/sbin/sshd",
                         ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",))

    @property
    def step(self) -> str | None:
        return self.scene.step

    def streams(self) -> list[Stream]:
        return [self.audit, self.auth, *self.histories.values()]

    # --- identifiers --------------------------------------------------------------------------

    def pid(self, t: int) -> int:
        """Process ids grow with time, as the kernel hands them out (two processes started
        close together never share one)."""
        elapsed = (t - self.scene.world.start) // US
        pid = 1500 + elapsed * 7 // 10 + (t % US) * 40 // US
        while abs(self.pids.get(pid, t - DAY) - t) < HOUR:
            pid += 1
        self.pids[pid] = t
        return pid

    def port(self) -> int:
        return self.rng.randint(32768, 60999)

    # --- audit.log ----------------------------------------------------------------------------

    def exec(self, t: int, argv: Sequence[str], parent: Proc, *, uid: int | None = None,
             exe: str | None = None, comm: str = "", cwd: str | None = None) -> Proc:
        """A process ``parent`` starts (inheriting its login uid, session and terminal)."""
        proc = Proc(pid=self.pid(t), ppid=parent.pid, uid=parent.uid if uid is None else uid,
                    exe=exe or resolve(argv[0]), argv=tuple(argv), auid=parent.auid,
                    session=parent.session, tty=parent.tty, cwd=cwd or parent.cwd, comm=comm)
        self.audit.add(t, audit.execve(self.host, proc), self.step)
        return proc

    def connect(self, t: int, proc: Proc, ip: str, port: int, success: bool = True) -> None:
        """A connect() — recorded only for processes of a logged-in user (the audit rule)."""
        if proc.auid != UNSET and proc.auid >= 1000:
            self.audit.add(t, audit.connect(self.host, proc, ip, port, success), self.step)

    def open(self, t: int, proc: Proc, path: str, *, write: bool, key: str, owner: int = 0,
             mode: str = "0100644", created: bool = False) -> None:
        self.audit.add(t, audit.open_file(self.host, proc, path, write=write, key=key,
                                          owner=owner, mode=mode, created=created), self.step)

    def audit_event(self, t: int, event: audit.AuditEvent) -> None:
        self.audit.add(t, event, self.step)

    # --- auth.log and history -----------------------------------------------------------------

    def auth_line(self, t: int, program: str, pid: int, message: str) -> None:
        self.auth.add(t, f"{syslog_iso(t)} {self.host.name} {program}[{pid}]: {message}",
                      self.step)

    def logind(self, t: int, message: str, session: Session) -> None:
        prefix = f"{syslog_iso(t)} {self.host.name} systemd-logind[{self.LOGIND_PID}]: "
        self.auth.add(t, SessionLine(prefix, message, session), self.step)

    def history(self, user: LocalUser, t: int, command: str) -> None:
        stream = self.histories.get(user.name)
        if stream is None:
            path = f"hosts/{self.host.name}{user.home}/.bash_history"
            stream = LineStream(self.scene.world.start, self.scene.world.end, "shell_history",
                                self.scene.root, lambda day: path)
            self.histories[user.name] = stream
        stream.add(t, Lines([f"#{t // US}", command], 1), self.step)

    # --- what people and daemons do -----------------------------------------------------------

    def ssh_login(self, t: int, user_name: str, ip: str, end: int, fingerprint: str,
                  port: int | None = None) -> Login:
        """A public-key SSH login and its logout at ``end``."""
        user = self.host.user(user_name)
        session = Session()
        sshd_pid = self.pid(t)
        port = port or self.port()
        tty = f"pts/{self.rng.randint(0, 3)}"
        host = self.host
        ms = US // 1000
        pam_session = ("pam_selinux,pam_loginuid,pam_keyinit,pam_permit,pam_umask,pam_unix,"
                       "pam_systemd,pam_mail,pam_limits,pam_env,pam_env,pam_selinux,pam_motd")
        self.audit_event(t - 40 * ms, audit.pam(
            host, "USER_ACCT", "PAM:accounting", "pam_permit", user.name, "/usr/sbin/sshd",
            "ssh", pid=sshd_pid, addr=ip))
        self.auth_line(t, "sshd", sshd_pid, f"Accepted publickey for {user.name} from {ip} "
                       f"port {port} ssh2: ED25519 SHA256:{fingerprint}")
        self.audit_event(t + 2 * ms, audit.pam(
            host, "CRED_ACQ", "PAM:setcred", "pam_permit,pam_cap", user.name, "/usr/sbin/sshd",
            "ssh", pid=sshd_pid, addr=ip))
        self.audit_event(t + 3 * ms, audit.login(host, sshd_pid, user.uid, session))
        self.audit_event(t + 9 * ms, audit.pam(
            host, "USER_START", "PAM:session_open", pam_session, user.name, "/usr/sbin/sshd",
            "ssh", pid=sshd_pid, auid=user.uid, session=session, addr=ip))
        self.auth_line(t + 9 * ms, "sshd", sshd_pid, f"pam_unix(sshd:session): session opened "
                       f"for user {user.name}(uid={user.uid}) by {user.name}(uid=0)")
        self.logind(t + 15 * ms, f"New session {audit.SES} of user {user.name}.", session)
        daemon = Proc(sshd_pid, self.sshd.pid, 0, "/usr/sbin/sshd", ("sshd: " + user.name,),
                      auid=user.uid, session=session)
        self.exec(t + 20 * ms, MOTD, daemon)
        self.audit_event(t + 60 * ms, audit.user_event(
            host, "USER_LOGIN", pid=sshd_pid, uid=0, auid=user.uid, session=session,
            message=f'op=login id={user.uid} exe="/usr/sbin/sshd" hostname=? addr={ip} '
                    f"terminal=/dev/{tty} res=success"))
        shell_parent = Proc(sshd_pid + 1, sshd_pid, user.uid, "/usr/sbin/sshd",
                            (f"sshd: {user.name}@{tty}",), auid=user.uid, session=session,
                            tty=tty.replace("/", ""), cwd=user.home)
        shell = self.exec(t + 70 * ms, ["-bash"], shell_parent, comm="bash")
        login = Login(user, session, shell, sshd_pid, ip, port, tty)
        self._logout(login, end)
        return login

    def _logout(self, login: Login, end: int) -> None:
        host, user, ms = self.host, login.user, US // 1000
        child = login.sshd_pid + 1
        self.auth_line(end, "sshd", child, f"Received disconnect from {login.ip} port "
                       f"{login.port}:11: disconnected by user")
        self.auth_line(end + ms, "sshd", child, f"Disconnected from user {user.name} "
                       f"{login.ip} port {login.port}")
        self.audit_event(end + 2 * ms, audit.user_event(
            host, "USER_LOGOUT", pid=login.sshd_pid, uid=0, auid=user.uid,
            session=login.session, message=f'op=login id={user.uid} exe="/usr/sbin/sshd" '
            f"hostname=? addr={login.ip} terminal=/dev/{login.tty} res=success"))
        self.audit_event(end + 4 * ms, audit.pam(
            host, "USER_END", "PAM:session_close", "pam_selinux,pam_loginuid,pam_unix,pam_env",
            user.name, "/usr/sbin/sshd", "ssh", pid=login.sshd_pid, auid=user.uid,
            session=login.session, addr=login.ip))
        self.audit_event(end + 5 * ms, audit.pam(
            host, "CRED_DISP", "PAM:setcred", "pam_permit", user.name, "/usr/sbin/sshd", "ssh",
            pid=login.sshd_pid, auid=user.uid, session=login.session, addr=login.ip))
        self.auth_line(end + 5 * ms, "sshd", login.sshd_pid,
                       f"pam_unix(sshd:session): session closed for user {user.name}")
        self.logind(end + 8 * ms, f"Session {audit.SES} logged out. Waiting for processes to "
                    "exit.", login.session)
        self.logind(end + 12 * ms, f"Removed session {audit.SES}.", login.session)

    def typed(self, login: Login, t: int, command: str,
              argvs: Sequence[Sequence[str]] = (), cwd: str | None = None,
              history: bool = True) -> list[Proc]:
        """A command typed in a login shell: its history line and the processes it starts."""
        if history:
            self.history(login.user, t, command)
        procs = []
        for index, argv in enumerate(argvs):
            procs.append(self.exec(t + (index + 1) * 3000, argv, login.shell, cwd=cwd))
        return procs

    def sudo(self, login: Login, t: int, argv: Sequence[str], *, cwd: str | None = None,
             duration: int = 2 * US, history: str | None = None) -> Proc:
        """``sudo <argv>`` typed in a login shell; returns the command's process."""
        host, user, ms = self.host, login.user, US // 1000
        cwd = cwd or user.home
        if history is not None:
            self.history(user, t, history)
        sudo = self.exec(t, ["sudo", *argv], login.shell, cwd=cwd)
        full = " ".join([which(argv[0]), *argv[1:]])
        self.auth_line(t + 5 * ms, "sudo", sudo.pid, f"    {user.name} : TTY={login.tty} ; "
                       f"PWD={cwd} ; USER=root ; COMMAND={full}")
        self.audit_event(t + 5 * ms, audit.pam(
            host, "USER_ACCT", "PAM:accounting", "pam_permit", user.name, "/usr/bin/sudo",
            f"/dev/{login.tty}", pid=sudo.pid, uid=user.uid, auid=user.uid,
            session=login.session))
        self.audit_event(t + 6 * ms, audit.user_cmd(
            host, pid=sudo.pid, uid=user.uid, session=login.session, cwd=cwd, command=full,
            terminal=login.pts))
        self.audit_event(t + 7 * ms, audit.pam(
            host, "CRED_REFR", "PAM:setcred", "pam_permit", "root", "/usr/bin/sudo",
            f"/dev/{login.tty}", pid=sudo.pid, uid=user.uid, auid=user.uid,
            session=login.session))
        self.audit_event(t + 8 * ms, audit.pam(
            host, "USER_START", "PAM:session_open", "pam_limits,pam_permit,pam_unix,pam_umask",
            "root", "/usr/bin/sudo", f"/dev/{login.tty}", pid=sudo.pid, uid=user.uid,
            auid=user.uid, session=login.session))
        self.auth_line(t + 8 * ms, "sudo", sudo.pid, "pam_unix(sudo:session): session opened "
                       f"for user root(uid=0) by {user.name}(uid={user.uid})")
        as_root = Proc(sudo.pid, sudo.ppid, 0, sudo.exe, sudo.argv, auid=user.uid,
                       session=login.session, tty=login.pts, cwd=cwd)
        command = self.exec(t + 10 * ms, argv, as_root)
        end = t + duration
        self.audit_event(end, audit.pam(
            host, "USER_END", "PAM:session_close", "pam_limits,pam_permit,pam_unix,pam_umask",
            "root", "/usr/bin/sudo", f"/dev/{login.tty}", pid=sudo.pid, uid=user.uid,
            auid=user.uid, session=login.session))
        self.audit_event(end + ms, audit.pam(
            host, "CRED_DISP", "PAM:setcred", "pam_permit", "root", "/usr/bin/sudo",
            f"/dev/{login.tty}", pid=sudo.pid, uid=user.uid, auid=user.uid,
            session=login.session))
        self.auth_line(end + ms, "sudo", sudo.pid,
                       "pam_unix(sudo:session): session closed for user root")
        return command

    def cron(self, t: int, user_name: str, command: str,
             children: Sequence[Sequence[str]] = (), duration: int = 2 * US) -> Proc:
        """A cron job: the PAM session, ``/bin/sh -c command`` and what it runs."""
        host, ms = self.host, US // 1000
        user = self.host.user(user_name)
        session = Session()
        pid = self.pid(t)
        self.audit_event(t, audit.pam(host, "USER_ACCT", "PAM:accounting", "pam_permit",
                                      user.name, "/usr/sbin/cron", "cron", pid=pid))
        self.audit_event(t + ms, audit.pam(host, "CRED_ACQ", "PAM:setcred",
                                           "pam_permit,pam_cap", user.name, "/usr/sbin/cron",
                                           "cron", pid=pid))
        self.audit_event(t + 2 * ms, audit.login(host, pid, user.uid, session))
        self.audit_event(t + 3 * ms, audit.pam(
            host, "USER_START", "PAM:session_open",
            "pam_loginuid,pam_env,pam_env,pam_permit,pam_unix,pam_limits", user.name,
            "/usr/sbin/cron", "cron", pid=pid, auid=user.uid, session=session))
        self.auth_line(t + 3 * ms, "CRON", pid, "pam_unix(cron:session): session opened for "
                       f"user {user.name}(uid={user.uid}) by root(uid=0)")
        daemon = Proc(pid, self.cron_daemon.pid, user.uid, "/usr/sbin/cron",
                      self.cron_daemon.argv, auid=user.uid, session=session, cwd=user.home)
        shell = self.exec(t + 5 * ms, ["/bin/sh", "-c", command], daemon, comm="sh")
        for index, argv in enumerate(children):
            self.exec(t + (10 + index * 15) * ms, argv, shell)
        end = t + duration
        self.audit_event(end, audit.pam(host, "CRED_DISP", "PAM:setcred", "pam_permit",
                                        user.name, "/usr/sbin/cron", "cron", pid=pid,
                                        auid=user.uid, session=session))
        self.audit_event(end + ms, audit.pam(
            host, "USER_END", "PAM:session_close",
            "pam_loginuid,pam_env,pam_env,pam_permit,pam_unix,pam_limits", user.name,
            "/usr/sbin/cron", "cron", pid=pid, auid=user.uid, session=session))
        self.auth_line(end + ms, "CRON", pid,
                       f"pam_unix(cron:session): session closed for user {user.name}")
        return shell

    def assist_script(self, t: int, invoke_id: str) -> Proc:
        """Cloud Assistant runs a RunShellScript command: bash on the script it saved."""
        path = f"/usr/local/share/aliyun-assist/work/script/{invoke_id}.sh"
        return self.exec(t, ["/bin/bash", "-c", path], self.assist, cwd="/root")


class WebScene:
    """web-01's nginx logs, rotated daily by logrotate (the older ones compressed)."""

    MASTER_PID = 1123

    def __init__(self, scene: Scene) -> None:
        world = scene.world
        self.scene = scene
        self.access = LineStream(world.start, world.end, "web_access", scene.root,
                                 self._rotated("access.log"))
        self.error = LineStream(world.start, world.end, "web_error", scene.root,
                                self._rotated("error.log"))
        self.reloads: list[int] = list(scene.plan.nginx_reloads)

    def _rotated(self, name: str) -> Callable[[int], str]:
        days = self.scene.world.days

        def path(day: int) -> str:
            age = days - 1 - day
            suffix = "" if age <= 0 else f".{age}" if age == 1 else f".{age}.gz"
            return f"hosts/web-01/var/log/nginx/{name}{suffix}"

        return path

    def worker_pid(self, t: int) -> int:
        generation = sum(1 for moment in self.reloads if moment <= t)
        return self.MASTER_PID + 1 + generation * 4127 + (t // US) % 2

    def hit(self, t: int, ip: str, method: str, target: str, status: int, size: int,
            agent: str, referer: str = "-") -> None:
        self.access.add(t, f'{ip} - - [{clf(t)}] "{method} {target} HTTP/1.1" {status} {size} '
                           f'"{referer}" "{agent}"', self.scene.step)

    def error_line(self, t: int, level: str, message: str, *, pid: int | None = None,
                   client: str | None = None, request: str | None = None,
                   extra: str = "") -> None:
        worker = pid or self.worker_pid(t)
        connection = f"*{1000 + (t - self.scene.world.start) // US * 9 // 10} " if client else ""
        context = ""
        if client:
            context = (f", client: {client}, server: {SHOP_DOMAIN}, request: \"{request}\""
                       f"{extra}, host: \"{SHOP_DOMAIN}\"")
        self.error.add(t, f"{nginx_error_time(t)} [{level}] {worker}#{worker}: {connection}"
                          f"{message}{context}", self.scene.step)


class Scene:
    """Every evidence stream of the demo, and the attack step being written (if any)."""

    def __init__(self, world: World, plan: Plan, root: Path) -> None:
        self.world = world
        self.plan = plan
        self.root = root
        self.step: str | None = None
        self.trail = TrailStream(world.start, world.end, root,
                                 f"oss/{TRAIL_BUCKET}/{TRAIL_PREFIX}")
        self.flows = LineStream(world.start, world.end, "vpcflow_aliyun", root,
                                self._flow_path)
        self.hosts = {name: HostScene(self, host) for name, host in world.hosts.items()}
        self.web = WebScene(self)

    def _flow_path(self, day: int) -> str:
        year, month, mday = date_parts(self.world.start + day * DAY)
        return f"sls/acme-vpc/vpc-flowlog/vpc-flowlog_{year}-{month}-{mday}.json"

    @contextmanager
    def tagged(self, step: str) -> Iterator[None]:
        previous, self.step = self.step, step
        try:
            yield
        finally:
            self.step = previous

    def flow(self, flow: Flow) -> None:
        for time, line in flow_records(self.world, flow):
            self.flows.add(time, line.decode(), self.step)

    def api(self, t: int, event: TrailEvent) -> None:
        self.trail.add(t, event, self.step)

    def streams(self) -> list[Stream]:
        """Every stream, host audit logs before auth logs (they number sessions first)."""
        streams: list[Stream] = []
        for host in self.hosts.values():
            streams.extend(host.streams())
        return [*streams, self.web.access, self.web.error, self.flows, self.trail]
