"""A provider-neutral model of security-group rules, network ACLs and network interfaces.

Parsed from the raw JSON bodies of the providers' read APIs, so that exports saved by scripts or
by the providers' own CLIs can be audited offline:

* Alibaba ECS: ``DescribeSecurityGroups``, ``DescribeSecurityGroupAttribute`` (one per group),
  ``DescribeInstances``, ``DescribeNetworkInterfaces`` and ``DescribePrefixListAttributes`` (one
  per prefix list, ``Entries.Entry[].Cidr``)
  (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-describesecuritygroupattribute).
* AWS EC2: ``DescribeSecurityGroups``, ``DescribeInstances``, ``DescribeNetworkAcls`` and
  ``GetManagedPrefixListEntries`` (one per prefix list, ``Entries[].Cidr``).

A rule that names a prefix list whose entries are known becomes one rule per CIDR of the list
(overlapping and adjacent entries collapsed, so the parts never overlap): every analysis then
sees plain CIDR rules and stays exact. Each part keeps the list's id in its peer, and
:attr:`Rule.written` gives back the rule as written. A list whose entries are not known stays a
single rule that reaches no address, and the snapshot names it in ``unresolved_prefix_lists``.

Optional fields may be missing; enumerations are normalised to lower case (Alibaba answers
``Accept``/``Drop`` while its requests use ``accept``/``drop``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from trailguard.errors import TrailGuardError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
PrefixLists = Mapping[str, Sequence[str]]
"""Prefix-list id -> the CIDRs of its entries."""

PORT_MIN = 1
PORT_MAX = 65535
ALL_PROTOCOLS = "all"
PORTED_PROTOCOLS = frozenset({"tcp", "udp"})
"""Protocols with ports; for every other protocol (ICMP, GRE, ...) the port range is ignored."""

_PROTOCOL_ALIASES = {
    "-1": ALL_PROTOCOLS, "all": ALL_PROTOCOLS,
    "6": "tcp", "tcp": "tcp",
    "17": "udp", "udp": "udp",
    "1": "icmp", "icmp": "icmp",
    "58": "icmpv6", "icmpv6": "icmpv6",
    "47": "gre", "gre": "gre",
}


class NetworkModelError(TrailGuardError):
    """A response body does not have the shape of the API it claims to come from."""


class Direction(StrEnum):
    """Traffic direction of a rule, seen from the network interface."""

    INGRESS = "ingress"
    EGRESS = "egress"


class Action(StrEnum):
    """What a rule does with the traffic it matches."""

    ACCEPT = "accept"
    DROP = "drop"


def normalise_protocol(value: object) -> str:
    """``TCP``/``tcp``/``6`` -> ``tcp``; ``ALL``/``-1`` -> ``all``; unknown numbers stay numbers."""
    text = str(value).strip().lower()
    return _PROTOCOL_ALIASES.get(text, text)


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """An inclusive port range within 1..65535."""

    low: int = PORT_MIN
    high: int = PORT_MAX

    def __post_init__(self) -> None:
        if not PORT_MIN <= self.low <= self.high <= PORT_MAX:
            raise NetworkModelError(f"invalid port range {self.low}/{self.high}")

    @classmethod
    def parse(cls, text: object, protocol: str = "tcp") -> PortRange:
        """Alibaba ``"22/22"``, ``"1/65535"`` or ``"-1/-1"`` (all ports, ICMP/GRE/ALL)."""
        if protocol not in PORTED_PROTOCOLS or text in (None, ""):
            return FULL_PORTS
        low_text, _, high_text = str(text).partition("/")
        low, high = int(low_text), int(high_text or low_text)
        return cls.clamp(low, high)

    @classmethod
    def clamp(cls, low: int | None, high: int | None) -> PortRange:
        """AWS ``FromPort``/``ToPort``: ``-1`` or missing means all; port 0 is folded into 1."""
        if low is None or high is None or low < 0 or high < 0:
            return FULL_PORTS
        return cls(max(PORT_MIN, low), max(PORT_MIN, min(PORT_MAX, high)))

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def __str__(self) -> str:
        return f"{self.low}/{self.high}"


FULL_PORTS = PortRange()


@dataclass(frozen=True, slots=True)
class Peer:
    """The other end of a rule: a CIDR, a security group or a prefix list.

    A resolved prefix list gives one peer per entry: ``cidr`` is the entry and
    ``prefix_list_id`` the list it comes from. Without ``cidr`` a prefix list reaches no address.
    """

    cidr: IPNetwork | None = None
    group_id: str | None = None
    prefix_list_id: str | None = None

    def __str__(self) -> str:
        if self.cidr is not None and self.prefix_list_id:
            return f"prefix list {self.prefix_list_id}: {self.cidr}"
        return str(self.cidr or self.group_id or self.prefix_list_id or "?")


@dataclass(frozen=True, slots=True)
class Rule:
    """One security-group rule or network-ACL entry, with a single peer.

    ``priority`` is the Alibaba priority (1..100, smaller first) or the AWS network-ACL rule
    number; it is 0 for AWS security-group rules, which have no order.
    """

    group_id: str
    direction: Direction
    protocol: str
    ports: PortRange
    peer: Peer
    action: Action = Action.ACCEPT
    priority: int = 0
    rule_id: str = ""
    description: str = ""
    created: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        """A short human reference: group, rule id or description, priority, prefix list."""
        ident = self.rule_id or self.description or "-"
        label = f"{self.group_id}/{ident} (priority {self.priority})"
        if self.peer.prefix_list_id:
            label += f" via {self.peer}" if self.peer.cidr is not None else (
                f" via prefix list {self.peer.prefix_list_id}")
        return label

    @property
    def written(self) -> Rule:
        """The rule as written: a part of a resolved prefix list gives back the whole list rule
        (the parts of one rule share it)."""
        if self.peer.prefix_list_id and self.peer.cidr is not None:
            return replace(self, peer=Peer(prefix_list_id=self.peer.prefix_list_id))
        return self

    def summary(self) -> dict[str, Any]:
        """The rule as plain data, for a finding's evidence."""
        return {
            "group_id": self.group_id, "rule_id": self.rule_id or None,
            "description": self.description or None, "direction": str(self.direction),
            "protocol": self.protocol, "port_range": str(self.ports), "peer": str(self.peer),
            "prefix_list_id": self.peer.prefix_list_id,
            "action": str(self.action), "priority": self.priority,
        }


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    """A security group. ``kind`` is ``basic``/``advanced`` (Alibaba) or ``aws``."""

    group_id: str
    rules: tuple[Rule, ...] = ()
    kind: str = "basic"
    inner_access: Action | None = None
    name: str = ""
    vpc_id: str = ""


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    """A network interface and the groups on it (an instance's primary ENI carries its groups)."""

    interface_id: str
    group_ids: tuple[str, ...]
    instance_id: str = ""
    instance_name: str = ""
    primary: bool = True
    private_ips: tuple[str, ...] = ()
    public_ips: tuple[str, ...] = ()
    subnet_id: str = ""
    vpc_id: str = ""

    @property
    def resource(self) -> str:
        if self.instance_id and self.instance_id != self.interface_id:
            return f"{self.instance_id}/{self.interface_id}"
        return self.interface_id


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    """An AWS network ACL: entries are rules whose ``priority`` is the rule number."""

    acl_id: str
    entries: tuple[Rule, ...]
    subnet_ids: tuple[str, ...] = ()
    vpc_id: str = ""
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the analyser needs about one account and region at one time."""

    provider: str
    groups: Mapping[str, SecurityGroup]
    interfaces: tuple[NetworkInterface, ...] = ()
    acls: tuple[NetworkAcl, ...] = ()
    region: str = ""
    taken_at: str = ""
    unresolved_prefix_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Prefix lists named by rules but whose entries are unknown -> the groups naming them."""

    def groups_of(self, interface: NetworkInterface) -> list[SecurityGroup]:
        """The groups on an interface, in the interface's order (unknown ids skipped)."""
        return [self.groups[g] for g in interface.group_ids if g in self.groups]


