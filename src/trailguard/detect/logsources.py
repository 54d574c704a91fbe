"""Which rows of the case serve a Sigma logsource, and under which field names.

A Sigma rule names a logsource (product, category, service); TrailGuard answers with *routes*: a
source table, the rows of it that belong to the logsource (Windows channel and event ids, a
syslog program, a Zeek log), and how Sigma field names map to the table's columns. A rule only
ever scans the rows of its routes.

The catalogue is data. A logsource matches an entry when product, category and service are all
equal (an entry's None stands for "not given"). Routes whose table keeps the event's native names
(`fields is None`) resolve any field by name, case-insensitively; a route with a field map serves
only rules whose fields are all in it (e.g. Security 4688 for Sysmon-style process_creation rules,
as Hayabusa does), so a rule is never half-applied to an event that cannot carry its fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sigma.pipelines.common import windows_logsource_mapping
from sigma.rule import SigmaLogSource

WINDOWS_TABLES = ("evtx", "windows_json")
SYSMON = "Microsoft-Windows-Sysmon/Operational"


@dataclass(frozen=True)
class Route:
    """Rows of some source tables that serve a logsource."""

    label: str
    source_types: tuple[str, ...]
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()  # column IN (values), all must hold
    fields: Mapping[str, str] | None = None  # Sigma field -> column; None: native names
    aliases: Mapping[str, str] = field(default_factory=dict)  # extra names on native tables
    lists: frozenset[str] = frozenset()  # Sigma fields holding a JSON list of strings
    fulltext: str = "columns"  # "raw": the record as read; "columns": every native value


@dataclass(frozen=True)
class Entry:
    product: str | None
    category: str | None
    service: str | None
    routes: tuple[Route, ...] = field(default_factory=tuple)


# --- Windows --------------------------------------------------------------------------------

SYSMON_CATEGORIES: dict[str, tuple[str, ...]] = {
    "process_creation": ("1",),
    "file_change": ("2",),
    "network_connection": ("3",),
    "sysmon_status": ("4", "16"),
    "process_termination": ("5",),
    "driver_load": ("6",),
    "image_load": ("7",),
    "create_remote_thread": ("8",),
    "raw_access_thread": ("9",),
    "process_access": ("10",),
    "file_event": ("11",),
    "registry_add": ("12",),
    "registry_delete": ("12",),
    "registry_set": ("13",),
    "registry_rename": ("14",),
    "registry_event": ("12", "13", "14"),
    "create_stream_hash": ("15",),
    "pipe_created": ("17", "18"),
    "wmi_event": ("19", "20", "21"),
    "dns_query": ("22",),
    "file_delete": ("23", "26"),
    "clipboard_capture": ("24",),
    "process_tampering": ("25",),
    "file_delete_detected": ("26",),
    "file_block_executable": ("27",),
    "file_block_shredding": ("28",),
    "file_executable_detected": ("29",),
    "sysmon_error": ("255",),
}

# Built-in Windows logs that serve a Sysmon-style category, with their own event ids.
POWERSHELL = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")
WINDOWS_BUILTIN_CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ps_module": (POWERSHELL, ("4103",)),
    "ps_script": (POWERSHELL, ("4104",)),
    "ps_classic_start": (("Windows PowerShell",), ("400",)),
    "ps_classic_provider_start": (("Windows PowerShell",), ("600",)),
    "ps_classic_script": (("Windows PowerShell",), ("800",)),
}

# Security 4688 carries a subset of Sysmon's process_creation fields under other names.
SECURITY_4688_FIELDS = {
    "Image": "NewProcessName",
    "ParentImage": "ParentProcessName",
    "CommandLine": "CommandLine",
    "EventID": "EventID",
    "Channel": "Channel",
    "Provider_Name": "Provider_Name",
    "Computer": "Computer",
    "SubjectUserName": "SubjectUserName",
    "TargetUserName": "TargetUserName",
}


# Services SigmaHQ uses that pySigma's table does not name.
EXTRA_WINDOWS_SERVICES: dict[str, str | list[str]] = {
    "smbserver-connectivity": "Microsoft-Windows-SMBServer/Connectivity",
    "smbserver-security": "Microsoft-Windows-SMBServer/Security",
    "smbclient-connectivity": "Microsoft-Windows-SmbClient/Connectivity",
}


def _windows_entries() -> list[Entry]:
    entries = [Entry("windows", None, None, (Route("windows", WINDOWS_TABLES),))]
    services = {**EXTRA_WINDOWS_SERVICES, **windows_logsource_mapping}
    for service, channels in services.items():
        values = (channels,) if isinstance(channels, str) else tuple(channels)
        route = Route(f"windows/{service}", WINDOWS_TABLES, (("Channel", values),))
        entries.append(Entry("windows", None, service, (route,)))
    for category, event_ids in SYSMON_CATEGORIES.items():
        routes = [
            Route(
                f"sysmon/{category}",
                WINDOWS_TABLES,
                (("Channel", (SYSMON,)), ("EventID", event_ids)),
            )
        ]
        if category == "process_creation":
            routes.append(
                Route(
                    "security/4688",
                    WINDOWS_TABLES,
                    (("Channel", ("Security",)), ("EventID", ("4688",))),
                    fields=SECURITY_4688_FIELDS,
                )
            )
        entries.append(Entry("windows", category, None, tuple(routes)))
    for category, (channels, event_ids) in WINDOWS_BUILTIN_CATEGORIES.items():
        route = Route(
            f"windows/{category}", WINDOWS_TABLES, (("Channel", channels), ("EventID", event_ids))
        )
        entries.append(Entry("windows", category, None, (route,)))
    return entries


# --- Linux ----------------------------------------------------------------------------------

LINUX_SYSMON_CATEGORIES = ("process_creation", "network_connection", "file_event",
                           "file_delete", "process_termination", "raw_access_thread",
                           "process_access", "file_change")
LINUX_TABLES = ("syslog", "auditd", "sysmon_linux", "shell_history")

# auditd EXECVE events carry an executable and its arguments but no parent image.
AUDITD_PROCESS_FIELDS = {
    "Image": "exe",
    "CommandLine": "proctitle",
    "CurrentDirectory": "cwd",
    "ProcessId": "pid",
    "ParentProcessId": "ppid",
    "LogonId": "ses",
}

AUTH_PROGRAMS = (
    "sshd", "sshd-session", "sshd-auth", "sudo", "su", "login", "passwd", "useradd", "usermod",
    "userdel", "groupadd", "groupdel", "groupmod", "gpasswd", "chpasswd", "chage",
    "systemd-logind", "polkitd", "pkexec", "unix_chkpwd", "dropbear", "vsftpd", "cron", "crond",
    "newgrp", "chsh", "chfn",
)
SYSLOG_SERVICE_PROGRAMS: dict[str, tuple[str, ...]] = {
    "auth": AUTH_PROGRAMS,
    "sshd": ("sshd", "sshd-session", "sshd-auth"),  # OpenSSH 9.8 split sshd
    "sudo": ("sudo",),
    "cron": ("cron", "crond", "anacron"),
    "vsftpd": ("vsftpd",),
    "clamav": ("clamd", "freshclam", "clamav", "clamscan"),
    "guacamole": ("guacd", "guacamole"),
}


def _auditd() -> Route:
    """A joined auditd event has one `type` (its first record's); Sigma's `type: EXECVE` asks
    whether any record of the event is of that type, so `type` reads the list of them."""
    return Route("linux/auditd", ("auditd",), aliases={"type": "record_types"},
                 lists=frozenset({"type"}))


def _linux_entries() -> list[Entry]:
    entries = [
        Entry("linux", None, None, (
            Route("linux/syslog", ("syslog",), fulltext="raw"),
            _auditd(),
            Route("linux/sysmon", ("sysmon_linux",)),
            Route("linux/shell_history", ("shell_history",), fulltext="raw"),
        )),
        Entry("linux", None, "auditd", (
            _auditd(),
        )),
        Entry("linux", None, "syslog", (Route("linux/syslog", ("syslog",), fulltext="raw"),)),
    ]
    for service, programs in SYSLOG_SERVICE_PROGRAMS.items():
        route = Route(f"linux/{service}", ("syslog",), (("program", programs),), fulltext="raw")
        entries.append(Entry("linux", None, service, (route,)))
    for category in LINUX_SYSMON_CATEGORIES:
        routes = [Route(
            f"linux-sysmon/{category}",
            ("sysmon_linux",),
            (("EventID", SYSMON_CATEGORIES[category]),),
        )]
        if category == "process_creation":
            routes.append(Route(
                "linux-auditd/execve",
                ("auditd",),
                (("SYSCALL", ("execve", "execveat")),),
                fields=AUDITD_PROCESS_FIELDS,
            ))
        entries.append(Entry("linux", category, None, tuple(routes)))
    return entries


# --- cloud, Kubernetes, network, web ----------------------------------------------------------

# SigmaHQ's Kubernetes rules use a few short names for audit-event paths.
KUBERNETES_ALIASES = {
    "apiGroup": "objectRef.apiGroup",
    "hostPath": "requestObject.spec.volumes",
    "capabilities": "requestObject.spec.containers",
}

# Sigma's generic network categories over the flows and DNS logs TrailGuard ingests.
FIREWALL_ALIASES = {"src_ip": "srcaddr", "dst_ip": "dstaddr", "src_port": "srcport",
                    "dst_port": "dstport"}
DNS_ALIASES = {"answer": "answers", "record_type": "qtype_name"}

ZEEK_SERVICES = ("conn", "dns", "http", "smb_files", "smb_mapping", "dce_rpc", "x509", "rdp",
                 "kerberos", "ssl", "ssh", "files", "notice", "weird", "ntlm", "ftp", "smtp",
                 "dhcp", "tunnel", "software", "pe", "intel")


def _web_error(software: str) -> Route:
    return Route(f"{software}/error", ("web_error",), (("software", (software,)),),
                 fulltext="raw")


def _other_entries() -> list[Entry]:
    cloudtrail = Route("aws/cloudtrail", ("cloudtrail",))
    actiontrail = Route("alibaba_cloud/actiontrail", ("actiontrail",))
    kubernetes = Route("kubernetes/audit", ("k8s_audit",), aliases=KUBERNETES_ALIASES)
    web = Route("webserver", ("web_access",), fulltext="raw")
    entries = [
        Entry("aws", None, "cloudtrail", (cloudtrail,)),
        Entry("alibaba_cloud", None, "actiontrail", (actiontrail,)),
        Entry("alibaba", None, "actiontrail", (actiontrail,)),
        Entry("kubernetes", None, "audit", (kubernetes,)),
        Entry("kubernetes", "application", "audit", (kubernetes,)),
        Entry(None, "webserver", None, (web,)),
        Entry(None, None, "apache", (web, _web_error("apache"))),
        Entry(None, None, "nginx", (web, _web_error("nginx"))),
        Entry("zeek", None, None, (Route("zeek", ("zeek",)),)),
        Entry(None, "firewall", None, (
            Route("firewall/vpcflow", ("vpcflow_aliyun", "vpcflow_aws"),
                  aliases=FIREWALL_ALIASES),
        )),
        Entry(None, "dns", None, (
            Route("dns/zeek", ("zeek",), (("_path", ("dns",)),), aliases=DNS_ALIASES),
        )),
    ]
    for service in ZEEK_SERVICES:
        route = Route(f"zeek/{service}", ("zeek",), (("_path", (service,)),))
        entries.append(Entry("zeek", None, service, (route,)))
    return entries


CATALOGUE: tuple[Entry, ...] = tuple(_windows_entries() + _linux_entries() + _other_entries())
_BY_KEY: dict[tuple[str | None, str | None, str | None], Entry] = {
    (entry.product, entry.category, entry.service): entry for entry in CATALOGUE
}


def _key(value: str | None) -> str | None:
    return value.lower() if value else None


def routes_for(logsource: SigmaLogSource) -> tuple[Route, ...]:
    """The routes serving a rule's logsource; empty when no ingested source serves it."""
    key = (_key(logsource.product), _key(logsource.category), _key(logsource.service))
    entry = _BY_KEY.get(key)
    if entry is not None:
        return entry.routes
    product, category, service = key
    if product == "linux" and service and category is None:
        # Any other Linux service is a syslog program of that name (e.g. `service: vsftpd`).
        return (Route(f"linux/{service}", ("syslog",), (("program", (service,)),), fulltext="raw"),)
    return ()


def describe(logsource: SigmaLogSource) -> str:
    parts = [
        f"{name}: {value}"
        for name, value in (
            ("product", logsource.product),
            ("category", logsource.category),
            ("service", logsource.service),
        )
        if value
    ]
    return "{" + ", ".join(parts) + "}"
