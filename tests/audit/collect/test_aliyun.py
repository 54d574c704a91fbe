"""Alibaba Cloud collection through the real Tea SDK and oss2, faked at the HTTP level."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.collect.conftest import SECRETS, must
from tests.audit.collect.fake_cloud import FakeAliyunRead
from trailguard.audit.collect import collect
from trailguard.audit.collect.base import CollectError
from trailguard.audit.export import ExportReader
from trailguard.audit.run import audit

TAKEN = "2026-03-02T08:00:00+00:00"
READ_PREFIXES = ("Describe", "List", "Get")

USERS = ("alice", "bob", "ci.deploy")
BUCKETS = ("audit-logs", "web-assets")
GLOBAL_FILES = {
    "GetCallerIdentity.json", "DescribeRegions.json", "ListUsers.json", "ListUsers.2.json",
    "GetAccountSummary.json", "GetSecurityPreference.json", "GetPasswordPolicy.json",
    "ListBuckets.json", "GetPublicAccessBlock.json",
    *(f"{action}-{user}.json" for user in USERS
      for action in ("ListAccessKeys", "GetLoginProfile", "ListPoliciesForUser")),
    *(f"{action}-{bucket}.json" for bucket in BUCKETS
      for action in ("GetBucketAcl", "GetBucketPolicy", "GetBucketPublicAccessBlock")),
}
HANGZHOU_FILES = {
    "DescribeSecurityGroups.json", "DescribeSecurityGroups.2.json",
    "DescribeSecurityGroupAttribute-sg-bp1web.json",
    "DescribeSecurityGroupAttribute-sg-bp1ops.json",
    "DescribeSecurityGroupAttribute-sg-bp1db.json",
    "DescribeInstances.json", "DescribeNetworkInterfaces.json",
    "DescribeNetworkInterfaces.2.json", "DescribeVpcs.json", "DescribeVSwitches.json",
    "DescribeFlowLogs.json", "DescribeTrails.json", "GetTrailStatus-audit-trail.json",
    "DescribePrefixLists.json", "DescribePrefixLists.2.json",
    *(f"DescribePrefixListAttributes-{pl}.json"
      for pl in ("pl-bp1admins", "pl-bp1office", "pl-bp1v6")),
}
SHANGHAI_FILES = {"DescribeSecurityGroups.json", "DescribeInstances.json",
                  "DescribeNetworkInterfaces.json", "DescribeVpcs.json",
                  "DescribeVSwitches.json", "DescribeFlowLogs.json", "DescribeTrails.json",
                  "DescribePrefixLists.json"}


def files(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.json"):
        if path.parent != folder:
            found.setdefault(path.parent.name, set()).add(path.name)
    return found


def test_writes_exactly_the_export_layout(tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    result = collect("aliyun", tmp_path, taken_at=TAKEN)

    assert files(tmp_path) == {"global": GLOBAL_FILES, "cn-hangzhou": HANGZHOU_FILES,
                               "cn-shanghai": SHANGHAI_FILES}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == {"provider": "aliyun", "account": "1234567890123456", "taken_at": TAKEN,
                        "regions": ["cn-hangzhou", "cn-shanghai"], "tool": "trailguard",
                        "errors": []}
    assert result.errors == []
    assert len(result.files) == sum(map(len, files(tmp_path).values()))
    assert all(action.startswith(READ_PREFIXES) for action in aliyun.actions())


def test_round_trip_gives_the_bodies_the_api_sent(tmp_path: Path,
                                                  aliyun: FakeAliyunRead) -> None:
    collect("aliyun", tmp_path, taken_at=TAKEN)
    reader = ExportReader(tmp_path)

    rpc = {action for action, _ in aliyun.answers}
    saved = sorted(json.dumps(r.body, sort_keys=True) for action in rpc
                   for r in reader.responses(action) if "Code" not in r.body)
    sent = sorted(json.dumps(body, sort_keys=True) for _, body in aliyun.answers)
    assert saved == sent  # every answer saved once, as it came (absences are not answers)
    assert reader.regions == ["cn-hangzhou", "cn-shanghai"]
    attribute = reader.body("DescribeSecurityGroupAttribute", "cn-hangzhou", "sg-bp1web")
    assert attribute is not None
    assert attribute["Permissions"]["Permission"][0]["PortRange"] == "22/22"


def test_pages_are_followed(tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    collect("aliyun", tmp_path, taken_at=TAKEN)
    reader = ExportReader(tmp_path)

    groups = [g["SecurityGroupId"] for r in reader.responses("DescribeSecurityGroups",
                                                             "cn-hangzhou")
              for g in r.body["SecurityGroups"]["SecurityGroup"]]
    assert groups == ["sg-bp1web", "sg-bp1ops", "sg-bp1db"]
    assert [r.page for r in reader.responses("ListUsers", "global")] == [1, 2]
    pages = [(a, p.get("PageNumber"), p.get("NextToken")) for _, a, p in aliyun.calls
             if a in ("DescribeSecurityGroups", "DescribeNetworkInterfaces")
             and p.get("RegionId") == "cn-hangzhou"]
    assert pages == [("DescribeSecurityGroups", "1", None), ("DescribeSecurityGroups", "2", None),
                     ("DescribeNetworkInterfaces", None, None),
                     ("DescribeNetworkInterfaces", None, "2")]


def test_absence_is_recorded_as_data(tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    collect("aliyun", tmp_path, taken_at=TAKEN)
    reader = ExportReader(tmp_path)

    assert reader.body("GetLoginProfile", "global", "bob") == {
        "LoginProfile": None, "Code": "EntityNotExist.User.LoginProfile"}
    alice = must(reader.body("GetLoginProfile", "global", "alice"))
    assert alice["LoginProfile"]["UserName"] == "alice"
    assert reader.body("GetBucketPolicy", "global", "audit-logs") == {
        "Policy": None, "Code": "NoSuchBucketPolicy"}
    assert must(reader.body("GetBucketPolicy", "global", "web-assets"))["Policy"]["Version"] == "1"
    assert reader.body("GetBucketAcl", "global", "audit-logs") == {
        "AccessControlPolicy": {"AccessControlList": {"Grant": "public-read"}}}
    assert reader.body("GetBucketPublicAccessBlock", "global", "web-assets") == {
        "PublicAccessBlockConfiguration": {"BlockPublicAccess": True}}
    bucket = must(reader.body("ListBuckets", "global"))["Buckets"]["Bucket"][0]
    assert bucket["Name"] == "audit-logs" and bucket["Region"] == "cn-hangzhou"


def test_denied_calls_go_to_the_manifest_and_collection_goes_on(
        tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    aliyun.denied |= {"DescribeFlowLogs", "GetBucketAcl"}
    result = collect("aliyun", tmp_path, ["cn-hangzhou"], taken_at=TAKEN)

    errors = {(e["region"], e["service"], e["action"], e["resource"], e["code"])
              for e in result.errors}
    assert errors == {("cn-hangzhou", "vpc", "DescribeFlowLogs", None, "Forbidden.RAM"),
                      ("global", "oss", "GetBucketAcl", "audit-logs", "AccessDenied"),
                      ("global", "oss", "GetBucketAcl", "web-assets", "AccessDenied")}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["errors"]) == 3
    written = files(tmp_path)
    assert written["cn-hangzhou"] == HANGZHOU_FILES - {"DescribeFlowLogs.json"}
    assert "DescribeRegions.json" not in written["global"]  # regions were given
    assert not any(name.startswith("GetBucketAcl") for name in written["global"])


def test_regions_given_are_the_only_ones_read(tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    collect("aliyun", tmp_path, ["cn-shanghai"], taken_at=TAKEN, oss=False)
    assert set(files(tmp_path)) == {"global", "cn-shanghai"}
    assert "DescribeRegions" not in aliyun.actions()


def test_credentials_are_never_written(tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    aliyun.denied.add("DescribeInstances")
    collect("aliyun", tmp_path, taken_at=TAKEN)
    text = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert SECRETS["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] not in text
    assert SECRETS["ALIBABA_CLOUD_ACCESS_KEY_ID"] not in text
    assert any("x-acs-signature-nonce" in h or "authorization" in {k.lower() for k in h}
               for h in aliyun.headers)  # the calls were signed


def test_failed_region_discovery_stops_collection(tmp_path: Path,
                                                  aliyun: FakeAliyunRead) -> None:
    aliyun.denied.add("DescribeRegions")
    with pytest.raises(CollectError, match="DescribeRegions"):
        collect("aliyun", tmp_path, taken_at=TAKEN)


def test_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="unknown provider"):
        collect("gcp", tmp_path)


def test_prefix_lists_are_collected_with_their_entries(tmp_path: Path,
                                                       aliyun: FakeAliyunRead) -> None:
    collect("aliyun", tmp_path, ["cn-hangzhou"], taken_at=TAKEN, oss=False)
    reader = ExportReader(tmp_path)

    listed = [pl["PrefixListId"] for r in reader.responses("DescribePrefixLists", "cn-hangzhou")
              for pl in r.body["PrefixLists"]["PrefixList"]]
    assert listed == ["pl-bp1admins", "pl-bp1office", "pl-bp1v6"]  # two pages followed
    tokens = [p.get("NextToken") for _, a, p in aliyun.calls if a == "DescribePrefixLists"]
    assert tokens == [None, "2"]
    admins = must(reader.body("DescribePrefixListAttributes", "cn-hangzhou", "pl-bp1admins"))
    assert [e["Cidr"] for e in admins["Entries"]["Entry"]] == ["0.0.0.0/0", "203.0.113.0/24"]
    v6 = must(reader.body("DescribePrefixListAttributes", "cn-hangzhou", "pl-bp1v6"))
    assert v6["AddressFamily"] == "IPv6"


def test_collected_prefix_list_rule_is_audited_with_its_cidrs(tmp_path: Path,
                                                              aliyun: FakeAliyunRead) -> None:
    aliyun.name_prefix_list()
    collect("aliyun", tmp_path, ["cn-hangzhou"], taken_at=TAKEN, oss=False)
    report = audit("aliyun", ExportReader(tmp_path))

    rdp = [f for f in report.findings if f.check == "sg-internet-admin-port"
           and f.evidence["port"] == 3389]
    assert rdp and all("prefix list pl-bp1admins: 0.0.0.0/0" in f.title for f in rdp)
    assert {f.resource for f in rdp} == {"i-bp1web/eni-bp10", "i-bp1web/eni-bp11",
                                         "i-bp1web/eni-bp12"}
    assert rdp[0].rule is not None and rdp[0].rule["prefix_list_id"] == "pl-bp1admins"
    assert not [e for e in report.errors if e["code"] == "PrefixListUnresolved"]


def test_prefix_list_not_collected_is_noted_in_the_audit(tmp_path: Path,
                                                         aliyun: FakeAliyunRead) -> None:
    aliyun.name_prefix_list()
    aliyun.denied.add("DescribePrefixListAttributes")
    result = collect("aliyun", tmp_path, ["cn-hangzhou"], taken_at=TAKEN, oss=False)
    assert {(e["action"], e["resource"]) for e in result.errors} == {
        ("DescribePrefixListAttributes", pl)
        for pl in ("pl-bp1admins", "pl-bp1office", "pl-bp1v6")}

    report = audit("aliyun", ExportReader(tmp_path))
    notes = [e for e in report.errors if e["code"] == "PrefixListUnresolved"]
    assert [(n["region"], n["action"], n["resource"]) for n in notes] == [
        ("cn-hangzhou", "DescribePrefixListAttributes", "pl-bp1admins")]  # the one rules name
    assert "sg-bp1ops" in notes[0]["message"]
    assert not [f for f in report.findings if f.check == "sg-internet-admin-port"
                and f.evidence["port"] == 3389]  # an unknown list reaches no address