# ---------------------------------------------------------------- helpers


def _items(body: Mapping[str, Any] | None, *path: str) -> list[Any]:
    """Follow ``path`` through nested objects; missing steps give an empty list."""
    node: Any = body or {}
    for key in path:
        if not isinstance(node, Mapping):
            return []
        node = node.get(key)
    if node is None:
        return []
    if isinstance(node, list):
        return node
    return [node]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _network(text: str) -> IPNetwork | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise NetworkModelError(f"invalid CIDR {text!r}") from exc


# ---------------------------------------------------------------- prefix lists


def prefix_list_networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    """A list's entries as disjoint networks, IPv4 first (same union of addresses)."""
    networks = [n for n in (_network(_text(c)) for c in cidrs) if n is not None]
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def resolve_prefix_list(rule: Rule, prefix_lists: PrefixLists | None) -> list[Rule]:
    """One rule per CIDR of the rule's prefix list; the rule itself when it names none, or when
    the list is unknown or empty (it then reaches no address)."""
    list_id = rule.peer.prefix_list_id
    if rule.peer.cidr is not None or not list_id or not prefix_lists or list_id not in \
            prefix_lists:
        return [rule]
    return [replace(rule, peer=Peer(cidr=network, prefix_list_id=list_id))
            for network in prefix_list_networks(prefix_lists[list_id])] or [rule]


