"""Raw ``audit.log`` records as auditd 3.1 writes them on Ubuntu 24.04 (``log_format =
ENRICHED``, ``name_format = HOSTNAME``).

The host's audit rules (``/etc/audit/rules.d/hardening.rules``) decide what is recorded:

    -a always,exit -F arch=b64 -S execve -k exec
    -a always,exit -F arch=b64 -S connect -F auid>=1000 -F auid!=unset -k net_connect
    -w /etc/nginx/ -p wa -k nginx_conf
    -w /etc/passwd -p wa -k identity
    -w /etc/sudoers.d/ -p wa -k sudoers
    -w /var/spool/cron/ -p wa -k cron
    -a always,exit -F arch=b64 -S openat -F path=/home/wchen/.aliyun/config.json -k cloud_creds

plus the PAM and account events user-space programs send (sshd, sudo, cron, useradd).
Encoding follows the kernel and libaudit: a value with a space, a double quote, a control
character or a byte above 0x7e is written as bare upper-case hex, else in double quotes;
``proctitle`` holds the NUL-separated argv (128 bytes at most); the enriched part follows a 0x1D
separator. Serial numbers and login session ids are given when the file is written, in time
order, as the kernel gives them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from trailguard.demo.clock import audit_stamp
from trailguard.demo.evidence import Rendered
from trailguard.demo.world import Host

UNSET = 4294967295
GS = "\x1d"
SES = "\x00ses\x00"
"""Placeholder for the login session id, known only when the event is written."""
PROCTITLE_MAX = 128


class Session:
    """A login session (``ses=``); numbered when first written."""

    __slots__ = ("number",)

    def __init__(self) -> None:
        self.number: int | None = None


@dataclass
class HostContext:
    """Counters of one host, advanced in time order while its logs are written."""

    host: Host
    serial: int
    next_session: int

    def session_number(self, session: Session) -> int:
        if session.number is None:
            session.number = self.next_session
            self.next_session += 1
        return session.number


@dataclass(frozen=True, slots=True)
class Proc:
    """A process as the SYSCALL record describes it."""

    pid: int
    ppid: int
    uid: int
    exe: str
    argv: tuple[str, ...]
    auid: int = UNSET
    session: Session | None = None
    tty: str = "(none)"
    cwd: str = "/"
    comm: str = ""

    @property
    def command(self) -> str:
        return self.comm or self.argv[0].rsplit("/", 1)[-1][:15]


@dataclass(slots=True)
class AuditEvent:
    records: tuple[tuple[str, str], ...]
    session: Session | None
    eoe: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def render(self, context: HostContext, time: int) -> Rendered:
        context.serial += 1
        head = f"node={context.host.name} type="
        stamp = f" msg=audit({audit_stamp(time)}:{context.serial}):"
        ses = (str(context.session_number(self.session)) if self.session is not None
               else str(UNSET))
        lines = [f"{head}{kind}{stamp} {body.replace(SES, ses)}" for kind, body in self.records]
        if self.eoe:
            lines.append(f"{head}EOE{stamp}")
        return lines, 0


def encode(value: str) -> str:
    """An untrusted string field as auditd writes it: quoted, or hex when it must be."""
    raw = value.encode("utf-8")
    if any(byte < 0x21 or byte > 0x7E or byte == 0x22 for byte in raw):
        return raw.hex().upper()
    return f'"{value}"'


def proctitle(argv: tuple[str, ...]) -> str:
    raw = "\x00".join(argv).encode("utf-8")[:PROCTITLE_MAX]
    if any(byte < 0x21 or byte > 0x7E or byte == 0x22 for byte in raw):
        return raw.hex().upper()
    return f'"{raw.decode()}"'


def inode(path: str) -> int:
    return 131072 + zlib.crc32(path.encode()) % 3_900_000


def _name(host: Host, uid: int) -> str:
    return "unset" if uid == UNSET else host.uid_name(uid)


def _syscall(host: Host, proc: Proc, number: int, name: str, success: bool, code: int,
             args: tuple[str, str, str, str], items: int, key: str) -> tuple[str, str]:
    uid = proc.uid
    ses = SES if proc.session is not None else str(UNSET)
    key_text = f'"{key}"' if key else "(null)"
    body = (
        f"arch=c000003e syscall={number} success={'yes' if success else 'no'} exit={code} "
        f"a0={args[0]} a1={args[1]} a2={args[2]} a3={args[3]} items={items} ppid={proc.ppid} "
        f"pid={proc.pid} auid={proc.auid} uid={uid} gid={uid} euid={uid} suid={uid} "
        f"fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty={proc.tty} ses={ses} "
        f"comm={encode(proc.command)} exe={encode(proc.exe)} subj=unconfined key={key_text}"
    )
    user = _name(host, uid)
    names = " ".join(f'{field_name}="{user}"' for field_name in
                     ("UID", "GID", "EUID", "SUID", "FSUID", "EGID", "SGID", "FSGID"))
    enriched = f'ARCH=x86_64 SYSCALL={name} AUID="{_name(host, proc.auid)}" {names}'
    return "SYSCALL", body + GS + enriched


def _path(host: Host, item: int, path: str, nametype: str, mode: str = "0100755",
          owner: int = 0) -> tuple[str, str]:
    owner_name = _name(host, owner)
    body = (f"item={item} name={encode(path)} inode={inode(path)} dev=fc:01 mode={mode} "
            f"ouid={owner} ogid={owner} rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 "
            f"cap_fe=0 cap_fver=0 cap_frootid=0")
    return "PATH", body + GS + f'OUID="{owner_name}" OGID="{owner_name}"'


def _pointer(pid: int, salt: int) -> str:
    return f"{0x55D0_0000_0000 + (pid * 7919 + salt * 104729) % 0x0FFF_FFFF:x}"


def execve(host: Host, proc: Proc, key: str = "exec") -> AuditEvent:
    """An ``execve`` that succeeded: SYSCALL, EXECVE, CWD, PATH (program, loader), PROCTITLE."""
    args = (_pointer(proc.pid, 1), _pointer(proc.pid, 2), _pointer(proc.pid, 3), "0")
    argv = " ".join(f"a{index}={encode(arg)}" for index, arg in enumerate(proc.argv))
    records = (
        _syscall(host, proc, 59, "execve", True, 0, args, 2, key),
        ("EXECVE", f"argc={len(proc.argv)} {argv}"),
        ("CWD", f"cwd={encode(proc.cwd)}"),
        _path(host, 0, proc.exe, "NORMAL"),
        _path(host, 1, "/lib64/ld-linux-x86-64.so.2", "NORMAL"),
        ("PROCTITLE", f"proctitle={proctitle(proc.argv)}"),
    )
    return AuditEvent(records, proc.session)


def sockaddr(ip: str, port: int) -> str:
    packed = bytes(int(part) for part in ip.split("."))
    return ("0200" + f"{port:04X}" + packed.hex().upper() + "0" * 16)


def connect(host: Host, proc: Proc, ip: str, port: int, success: bool = True,
            key: str = "net_connect") -> AuditEvent:
    """A ``connect`` to an IPv4 address: SYSCALL, SOCKADDR, PROCTITLE."""
    args = (f"{3 + proc.pid % 5:x}", f"7ffd{proc.pid % 0xFFFF:04x}a2b0", "10", "0")
    code = 0 if success else -115
    records = (
        _syscall(host, proc, 42, "connect", success, code, args, 0, key),
        ("SOCKADDR", f"saddr={sockaddr(ip, port)}" + GS
         + f"SADDR={{ saddr_fam=inet laddr={ip} lport={port} }}"),
        ("PROCTITLE", f"proctitle={proctitle(proc.argv)}"),
    )
    return AuditEvent(records, proc.session)


def open_file(host: Host, proc: Proc, path: str, *, write: bool, key: str, owner: int = 0,
              mode: str = "0100644", created: bool = False) -> AuditEvent:
    """An ``openat`` of a watched file (read, or write with O_CREAT|O_TRUNC)."""
    flags = "241" if write else "80000"
    args = ("ffffff9c", f"7ffd{proc.pid % 0xFFFF:04x}c120", flags, "1b6" if write else "0")
    parent = path.rsplit("/", 1)[0] + "/"
    records: tuple[tuple[str, str], ...] = (
        _syscall(host, proc, 257, "openat", True, 3, args, 2 if write else 1, key),
        ("CWD", f"cwd={encode(proc.cwd)}"),
    )
    if write:
        records += (_path(host, 0, parent, "PARENT", "040755", 0),
                    _path(host, 1, path, "CREATE" if created else "NORMAL", mode, owner))
    else:
        records += (_path(host, 0, path, "NORMAL", mode, owner),)
    records += (("PROCTITLE", f"proctitle={proctitle(proc.argv)}"),)
    return AuditEvent(records, proc.session)


def user_event(host: Host, kind: str, *, pid: int, uid: int, auid: int,
               session: Session | None, message: str) -> AuditEvent:
    """A user-space record (PAM, sudo, shadow-utils): one line, an event of its own."""
    ses = SES if session is not None else str(UNSET)
    body = (f"pid={pid} uid={uid} auid={auid} ses={ses} subj=unconfined msg='{message}'" + GS
            + f'UID="{_name(host, uid)}" AUID="{_name(host, auid)}"')
    return AuditEvent(((kind, body),), session, eoe=False)


def pam(host: Host, kind: str, op: str, grantors: str, acct: str, exe: str, terminal: str, *,
        pid: int, uid: int = 0, auid: int = UNSET, session: Session | None = None,
        addr: str = "?", res: str = "success") -> AuditEvent:
    message = (f'op={op} grantors={grantors} acct="{acct}" exe="{exe}" hostname=? addr={addr} '
               f"terminal={terminal} res={res}")
    return user_event(host, kind, pid=pid, uid=uid, auid=auid, session=session, message=message)


def login(host: Host, pid: int, auid: int, session: Session) -> AuditEvent:
    """The kernel's LOGIN record when pam_loginuid sets the login uid (no EOE follows)."""
    body = (f"pid={pid} uid=0 subj=unconfined old-auid={UNSET} auid={auid} tty=(none) "
            f"old-ses={UNSET} ses={SES} res=1" + GS
            + f'UID="root" OLD-AUID="unset" AUID="{_name(host, auid)}"')
    return AuditEvent((("LOGIN", body),), session, eoe=False)


def user_cmd(host: Host, *, pid: int, uid: int, session: Session, cwd: str,
             command: str, terminal: str) -> AuditEvent:
    """sudo's USER_CMD: the command line (``cmd=``, hex when it holds a space)."""
    message = (f"cwd={encode(cwd)} cmd={encode(command)} exe=\"/usr/bin/sudo\" "
               f"terminal={terminal} res=success")
    return user_event(host, "USER_CMD", pid=pid, uid=uid, auid=uid, session=session,
                      message=message)
