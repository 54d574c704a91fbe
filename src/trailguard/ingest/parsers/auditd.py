"""Linux audit logs: raw ``audit.log`` and Microsoft AUOMS records in Azure Monitor NDJSON.

**Raw audit.log** (auditd's ``log_format=RAW`` or ``ENRICHED``; reference: the Red Hat
Security Guide, "Understanding Audit Log Files", and ``auparse``)::

    type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 … exe="/usr/sbin/arp"
    type=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a"
    type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61

All records that share ``audit(<epoch>:<serial>)`` (and ``node=`` when present) form ONE
event. Records of different events may interleave; an event ends at its ``EOE`` record, and
user-space records (``USER_*``, ``CRED_*``, ``SERVICE_*``, ``ADD_USER`` …) are events of their
own. At most :data:`WINDOW` events are kept open; beyond that the oldest is emitted. The
record position is the line of the event's first record and ``raw`` holds all its lines. The
same lines are read when a syslog header precedes them (audisp-syslog, the kernel's
``audit: type=1300 audit(…)`` form with numeric types); the header goes to ``envelope``.
ausearch's ``----`` and ``time->…`` separator lines are skipped.

**AUOMS** (the Azure Monitor agent's audit plugin): NDJSON rows of the Azure Monitor
``Syslog`` table whose ``SyslogMessage`` is ``type=AUOMS_EXECVE audit(…): key=value …``. One
Record per JSON line; the other columns of the row are kept under ``envelope``.

**Field layout** (chosen so Sigma's ``linux/auditd`` rules find their fields; every field
name is unique without regard to letter case, as the case store requires):

* ``type`` is the event's main record type: ``SYSCALL`` when the event has one, else the
  type of its first record. ``record_types`` lists every record type of the event, in order.
  A Sigma selection ``type: EXECVE`` or ``type: PATH`` means "the event has such a record":
  the rule engine must test ``record_types`` for those (``type: SYSCALL`` and single-record
  types such as ``SERVICE_STOP`` or ``ADD_USER`` also match ``type`` itself).
* SYSCALL fields are top-level (``arch``, ``success``, ``exit``, ``ppid``, ``pid``, ``auid``,
  ``uid`` … ``comm``, ``exe``, ``key``, ``ses``, ``tty``), except: ``SYSCALL`` is the syscall
  NAME (as Sigma and enriched logs spell it; translated for x86_64 and aarch64), the number
  is ``syscall_nr``, and the syscall's register arguments a0–a3 are ``syscall_a0`` …
  ``syscall_a3``.
* EXECVE: ``argc`` and the decoded arguments ``a0`` … ``a63`` (hex arguments and split
  ``aN[i]`` chunks are decoded and joined); arguments beyond 64 go to the list ``argv_rest``.
* ``proctitle`` (hex decoded, NULs as spaces), ``cwd``.
* PATH: the main item (the first one that is not a ``PARENT`` directory) has its fields
  top-level (``name``, ``nametype``, ``inode``, ``mode``, ``ouid`` …); all items are listed in
  ``path_name``, ``path_nametype``, ``path_mode``, ``path_inode``, ``path_ouid``,
  ``path_ogid`` (the same lists AUOMS writes).
* SOCKADDR: ``saddr`` plus its decoding ``saddr_family``, ``saddr_ip``, ``saddr_port``,
  ``saddr_path``.
* User-space records: the fields inside ``msg='…'`` are top-level (``op``, ``acct``, ``exe``,
  ``hostname``, ``addr``, ``terminal``, ``res``, ``unit`` …).
* Other records: their fields top-level when the name is still free, else under a mapping
  named after the record type (``AVC.pid``). AVC adds ``seresult`` and ``seperms``.
* Enriched (``log_format=ENRICHED``) translations after the 0x1D separator go to
  ``enriched`` (``enriched.UID`` …), except ``SYSCALL``. ``audit_time`` and ``serial`` come
  from the ``audit(…)`` stamp, ``node`` from the ``node=`` prefix.
* Encoded values (unquoted hex in ``name``, ``cwd``, ``exe``, ``comm``, ``proctitle``,
  ``cmd``, ``acct``, ``key`` …) are decoded; ``(null)`` becomes null; multiple keys (0x01
  separated) are joined with ``,``.
* AUOMS records use the same names: ``syscall`` (a name in AUOMS) → ``SYSCALL``,
  ``syscall_r`` → ``syscall_nr``, a0–a3 → ``syscall_a0`` …; ``cmdline`` is kept.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

import orjson

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    decode,
    int_of,
    iter_lines,
    text_of,
    too_long,
)
from trailguard.ingest.parsers.syslog import parse_header
from trailguard.ingest.timeparse import from_epoch

#: Most events open at once while records of several events interleave.
WINDOW = 1000
#: EXECVE arguments kept as their own fields (``a0`` … ``a63``).
MAX_ARGS = 64
#: Records one event may gather before it is emitted (hostile input repeating one serial).
MAX_RECORDS = 10000

_HEADER = re.compile(
    r"(?:node=(?P<node>\S{1,255}) )?type=(?P<type>[A-Za-z0-9_\[\]]{1,64}) (?:msg=)?"
    r"audit\((?P<time>\d{1,12}(?:\.\d{1,9})?):(?P<serial>\d{1,20})\):?\s?"
)
#: How far before ``audit(`` a header can start, and after it end (see :func:`find_header`).
_HEADER_BEFORE = 340
_HEADER_AFTER = 60
_INTERPRETED = re.compile(r"type=\S+ msg=audit\(\d\d/\d\d/\d{2,4} ")
_SNIFF_LINE = re.compile(
    rb"(?:^|\s)(?:node=\S+ )?type=[A-Za-z0-9_\[\]]+ (?:msg=)?audit\(\d+\.\d+:\d+\)"
)
_SNIFF_AUOMS = re.compile(
    rb'"SyslogMessage"\s*:\s*"(?:node=\S+ )?type=[A-Z0-9_]+ (?:msg=)?audit\(\d+\.\d+:\d+\)'
)
_KEY = re.compile(r"([A-Za-z_][\w\-]*(?:\[\d+\])?)=")
_LOOSE_NEXT_KEY = re.compile(r" (?=[A-Za-z_][\w\-]*(?:\[\d+\])?=)")
_LOOSE_CLOSING_QUOTE = re.compile(r'"(?= [A-Za-z_][\w\-]*(?:\[\d+\])?=|\s*$)')
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_ARG = re.compile(r"a(\d+)(?:\[(\d+)\]|(_len))?$")
_AVC = re.compile(r"\s*avc:\s+(?P<result>\w+)\s+\{\s*(?P<perms>[^}]*?)\s*\}")

#: Fields auditd writes hex-encoded (unquoted) when the text has spaces, quotes or controls.
ENCODED_FIELDS = frozenset({
    "name", "cwd", "exe", "comm", "ocomm", "path", "proctitle", "cmd", "acct", "key", "data",
    "file", "dir", "watch", "vm", "device", "cgroup", "root_dir", "sw", "grp", "new_group",
    "new-disk", "old-disk", "new-fs", "old-fs", "new-chardev", "old-chardev", "new-net",
    "old-net", "new-rng", "old-rng",
})
#: Record types written by user-space programs: each is an event of its own.
STANDALONE_PREFIXES = ("USER_", "CRED_", "DAEMON_", "SERVICE_", "ANOM_LOGIN", "ACCT_", "ADD_",
                       "DEL_", "GRP_", "ROLE_", "SYSTEM_", "CHGRP_ID", "CHUSER_ID", "VIRT_",
                       "USYS_", "TRUSTED_APP", "SOFTWARE_UPDATE", "AUOMS_", "LABEL_", "MAC_CHECK",
                       "DAC_CHECK", "TEST")
#: Numeric record types (kernel printk form ``audit: type=1300 …``).
TYPE_NUMBERS = {
    1006: "LOGIN", 1100: "USER_AUTH", 1101: "USER_ACCT", 1102: "USER_MGMT", 1103: "CRED_ACQ",
    1104: "CRED_DISP", 1105: "USER_START", 1106: "USER_END", 1107: "USER_AVC",
    1108: "USER_CHAUTHTOK", 1109: "USER_ERR", 1110: "CRED_REFR", 1111: "USYS_CONFIG",
    1112: "USER_LOGIN", 1113: "USER_LOGOUT", 1114: "ADD_USER", 1115: "DEL_USER",
    1116: "ADD_GROUP", 1117: "DEL_GROUP", 1119: "CHGRP_ID", 1123: "USER_CMD", 1124: "USER_TTY",
    1125: "CHUSER_ID", 1126: "GRP_AUTH", 1127: "SYSTEM_BOOT", 1128: "SYSTEM_SHUTDOWN",
    1129: "SYSTEM_RUNLEVEL", 1130: "SERVICE_START", 1131: "SERVICE_STOP", 1132: "GRP_MGMT",
    1135: "ACCT_LOCK", 1136: "ACCT_UNLOCK", 1200: "DAEMON_START", 1201: "DAEMON_END",
    1202: "DAEMON_ABORT", 1203: "DAEMON_CONFIG", 1300: "SYSCALL", 1302: "PATH", 1303: "IPC",
    1304: "SOCKETCALL", 1305: "CONFIG_CHANGE", 1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE",
    1317: "FD_PAIR", 1318: "OBJ_PID", 1319: "TTY", 1320: "EOE", 1321: "BPRM_FCAPS",
    1322: "CAPSET", 1323: "MMAP", 1325: "NETFILTER_CFG", 1326: "SECCOMP", 1327: "PROCTITLE",
    1330: "KERN_MODULE", 1331: "FANOTIFY", 1334: "BPF", 1336: "URINGOP", 1400: "AVC",
    1401: "SELINUX_ERR", 1402: "AVC_PATH", 1403: "MAC_POLICY_LOAD", 1404: "MAC_STATUS",
    1700: "ANOM_PROMISCUOUS", 1701: "ANOM_ABEND", 1702: "ANOM_LINK", 1703: "ANOM_CREAT",
}

# Syscall names by number, from the kernel's uapi headers (asm/unistd_64.h for x86_64,
# asm-generic/unistd.h for aarch64): (first number, space-separated names) segments.
_X86_64: tuple[tuple[int, str], ...] = (
    (0, (
        "read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction "
        "rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select "
        "sched_yield mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep "
        "getitimer alarm setitimer getpid sendfile socket connect accept sendto recvfrom sendmsg "
        "recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt "
        "clone fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd "
        "msgrcv msgctl fcntl flock fsync fdatasync truncate ftruncate getdents getcwd chdir "
        "fchdir rename mkdir rmdir creat link unlink symlink readlink chmod fchmod chown fchown "
        "lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace getuid syslog getgid "
        "setuid setgid geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups "
        "setgroups setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid "
        "capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack "
        "utime mknod uselib personality ustat statfs fstatfs sysfs getpriority setpriority "
        "sched_setparam sched_getparam sched_setscheduler sched_getscheduler "
        "sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock "
        "mlockall munlockall vhangup modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex "
        "setrlimit chroot sync acct settimeofday mount umount2 swapon swapoff reboot sethostname "
        "setdomainname iopl ioperm create_module init_module delete_module get_kernel_syms "
        "query_module quotactl nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid "
        "readahead setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr "
        "flistxattr removexattr lremovexattr fremovexattr tkill time futex sched_setaffinity "
        "sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit io_cancel "
        "get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old "
        "remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 "
        "timer_create timer_settime timer_gettime timer_getoverrun timer_delete clock_settime "
        "clock_gettime clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes "
        "vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive "
        "mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set "
        "ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat "
        "mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat "
        "fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee "
        "sync_file_range vmsplice move_pages utimensat epoll_pwait signalfd timerfd_create "
        "eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 "
        "epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open "
        "recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at open_by_handle_at "
        "clock_adjtime syncfs sendmmsg setns getcpu process_vm_readv process_vm_writev kcmp "
        "finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create "
        "kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 "
        "pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq "
    )),
    (424, (
        "pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount "
        "fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd "
        "faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd "
        "landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret "
        "process_mrelease futex_waitv set_mempolicy_home_node "
    )),
)
_AARCH64: tuple[tuple[int, str], ...] = (
    (0, (
        "io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr fsetxattr "
        "getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr "
        "fremovexattr getcwd lookup_dcookie eventfd2 epoll_create1 epoll_ctl epoll_pwait dup dup3 "
        "fcntl inotify_init1 inotify_add_watch inotify_rm_watch ioctl ioprio_set ioprio_get flock "
        "mknodat mkdirat unlinkat symlinkat linkat renameat umount2 mount pivot_root nfsservctl "
        "statfs fstatfs truncate ftruncate fallocate faccessat chdir fchdir chroot fchmod "
        "fchmodat fchownat fchown openat close vhangup pipe2 quotactl getdents64 lseek read write "
        "readv writev pread64 pwrite64 preadv pwritev sendfile pselect6 ppoll signalfd4 vmsplice "
        "splice tee readlinkat newfstatat fstat sync fsync fdatasync sync_file_range "
        "timerfd_create timerfd_settime timerfd_gettime utimensat acct capget capset personality "
        "exit exit_group waitid set_tid_address unshare futex set_robust_list get_robust_list "
        "nanosleep getitimer setitimer kexec_load init_module delete_module timer_create "
        "timer_gettime timer_getoverrun timer_settime timer_delete clock_settime clock_gettime "
        "clock_getres clock_nanosleep syslog ptrace sched_setparam sched_setscheduler "
        "sched_getscheduler sched_getparam sched_setaffinity sched_getaffinity sched_yield "
        "sched_get_priority_max sched_get_priority_min sched_rr_get_interval restart_syscall kill "
        "tkill tgkill sigaltstack rt_sigsuspend rt_sigaction rt_sigprocmask rt_sigpending "
        "rt_sigtimedwait rt_sigqueueinfo rt_sigreturn setpriority getpriority reboot setregid "
        "setgid setreuid setuid setresuid getresuid setresgid getresgid setfsuid setfsgid times "
        "setpgid getpgid getsid setsid getgroups setgroups uname sethostname setdomainname "
        "getrlimit setrlimit getrusage umask prctl getcpu gettimeofday settimeofday adjtimex "
        "getpid getppid getuid geteuid getgid getegid gettid sysinfo mq_open mq_unlink "
        "mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgctl msgrcv msgsnd semget "
        "semctl semtimedop semop shmget shmctl shmat shmdt socket socketpair bind listen accept "
        "connect getsockname getpeername sendto recvfrom setsockopt getsockopt shutdown sendmsg "
        "recvmsg readahead brk munmap mremap add_key request_key keyctl clone execve mmap "
        "fadvise64 swapon swapoff mprotect msync mlock munlock mlockall munlockall mincore "
        "madvise remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages "
        "rt_tgsigqueueinfo perf_event_open accept4 recvmmsg "
    )),
    (260, (
        "wait4 prlimit64 fanotify_init fanotify_mark name_to_handle_at open_by_handle_at "
        "clock_adjtime syncfs setns sendmmsg process_vm_readv process_vm_writev kcmp finit_module "
        "sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create bpf execveat "
        "userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc "
        "pkey_free statx io_pgetevents rseq kexec_file_load "
    )),
    (424, (
        "pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount "
        "fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd "
        "faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd "
        "landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret "
        "process_mrelease futex_waitv set_mempolicy_home_node "
    )),
)


def _syscall_table(segments: tuple[tuple[int, str], ...]) -> dict[int, str]:
    table: dict[int, str] = {}
    for start, names in segments:
        for offset, name in enumerate(names.split()):
            table[start + offset] = name
    return table


#: audit ``arch`` value → syscall table (AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64).
SYSCALLS: dict[str, dict[int, str]] = {
    "c000003e": _syscall_table(_X86_64),
    "x86_64": _syscall_table(_X86_64),
    "c00000b7": _syscall_table(_AARCH64),
    "aarch64": _syscall_table(_AARCH64),
}

PROCESS_SYSCALLS = frozenset({
    "execve", "execveat", "fork", "vfork", "clone", "clone3", "kill", "tkill", "tgkill",
    "ptrace", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "prctl",
    "memfd_create", "personality", "init_module", "finit_module", "delete_module", "exit",
    "exit_group", "pidfd_send_signal", "process_vm_writev", "process_vm_readv",
})
NETWORK_SYSCALLS = frozenset({
    "connect", "bind", "accept", "accept4", "listen", "socket", "socketpair", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "getpeername", "shutdown",
})
AUTH_TYPES = frozenset({
    "USER_AUTH", "USER_ACCT", "USER_LOGIN", "USER_LOGOUT", "USER_START", "USER_END",
    "CRED_ACQ", "CRED_DISP", "CRED_REFR", "USER_ERR", "LOGIN", "GRP_AUTH", "ANOM_LOGIN_FAILURES",
    "ANOM_LOGIN_TIME", "ANOM_LOGIN_SESSIONS", "ANOM_LOGIN_ACCT", "ANOM_LOGIN_LOCATION",
    "ANOM_LOGIN_SERVICE",
})
ACCOUNT_TYPES = frozenset({
    "ADD_USER", "DEL_USER", "ADD_GROUP", "DEL_GROUP", "USER_MGMT", "GRP_MGMT", "USER_CHAUTHTOK",
    "GRP_CHAUTHTOK", "CHGRP_ID", "CHUSER_ID", "ACCT_LOCK", "ACCT_UNLOCK", "ROLE_ASSIGN",
    "ROLE_REMOVE",
})
PROCESS_TYPES = frozenset({"EXECVE", "USER_CMD", "AUOMS_EXECVE", "AUOMS_PROCESS_INVENTORY",
                           "ANOM_ABEND", "USER_TTY", "TTY"})
SERVICE_TYPES = frozenset({"SERVICE_START", "SERVICE_STOP", "DAEMON_START", "DAEMON_END",
                           "DAEMON_ABORT", "DAEMON_CONFIG", "SYSTEM_BOOT", "SYSTEM_SHUTDOWN",
                           "SYSTEM_RUNLEVEL"})
CONFIG_TYPES = frozenset({"CONFIG_CHANGE", "NETFILTER_CFG", "MAC_POLICY_LOAD", "MAC_STATUS",
                          "MAC_CONFIG_CHANGE", "USYS_CONFIG", "KERN_MODULE", "SOFTWARE_UPDATE"})
_UNSET = frozenset({"4294967295", "-1", "unset", "(none)", "?", ""})


@dataclass(slots=True)
class AuditRecord:
    """One ``type=… audit(…): …`` record."""

    type: str
    time: str
    serial: str
    node: str | None
    fields: dict[str, Any]
    enriched: dict[str, Any]


@dataclass(slots=True)
class _OpenEvent:
    position: int
    records: list[AuditRecord] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    envelope: dict[str, Any] | None = None


@PARSERS.register("auditd")
class AuditdParser(SourceParser):
    NAME: ClassVar[str] = "auditd"
    TITLE: ClassVar[str] = (
        "Linux audit: raw audit.log (records joined into events by serial; hex arguments and "
        "proctitle decoded), syslog-forwarded audit lines, AUOMS records in Azure Monitor NDJSON"
    )
    EXAMPLE: ClassVar[str] = (
        'type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes '
        'exit=0 ppid=29002 pid=1631 auid=1000 uid=1000 ses=104 comm="arp" exe="/usr/sbin/arp" '
        'key=(null)\ntype=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a"'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        if _SNIFF_AUOMS.search(head):
            return 90
        lines = [line for line in head.split(b"\n")[:200] if line.strip()]
        if not lines:
            return 0
        good = sum(1 for line in lines if _SNIFF_LINE.search(line[:4096]))
        separators = sum(1 for line in lines if line.startswith((b"----", b"time->")))
        share = good / max(1, len(lines) - separators)
        if share >= 0.8:
            return 90
        if share >= 0.5:
            return 70
        return 30 if good else 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        assembler = EventAssembler()
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            text = decode(line)
            stripped = text.strip()
            if not stripped or stripped.startswith(("----", "time->")):
                continue
            if stripped.startswith("{"):
                yield _auoms_row(number, stripped)
                continue
            yield from assembler.add(number, text)
        yield from assembler.flush_all()


class EventAssembler:
    """Joins raw records into events, keeping at most :data:`WINDOW` events open."""

    def __init__(self) -> None:
        self.open: dict[tuple[str | None, str, str], _OpenEvent] = {}

    def add(self, number: int, text: str) -> Iterator[Record | Rejected]:
        header = find_header(text)
        if header is None:
            reason = ("ausearch -i (interpreted) output is not supported; export with "
                      "ausearch --raw" if _INTERPRETED.match(text)
                      else "not an audit record (no type=… audit(epoch:serial))")
            yield Rejected(number, reason, text)
            return
        envelope = None
        prefix = text[:header.start()].strip()
        if prefix:
            envelope = parse_header(prefix + " ") or {"prefix": prefix}
            envelope.pop("message", None)
        record = parse_record(header, text[header.end():])
        key = (record.node, record.time, record.serial)
        event = self.open.get(key)
        if record.type == "EOE":
            if event is None:
                return  # an end marker whose event was already emitted: nothing to add
            event.lines.append(text)
            del self.open[key]
            yield build_event(event)
            return
        if event is None:
            event = _OpenEvent(number, envelope=envelope)
            if record.type.startswith(STANDALONE_PREFIXES):
                event.records.append(record)
                event.lines.append(text)
                yield build_event(event)
                return
            self.open[key] = event
            if len(self.open) > WINDOW:
                oldest = next(iter(self.open))
                yield build_event(self.open.pop(oldest))
        event.records.append(record)
        event.lines.append(text)
        if len(event.records) >= MAX_RECORDS:
            del self.open[key]
            yield build_event(event)

    def flush_all(self) -> Iterator[Record]:
        for event in self.open.values():
            yield build_event(event)
        self.open.clear()


def find_header(text: str) -> re.Match[str] | None:
    """The ``[node=…] type=… [msg=]audit(epoch:serial):`` header in a line, wherever it starts.

    Only the text around each ``audit(`` (the first few) is searched, so hostile lines cost
    linear time.
    """
    start = 0
    for _ in range(8):
        anchor = text.find("audit(", start)
        if anchor < 0:
            return None
        header = _HEADER.search(text, max(0, anchor - _HEADER_BEFORE), anchor + _HEADER_AFTER)
        if header is not None:
            return header
        start = anchor + 6
    return None


def parse_record(header: re.Match[str], body: str, loose: bool = False) -> AuditRecord:
    """Read one record (its header match and the text after it) into an :class:`AuditRecord`."""
    record_type = header["type"]
    if record_type.isdigit():
        record_type = TYPE_NUMBERS.get(int(record_type), record_type)
    elif record_type.startswith("UNKNOWN[") and record_type[8:-1].isdigit():
        record_type = TYPE_NUMBERS.get(int(record_type[8:-1]), record_type)
    body, _, enriched_text = body.partition("\x1d")
    fields = parse_fields(body, record_type, loose)
    enriched = parse_fields(enriched_text, record_type, False) if enriched_text else {}
    return AuditRecord(record_type, header["time"], header["serial"], header["node"],
                       fields, enriched)


def parse_fields(body: str, record_type: str, loose: bool) -> dict[str, Any]:
    """``key=value`` pairs of a record body, decoded.

    ``loose`` is for AUOMS, whose values may hold unescaped quotes and spaces: a quoted value
    ends at a quote followed by `` key=`` and a bare value runs up to the next `` key=``.
    """
    fields: dict[str, Any] = {}
    avc = _AVC.match(body)
    if avc:
        fields["seresult"] = avc["result"]
        fields["seperms"] = ",".join(avc["perms"].split())
        body = body[avc.end():]
    for key, value, quote in _pairs(body, loose):
        if quote == "'" and key == "msg":
            inner = parse_fields(value, record_type, False)
            if inner:
                for inner_key, inner_value in inner.items():
                    if inner_key in fields:
                        fields.setdefault("msg", {})[inner_key] = inner_value
                    else:
                        fields[inner_key] = inner_value
            else:
                fields["msg"] = value
            continue
        if key in fields:
            continue
        fields[key] = _value(key, value, quote, record_type)
    return fields


def _pairs(body: str, loose: bool) -> Iterator[tuple[str, str, str]]:
    """``(key, raw value, quote)`` for each ``key=value``; other tokens are skipped."""
    index = 0
    length = len(body)
    while index < length:
        while index < length and body[index] == " ":
            index += 1
        key_match = _KEY.match(body, index)
        if key_match is None:
            end = body.find(" ", index)
            index = length if end < 0 else end
            continue
        key = key_match[1]
        index = key_match.end()
        opener = body[index] if index < length else ""
        if opener in ('"', "'", "{"):
            closer = "}" if opener == "{" else opener
            if loose and opener == '"':
                found = _LOOSE_CLOSING_QUOTE.search(body, index + 1)
                end = found.start() if found else -1
            else:
                end = body.find(closer, index + 1)
            if end < 0:
                end = length
            value = body[index + 1:end]
            index = end + 1
            yield key, value.strip() if opener == "{" else value, opener
            continue
        if loose:
            found = _LOOSE_NEXT_KEY.search(body, index)
            end = found.start() if found else length
        else:
            end = body.find(" ", index)
            end = length if end < 0 else end
        yield key, body[index:end], ""
        index = end


def _value(key: str, value: str, quote: str, record_type: str) -> Any:
    if quote:
        return value
    if value == "(null)":
        return None
    if value.startswith("[") and value.endswith("]"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return parsed
    encoded = key in ENCODED_FIELDS or (record_type == "EXECVE" and _ARG.match(key) is not None
                                        and not key.endswith("_len"))
    if encoded and len(value) >= 2 and _HEX.fullmatch(value):
        text = decode(bytes.fromhex(value))
        if key == "proctitle":
            return text.rstrip("\x00").replace("\x00", " ")
        if key == "key":
            return text.replace("\x01", ",")
        return text
    return value


# --------------------------------------------------------------------------------------------
# Event building
# --------------------------------------------------------------------------------------------


def build_event(event: _OpenEvent) -> Record:
    """Merge an event's records into one Record (layout: see the module docstring)."""
    first = event.records[0]
    data: dict[str, Any] = {}
    types: list[str] = []
    for record in event.records:
        if record.type not in types:
            types.append(record.type)
    data["type"] = "SYSCALL" if "SYSCALL" in types else first.type
    data["record_types"] = types
    data["audit_time"] = first.time
    data["serial"] = first.serial
    if first.node:
        data["node"] = first.node
    args: dict[int, dict[int, str]] = {}
    paths: list[dict[str, Any]] = []
    enriched: dict[str, Any] = {}
    others: list[AuditRecord] = []
    # SYSCALL, EXECVE and PATH fields come first at the top level; other records fill the
    # names still free (the rest goes under their record type).
    for record in event.records:
        fields = record.fields
        if record.type == "SYSCALL" or (record.type.startswith("AUOMS_") and "syscall" in fields):
            _merge_syscall(data, fields)
        elif record.type == "EXECVE":
            _collect_args(data, fields, args)
        elif record.type == "PATH":
            paths.append(fields)
        else:
            others.append(record)
        for key, value in record.enriched.items():
            if key == "SYSCALL":
                data["SYSCALL"] = value
            else:
                enriched.setdefault(key, value)
    argv = _merge_args(data, args) if args else None
    if paths:
        _merge_paths(data, paths)
    for record in others:
        _merge_generic(data, record.type, record.fields)
        if record.type == "SOCKADDR":
            data.update(_sockaddr(text_of(record.fields.get("saddr"))))
    if enriched:
        data["enriched"] = enriched
    if event.envelope:
        data["envelope"] = event.envelope
    return Record(
        position=event.position,
        data=data,
        raw="\n".join(event.lines),
        time=from_epoch(first.time),
        normal=normalise(data, argv),
    )


def _merge_syscall(data: dict[str, Any], fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key in ("a0", "a1", "a2", "a3"):
            data[f"syscall_{key}"] = value
        elif key in ("syscall", "syscall_r"):
            continue
        elif key not in data:
            data[key] = value
    number = text_of(fields.get("syscall_r")) or text_of(fields.get("syscall"))
    name = text_of(fields.get("syscall"))
    if name and not name.isdigit():  # AUOMS writes the name in ``syscall``
        data.setdefault("SYSCALL", name)
        data["syscall_nr"] = text_of(fields.get("syscall_r"))
        return
    data["syscall_nr"] = number
    table = SYSCALLS.get(str(fields.get("arch", "")).lower())
    translated = table.get(int(number)) if table and number and number.isdigit() else None
    data.setdefault("SYSCALL", translated or number)


def _merge_generic(data: dict[str, Any], record_type: str, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key not in data:
            data[key] = value
        else:
            nested = data.setdefault(record_type, {})
            if isinstance(nested, dict):
                nested.setdefault(key, value)


def _collect_args(data: dict[str, Any], fields: dict[str, Any],
                  args: dict[int, dict[int, str]]) -> None:
    for key, value in fields.items():
        match = _ARG.match(key)
        if match is None:
            if key not in data:
                data[key] = value
            continue
        if match[3]:  # aN_len
            continue
        chunk = int(match[2]) if match[2] is not None else 0
        args.setdefault(int(match[1]), {})[chunk] = "" if value is None else str(value)


def _merge_args(data: dict[str, Any], args: dict[int, dict[int, str]]) -> list[str]:
    """Set ``a0`` … ``a63`` (keeping each argument's own number); return the whole argv."""
    argv: list[str] = []
    rest: list[str] = []
    for number, chunks in sorted(args.items()):
        value = "".join(chunks[index] for index in sorted(chunks))
        argv.append(value)
        if number < MAX_ARGS:
            data[f"a{number}"] = value
        else:
            rest.append(value)
    if rest:
        data["argv_rest"] = rest
    return argv


def _merge_paths(data: dict[str, Any], paths: list[dict[str, Any]]) -> None:
    main = next((item for item in paths if item.get("nametype") != "PARENT"), paths[0])
    for key, value in main.items():
        data.setdefault(key, value)
    for key in ("name", "nametype", "mode", "inode", "ouid", "ogid"):
        data.setdefault(f"path_{key}", [item.get(key) for item in paths])


def _sockaddr(saddr: str | None) -> dict[str, Any]:
    """Decode a hex ``struct sockaddr`` (family in host byte order, port in network order)."""
    if not saddr or not _HEX.fullmatch(saddr):
        return {}
    raw = bytes.fromhex(saddr)
    if len(raw) < 2:
        return {}
    family = int.from_bytes(raw[:2], "little")
    if family == 2 and len(raw) >= 8:
        return {"saddr_family": "inet", "saddr_port": int.from_bytes(raw[2:4], "big"),
                "saddr_ip": str(ipaddress.IPv4Address(raw[4:8]))}
    if family == 10 and len(raw) >= 24:
        return {"saddr_family": "inet6", "saddr_port": int.from_bytes(raw[2:4], "big"),
                "saddr_ip": str(ipaddress.IPv6Address(raw[8:24]))}
    if family == 1:
        path = raw[2:]
        abstract = path.startswith(b"\x00")
        text = decode(path[1:] if abstract else path.split(b"\x00", 1)[0])
        return {"saddr_family": "local", "saddr_path": ("@" + text) if abstract else text}
    if family == 16:
        return {"saddr_family": "netlink"}
    return {"saddr_family": str(family)}


# --------------------------------------------------------------------------------------------
# AUOMS in Azure Monitor NDJSON
# --------------------------------------------------------------------------------------------


def _auoms_row(number: int, text: str) -> Record | Rejected:
    try:
        row = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return Rejected(number, f"invalid JSON: {error}", text)
    if not isinstance(row, dict):
        return Rejected(number, "JSON line is not an object", text)
    message = row.get("SyslogMessage")
    if not isinstance(message, str):
        return Rejected(number, "JSON row without a SyslogMessage", text)
    header = find_header(message)
    if header is None:
        return Rejected(number, "SyslogMessage is not an audit record", text)
    record = parse_record(header, message[header.end():],
                          loose=header["type"].startswith("AUOMS_"))
    event = _OpenEvent(number, records=[record], lines=[text],
                       envelope={key: value for key, value in row.items()
                                 if key != "SyslogMessage"})
    return build_event(event)


# --------------------------------------------------------------------------------------------
# Normalised view
# --------------------------------------------------------------------------------------------


def normalise(data: dict[str, Any], argv: list[str] | None = None) -> dict[str, Any]:
    """The normalised view of one merged audit event (``argv``: its EXECVE arguments)."""
    syscall = text_of(data.get("SYSCALL"))
    main_type = text_of(data.get("type")) or ""
    types = data.get("record_types") or [main_type]
    cwd = text_of(data.get("cwd"))
    path = text_of(data.get("name"))
    if path and cwd and not path.startswith("/") and cwd.startswith("/"):
        path = posixpath.normpath(posixpath.join(cwd, path))
    cmdline = " ".join(argv) if argv else (text_of(data.get("cmdline"))
                                           or text_of(data.get("proctitle")))
    if cmdline is None and main_type == "USER_CMD":
        cmdline = text_of(data.get("cmd"))
    normal: dict[str, Any] = {
        "operation": (syscall or main_type) if main_type == "SYSCALL"
        or main_type.startswith("AUOMS_") else main_type,
        "category": _category(syscall, types, path),
        "outcome": _outcome(data),
        "process_pid": int_of(data.get("pid")),
        "parent_pid": int_of(data.get("ppid")),
        "process_name": _known(data.get("exe")),
        "process_cmdline": cmdline,
        "process_user": _known(data.get("user")) or _known(_enriched(data, "UID"))
        or _known(data.get("uid")),
        "actor_user": _known(data.get("audit_user")) or _known(_enriched(data, "AUID"))
        or _known(data.get("acct")) or _known(data.get("auid")),
        "actor_principal": _known(data.get("auid")),
        "actor_session": _known(data.get("ses")),
        "file_path": path,
        "host": _known(data.get("node")),
    }
    if main_type in AUTH_TYPES or main_type in ACCOUNT_TYPES:
        address = _ip(data.get("addr")) or _ip(data.get("hostname"))
        normal["src_ip"] = address
    if data.get("saddr_ip"):
        if syscall in ("accept", "accept4", "recvfrom", "recvmsg"):
            normal["src_ip"] = data["saddr_ip"]
            normal["src_port"] = int_of(data.get("saddr_port"))
        elif syscall in ("connect", "sendto", "sendmsg"):
            normal["dst_ip"] = data["saddr_ip"]
            normal["dst_port"] = int_of(data.get("saddr_port"))
    envelope = data.get("envelope")
    if isinstance(envelope, dict) and not normal["host"]:
        normal["host"] = text_of(envelope.get("Computer")) or text_of(envelope.get("hostname"))
    return normal


def _enriched(data: dict[str, Any], key: str) -> Any:
    enriched = data.get("enriched")
    return enriched.get(key) if isinstance(enriched, dict) else None


def _known(value: Any) -> str | None:
    text = text_of(value)
    return None if text is None or text in _UNSET else text


def _ip(value: Any) -> str | None:
    text = text_of(value)
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _category(syscall: str | None, types: list[str], path: str | None) -> str:
    if syscall in PROCESS_SYSCALLS or any(kind in PROCESS_TYPES for kind in types):
        return "process"
    if syscall in NETWORK_SYSCALLS or "SOCKADDR" in types:
        return "network"
    if any(kind in AUTH_TYPES for kind in types):
        return "authentication"
    if any(kind in ACCOUNT_TYPES for kind in types):
        return "account"
    if any(kind in SERVICE_TYPES for kind in types):
        return "service"
    if any(kind in CONFIG_TYPES for kind in types):
        return "configuration"
    if path or "PATH" in types:
        return "file"
    return "system"


def _outcome(data: dict[str, Any]) -> str | None:
    success = text_of(data.get("success"))
    if success in ("yes", "no"):
        return "success" if success == "yes" else "failure"
    result = (text_of(data.get("res")) or text_of(data.get("result")) or "").lower()
    if result in ("success", "1", "yes"):
        return "success"
    if result in ("failed", "failure", "0", "no"):
        return "failure"
    return None