def _resolved(group: SecurityGroup, prefix_lists: PrefixLists | None) -> SecurityGroup:
    rules = tuple(part for rule in group.rules for part in resolve_prefix_list(rule, prefix_lists))
    return replace(group, rules=rules) if rules != group.rules else group


def _unresolved(groups: Mapping[str, SecurityGroup], prefix_lists: PrefixLists | None
                ) -> dict[str, tuple[str, ...]]:
    """Lists the rules name but whose entries are unknown (an empty list is known)."""
    found: dict[str, list[str]] = {}
    for group in groups.values():
        for rule in group.rules:
            list_id = rule.peer.prefix_list_id
            if list_id and rule.peer.cidr is None and list_id not in (prefix_lists or {}):
                named = found.setdefault(list_id, [])
                if group.group_id not in named:
                    named.append(group.group_id)
    return {list_id: tuple(named) for list_id, named in sorted(found.items())}


def aliyun_prefix_list_cidrs(body: Mapping[str, Any]) -> list[str]:
    """The entries' CIDRs of one DescribePrefixListAttributes body."""
    return [_text(e.get("Cidr")) for e in _items(body, "Entries", "Entry")
            if isinstance(e, Mapping) and _text(e.get("Cidr"))]


def aws_prefix_list_cidrs(body: Mapping[str, Any]) -> list[str]:
    """The entries' CIDRs of one GetManagedPrefixListEntries body."""
    return [_text(e.get("Cidr")) for e in _items(body, "Entries")
            if isinstance(e, Mapping) and _text(e.get("Cidr"))]


# ---------------------------------------------------------------- Alibaba

_ALIYUN_PEER_FIELDS = {
    Direction.INGRESS: ("SourceCidrIp", "Ipv6SourceCidrIp", "SourceGroupId", "SourcePrefixListId"),
    Direction.EGRESS: ("DestCidrIp", "Ipv6DestCidrIp", "DestGroupId", "DestPrefixListId"),
}


def aliyun_peer(permission: Mapping[str, Any], direction: Direction) -> Peer:
    """A CIDR wins over a group, which wins over a prefix list (AuthorizeSecurityGroup docs)."""
    v4, v6, group, prefix_list = (_text(permission.get(k)) for k in _ALIYUN_PEER_FIELDS[direction])
    cidr = _network(v4) or _network(v6)
    if cidr is not None:
        return Peer(cidr=cidr)
    if group:
        return Peer(group_id=group)
    return Peer(prefix_list_id=prefix_list or None)


def aliyun_rule(group_id: str, permission: Mapping[str, Any]) -> Rule:
    """One ``Permissions.Permission[]`` item of DescribeSecurityGroupAttribute."""
    direction = Direction(_text(permission.get("Direction")).lower() or "ingress")
    protocol = normalise_protocol(permission.get("IpProtocol") or "all")
    priority = int(_text(permission.get("Priority")) or 1)  # the API default is 1
    return Rule(
        group_id=group_id, direction=direction, protocol=protocol,
        ports=PortRange.parse(permission.get("PortRange"), protocol),
        peer=aliyun_peer(permission, direction),
        action=Action(_text(permission.get("Policy")).lower() or "accept"),
        priority=priority, rule_id=_text(permission.get("SecurityGroupRuleId")),
        description=_text(permission.get("Description")),
        created=_text(permission.get("CreateTime") or permission.get("CreationTime")),
        raw=dict(permission),
    )


def aliyun_group(attribute: Mapping[str, Any], group_type: str = "") -> SecurityGroup:
    """A DescribeSecurityGroupAttribute body; ``group_type`` from DescribeSecurityGroups."""
    group_id = _text(attribute.get("SecurityGroupId"))
    if not group_id:
        raise NetworkModelError("DescribeSecurityGroupAttribute body without SecurityGroupId")
    kind = "advanced" if group_type.lower() == "enterprise" else "basic"
    inner_text = _text(attribute.get("InnerAccessPolicy")).lower()
    inner = Action(inner_text) if inner_text in ("accept", "drop") else None
    if kind == "advanced":
        inner = Action.DROP  # advanced groups always isolate their members
    elif inner is None:
        inner = Action.ACCEPT  # the basic-group default
    rules = tuple(aliyun_rule(group_id, p) for p in _items(attribute, "Permissions", "Permission"))
    return SecurityGroup(group_id=group_id, rules=rules, kind=kind, inner_access=inner,
                         name=_text(attribute.get("SecurityGroupName")),
                         vpc_id=_text(attribute.get("VpcId")))


def _group_ids(node: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_text(g) for g in _items(node, "SecurityGroupIds", "SecurityGroupId") if g)


def _aliyun_instance_interfaces(instance: Mapping[str, Any]) -> list[NetworkInterface]:
    instance_id = _text(instance.get("InstanceId"))
    name = _text(instance.get("InstanceName"))
    public = [_text(a) for a in _items(instance, "PublicIpAddress", "IpAddress")]
    eip = _text((instance.get("EipAddress") or {}).get("IpAddress"))
    public_ips = tuple(a for a in [*public, eip] if a)
    vpc = instance.get("VpcAttributes") or {}
    enis = _items(instance, "NetworkInterfaces", "NetworkInterface")
    if not enis:
        enis = [{"NetworkInterfaceId": instance_id, "Type": "Primary",
                 "PrimaryIpAddress": next(iter(_items(vpc, "PrivateIpAddress", "IpAddress")), "")}]
    result = []
    for eni in enis:
        primary = _text(eni.get("Type") or "Primary").lower() == "primary"
        result.append(NetworkInterface(
            interface_id=_text(eni.get("NetworkInterfaceId")) or instance_id,
            group_ids=_group_ids(instance) if primary else (),
            instance_id=instance_id, instance_name=name, primary=primary,
            private_ips=tuple(a for a in [_text(eni.get("PrimaryIpAddress"))] if a),
            public_ips=public_ips if primary else (),
            subnet_id=_text(vpc.get("VSwitchId")), vpc_id=_text(vpc.get("VpcId")),
        ))
    return result


def aliyun_interfaces(instances: Mapping[str, Any] | None,
                      network_interfaces: Mapping[str, Any] | None = None
                      ) -> tuple[NetworkInterface, ...]:
    """Interfaces from DescribeInstances, with each ENI's own groups from DescribeNetworkInterfaces.

    A primary ENI carries the instance's groups; a secondary ENI carries its own groups, which only
    DescribeNetworkInterfaces reports.
    """
    by_id: dict[str, NetworkInterface] = {}
    for instance in _items(instances, "Instances", "Instance"):
        for eni in _aliyun_instance_interfaces(instance):
            by_id[eni.interface_id] = eni
    for item in _items(network_interfaces, "NetworkInterfaceSets", "NetworkInterfaceSet"):
        eni_id = _text(item.get("NetworkInterfaceId"))
        known = by_id.get(eni_id)
        public = _text((item.get("AssociatedPublicIp") or {}).get("PublicIpAddress"))
        primary = _text(item.get("Type") or "Secondary").lower() == "primary"
        by_id[eni_id] = NetworkInterface(
            interface_id=eni_id,
            group_ids=_group_ids(item) or (known.group_ids if known else ()),
            instance_id=_text(item.get("InstanceId")) or (known.instance_id if known else ""),
            instance_name=known.instance_name if known else "",
            primary=primary,
            private_ips=tuple(a for a in [_text(item.get("PrivateIpAddress"))] if a)
            or (known.private_ips if known else ()),
            public_ips=tuple(dict.fromkeys([*(known.public_ips if known else ()),
                                            *([public] if public else [])])),
            subnet_id=_text(item.get("VSwitchId")) or (known.subnet_id if known else ""),
            vpc_id=_text(item.get("VpcId")) or (known.vpc_id if known else ""),
        )
    return tuple(by_id.values())


def parse_aliyun(attributes: Iterable[Mapping[str, Any]],
                 security_groups: Mapping[str, Any] | None = None,
                 instances: Mapping[str, Any] | None = None,
                 network_interfaces: Mapping[str, Any] | None = None,
                 region: str = "", taken_at: str = "",
                 prefix_lists: PrefixLists | None = None) -> Snapshot:
    """A snapshot from Alibaba ECS bodies (one DescribeSecurityGroupAttribute per group);
    ``prefix_lists`` resolves the rules naming a prefix list (see
    :func:`aliyun_prefix_list_cidrs`)."""
    types = {_text(g.get("SecurityGroupId")): _text(g.get("SecurityGroupType"))
             for g in _items(security_groups, "SecurityGroups", "SecurityGroup")}
    groups = {}
    for body in attributes:
        group = aliyun_group(body, types.get(_text(body.get("SecurityGroupId")), ""))
        groups[group.group_id] = _resolved(group, prefix_lists)
    return Snapshot(provider="aliyun", groups=groups,
                    interfaces=aliyun_interfaces(instances, network_interfaces),
                    region=region, taken_at=taken_at,
                    unresolved_prefix_lists=_unresolved(groups, prefix_lists))


# ---------------------------------------------------------------- AWS


def _aws_permission_rules(group_id: str, permission: Mapping[str, Any],
                          direction: Direction) -> list[Rule]:
    protocol = normalise_protocol(permission.get("IpProtocol", "-1"))
    ports = (PortRange.clamp(permission.get("FromPort"), permission.get("ToPort"))
             if protocol in PORTED_PROTOCOLS else FULL_PORTS)
    peers: list[tuple[Peer, str]] = []
    peers += [(Peer(cidr=_network(_text(r.get("CidrIp")))), _text(r.get("Description")))
              for r in _items(permission, "IpRanges")]
    peers += [(Peer(cidr=_network(_text(r.get("CidrIpv6")))), _text(r.get("Description")))
              for r in _items(permission, "Ipv6Ranges")]
    peers += [(Peer(group_id=_text(r.get("GroupId"))), _text(r.get("Description")))
              for r in _items(permission, "UserIdGroupPairs")]
    peers += [(Peer(prefix_list_id=_text(r.get("PrefixListId"))), _text(r.get("Description")))
              for r in _items(permission, "PrefixListIds")]
    # The id names what the rule was written with (a prefix list's parts share it).
    return [Rule(group_id=group_id, direction=direction, protocol=protocol, ports=ports,
                 peer=peer, action=Action.ACCEPT, priority=0,
                 rule_id=f"{direction}:{protocol}:{ports}:{peer}", description=description,
                 raw=dict(permission)) for peer, description in peers]


def aws_group(body: Mapping[str, Any]) -> SecurityGroup:
    """One ``SecurityGroups[]`` item of DescribeSecurityGroups (allow-only rules)."""
    group_id = _text(body.get("GroupId"))
    rules: list[Rule] = []
    for permission in _items(body, "IpPermissions"):
        rules += _aws_permission_rules(group_id, permission, Direction.INGRESS)
    for permission in _items(body, "IpPermissionsEgress"):
        rules += _aws_permission_rules(group_id, permission, Direction.EGRESS)
    return SecurityGroup(group_id=group_id, rules=tuple(rules), kind="aws",
                         name=_text(body.get("GroupName")), vpc_id=_text(body.get("VpcId")))


def aws_acl_entry(acl_id: str, entry: Mapping[str, Any]) -> Rule:
    """One ``Entries[]`` item of DescribeNetworkAcls (rule number 32767 is the ``*`` rule)."""
    protocol = normalise_protocol(entry.get("Protocol", "-1"))
    port_range = entry.get("PortRange") or {}
    ports = (PortRange.clamp(port_range.get("From"), port_range.get("To"))
             if protocol in PORTED_PROTOCOLS and port_range else FULL_PORTS)
    cidr = _network(_text(entry.get("CidrBlock"))) or _network(_text(entry.get("Ipv6CidrBlock")))
    number = int(entry.get("RuleNumber", 32767))
    direction = Direction.EGRESS if entry.get("Egress") else Direction.INGRESS
    return Rule(group_id=acl_id, direction=direction, protocol=protocol, ports=ports,
                peer=Peer(cidr=cidr), action=Action.ACCEPT if _text(
                    entry.get("RuleAction")).lower() == "allow" else Action.DROP,
                priority=number, rule_id="*" if number == 32767 else str(number), raw=dict(entry))


def aws_acl(body: Mapping[str, Any]) -> NetworkAcl:
    """One ``NetworkAcls[]`` item of DescribeNetworkAcls."""
    acl_id = _text(body.get("NetworkAclId"))
    entries = tuple(aws_acl_entry(acl_id, e) for e in _items(body, "Entries"))
    subnets = tuple(_text(a.get("SubnetId")) for a in _items(body, "Associations"))
    return NetworkAcl(acl_id=acl_id, entries=entries, subnet_ids=subnets,
                      vpc_id=_text(body.get("VpcId")), is_default=bool(body.get("IsDefault")))


def aws_interfaces(instances: Mapping[str, Any] | None) -> tuple[NetworkInterface, ...]:
    """ENIs of DescribeInstances (an instance without NetworkInterfaces gets one)."""
    result: list[NetworkInterface] = []
    for reservation in _items(instances, "Reservations"):
        for instance in _items(reservation, "Instances"):
            instance_id = _text(instance.get("InstanceId"))
            name = next((_text(t.get("Value")) for t in _items(instance, "Tags")
                         if t.get("Key") == "Name"), "")
            enis: Sequence[Mapping[str, Any]] = _items(instance, "NetworkInterfaces") or [{
                "NetworkInterfaceId": instance_id, "Groups": instance.get("SecurityGroups") or [],
                "SubnetId": instance.get("SubnetId"), "PrivateIpAddress":
                instance.get("PrivateIpAddress"),
                "Association": {"PublicIp": instance.get("PublicIpAddress")}}]
            for eni in enis:
                attachment = eni.get("Attachment") or {}
                public = _text((eni.get("Association") or {}).get("PublicIp"))
                result.append(NetworkInterface(
                    interface_id=_text(eni.get("NetworkInterfaceId")) or instance_id,
                    group_ids=tuple(_text(g.get("GroupId")) for g in _items(eni, "Groups")),
                    instance_id=instance_id, instance_name=name,
                    primary=int(attachment.get("DeviceIndex", 0) or 0) == 0,
                    private_ips=tuple(a for a in [_text(eni.get("PrivateIpAddress"))] if a),
                    public_ips=tuple(a for a in [public] if a),
                    subnet_id=_text(eni.get("SubnetId") or instance.get("SubnetId")),
                    vpc_id=_text(eni.get("VpcId") or instance.get("VpcId")),
                ))
    return tuple(result)


def parse_aws(security_groups: Mapping[str, Any], instances: Mapping[str, Any] | None = None,
              network_acls: Mapping[str, Any] | None = None, region: str = "",
              taken_at: str = "", prefix_lists: PrefixLists | None = None) -> Snapshot:
    """A snapshot from AWS EC2 response bodies; ``prefix_lists`` resolves the rules naming a
    managed prefix list (see :func:`aws_prefix_list_cidrs`)."""
    groups = {g.group_id: _resolved(g, prefix_lists)
              for g in map(aws_group, _items(security_groups, "SecurityGroups"))}
    acls = tuple(aws_acl(a) for a in _items(network_acls, "NetworkAcls"))
    return Snapshot(provider="aws", groups=groups, interfaces=aws_interfaces(instances),
                    acls=acls, region=region, taken_at=taken_at,
                    unresolved_prefix_lists=_unresolved(groups, prefix_lists))
