"""Kubernetes audit parser: fixtures, Panther's EKS audit test events, sniffing, hostile input."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers.k8s_audit import KubernetesAuditParser, is_audit_event
from trailguard.store.schema import INTEGER_COLUMNS, NORMAL_COLUMNS

ParseFixture = Callable[..., Parsed]
SniffFixture = Callable[..., "str | None"]

#: Sigma kubernetes rules use these short names, which are not audit-event fields (they
#: belong in the rule engine's field mapping: objectRef.apiGroup, requestObject…hostPath …).
SIGMA_NON_NATIVE = {"apiGroup", "hostPath", "capabilities"}


def _fixture(fixtures: Path, name: str) -> bytes:
    return (fixtures / "k8s_audit" / name).read_bytes()


def _flat_keys(value: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of a nested mapping, as the store flattens them."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat_keys(inner, f"{prefix}{key}.")
    if prefix:
        yield prefix[:-1]


def _check_normal(record: Record) -> None:
    for column, value in record.normal.items():
        assert column in NORMAL_COLUMNS
        assert isinstance(value, int if column in INTEGER_COLUMNS else str), column


def test_json_lines_events_and_normalised_view(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("k8s_audit", _fixture(fixtures, "audit.log"))
    assert not parsed.rejected
    assert [r.position for r in parsed.records] == [1, 2, 3, 4, 5]
    received, started, secrets, pod, version = parsed.records
    for record in parsed.records:
        _check_normal(record)
        assert record.normal["category"] == "api"
        assert record.normal["cloud_service"] == "kubernetes"
    assert received.key == "k8s:6f2a0c3e-1b7d-4c59-9a8e-0d1f2b3c4d5e:RequestReceived"
    assert started.key == "k8s:6f2a0c3e-1b7d-4c59-9a8e-0d1f2b3c4d5e:ResponseStarted"
    assert received.normal["operation"] == "create pods/exec"
    assert received.normal["outcome"] == "unknown"  # no response yet at this stage
    assert received.normal["actor_user"] == "alice@example.com"
    assert received.normal["actor_access_key"] == "AKIAIOSFODNN7EXAMPLE"
    assert received.normal["resource"] == "default/web-0"
    assert received.normal["src_ip"] == "203.0.113.7"
    assert started.time == datetime(2024, 3, 1, 10, 0, 0, 180000)  # stageTimestamp
    assert started.normal["outcome"] == "success"
    assert started.data["annotations"]["authorization.k8s.io/decision"] == "allow"
    assert secrets.normal["operation"] == "list secrets"
    assert secrets.normal["outcome"] == "failure"
    assert secrets.normal["error_code"] == "403"
    assert secrets.normal["message"].startswith("secrets is forbidden")
    assert "resource" not in secrets.normal  # cluster-wide list: no namespace, no name
    assert pod.normal["resource"] == "kube-system/debug"
    assert pod.data["requestObject"]["spec"]["hostPID"] is True
    assert pod.normal["src_ip"] == "203.0.113.7"  # the first of sourceIPs
    assert version.normal["operation"] == "get /version"  # non-resource request
    assert version.normal["actor_user"] == "system:anonymous"
    assert json.loads(pod.raw)["auditID"] == pod.data["auditID"]


def test_event_list_document(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("k8s_audit", _fixture(fixtures, "eventlist.json"))
    assert not parsed.rejected
    assert [r.position for r in parsed.records] == [1, 2]
    binding, token = parsed.records
    assert binding.normal["operation"] == "create clusterrolebindings"
    assert binding.normal["resource"] == "backdoor-admin"
    assert binding.data["objectRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert token.normal["operation"] == "create serviceaccounts/token"
    assert token.time == datetime(2024, 3, 2, 8, 16, 2, 4000)
    assert json.loads(token.raw)["auditID"] == "c0ffee00-7777-4888-9999-aaaabbbbcccc"


def test_json_array_and_missing_timestamps(parse: ParseFixture) -> None:
    data = json.dumps([
        {"kind": "Event", "verb": "get", "requestURI": "/healthz"},
        {"apiVersion": "audit.k8s.io/v1", "auditID": "a", "stage": "ResponseComplete",
         "requestReceivedTimestamp": "2022-11-29 00:09:04.38"},
    ]).encode()
    parsed = parse("k8s_audit", data)
    assert [r.position for r in parsed.records] == [1, 2]
    assert parsed.records[0].time is None
    assert parsed.records[0].key is None  # no auditID: no natural key
    assert parsed.records[1].time == datetime(2022, 11, 29, 0, 9, 4, 380000)


def test_other_json_is_rejected_never_dropped(parse: ParseFixture) -> None:
    core_event = {"kind": "Event", "apiVersion": "v1", "reason": "BackOff",
                  "involvedObject": {"kind": "Pod", "name": "web-0"}}
    lines = [json.dumps(core_event), "{not json", "42",
             json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get"})]
    parsed = parse("k8s_audit", "\n".join(lines).encode())
    assert [r.position for r in parsed.records] == [4]
    assert [r.position for r in parsed.rejected] == [1, 2, 3]
    assert "not a Kubernetes audit event" in parsed.rejected[0].reason


def test_is_audit_event() -> None:
    assert is_audit_event({"apiVersion": "audit.k8s.io/v1beta1", "kind": "Event"})
    assert is_audit_event({"kind": "Event", "verb": "create"})
    assert is_audit_event({"auditID": "x", "stage": "ResponseComplete"})
    assert not is_audit_event({"kind": "Event", "apiVersion": "v1", "verb": "x"})
    assert not is_audit_event({"kind": "Event"})
    assert not is_audit_event(["verb"])




@pytest.mark.parametrize("sample", [
    b'{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "X"}',
    b'{"kind": "Event", "apiVersion": "v1", "reason": "Killing", "message": "Stopping"}',
    b'{"protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.core.v1.pods.create"}}',
    b'{"category": "kube-audit", "properties": {"log": "{\\"kind\\":\\"Event\\",'
    b'\\"apiVersion\\":\\"audit.k8s.io/v1\\",\\"verb\\":\\"get\\"}"}}',
    b'{"ts": 1.5, "uid": "C1", "id.orig_h": "10.0.0.1"}',
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326',
])
def test_other_formats_not_claimed(sample: bytes) -> None:
    assert KubernetesAuditParser.sniff(sample, "events.json") == 0


def test_sniffs_an_event_larger_than_the_head() -> None:
    head = (b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","requestObject":{"data":"'
            + b"A" * 70000)[:65536]
    assert KubernetesAuditParser.sniff(head, "audit.log") >= 80


def test_sigma_kubernetes_rule_fields_are_native_paths(parse: ParseFixture, fixtures: Path,
                                                       shared_data: Path) -> None:
    """The fields Sigma's kubernetes audit rules test exist as dotted paths in parsed events."""
    yaml = pytest.importorskip("yaml")
    rules = sorted((shared_data / "sigma" / "rules" / "application" / "kubernetes").rglob(
        "*.yml"))
    assert rules
    wanted: set[str] = set()
    for path in rules:
        detection = yaml.safe_load(path.read_text())["detection"]
        for name, block in detection.items():
            if name != "condition" and isinstance(block, dict):
                wanted |= {key.split("|")[0] for key in block}
    paths: set[str] = set()
    for name in ("audit.log", "eventlist.json"):
        for record in parse("k8s_audit", _fixture(fixtures, name)).records:
            paths |= set(_flat_keys(record.data))
    assert wanted - SIGMA_NON_NATIVE <= paths
    assert {"verb", "objectRef.resource", "responseStatus.code"} <= wanted


def _panther_eks_events(shared_data: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Panther's test events split into EKS audit events and others (Azure/GCP variants)."""
    yaml = pytest.importorskip("yaml")
    root = shared_data / "panther" / "rules"
    eks: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for path in sorted([*root.glob("aws_eks_rules/*.yml"), *root.glob("kubernetes_rules/*.yml")]):
        rule = yaml.safe_load(path.read_text())
        log_types = rule.get("LogTypes") or []
        for test in rule.get("Tests") or []:
            log = test.get("Log")
            if not isinstance(log, dict):
                continue
            log_type = log.get("p_log_type") or (log_types[0] if len(log_types) == 1 else None)
            (eks if log_type == "Amazon.EKS.Audit" else other).append(log)
    return eks, other


def test_panther_eks_audit_events(parse: ParseFixture, shared_data: Path,
                                  tmp_path: Path) -> None:
    eks, other = _panther_eks_events(shared_data)
    assert len(eks) == 188
    evidence = tmp_path / "eks_audit.jsonl"
    evidence.write_text("".join(json.dumps(event) + "\n" for event in eks))
    data = evidence.read_bytes()
    assert KubernetesAuditParser.sniff(data[:65536], evidence.name) >= 80
    parsed = parse("k8s_audit", data, name=evidence.name)
    assert len(parsed.records) == len(eks)
    assert not parsed.rejected
    operations = [r.normal.get("operation") for r in parsed.records]
    assert operations.count("create pods/exec") >= 10
    assert sum(r.normal["outcome"] == "failure" for r in parsed.records) >= 30
    for record in parsed.records:
        _check_normal(record)
    # Azure Monitor and GCP audit-log variants of the same rules are other formats.
    foreign = "".join(json.dumps(event) + "\n" for event in other).encode()
    assert other
    assert KubernetesAuditParser.sniff(foreign[:65536], "other.jsonl") == 0
    assert not parse("k8s_audit", foreign).records


def _run(data: bytes) -> list[Record | Rejected]:
    items = list(KubernetesAuditParser().parse(io.BytesIO(data), ParseContext("fuzz.json")))
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position >= 1
    return items


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    _run(data)
    KubernetesAuditParser.sniff(data, "x.json")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["kind", "apiVersion", "verb", "auditID", "stage", "user", "objectRef",
                         "sourceIPs", "responseStatus", "code", "username", "resource",
                         "items", "stageTimestamp", "x"]), inner, max_size=6),
    max_leaves=20,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JSON_VALUES, max_size=6))
def test_hostile_json_values_never_raise(values: list[Any]) -> None:
    lines = [json.dumps(v) for v in values]
    lines += [json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", **v})
              for v in values if isinstance(v, dict)]
    lines += [json.dumps({"kind": "EventList", "items": values})]
    items = _run("\n".join(lines).encode())
    for item in items:
        if isinstance(item, Record):
            _check_normal(item)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["audit.log", "eventlist.json"]), st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = (Path(__file__).resolve().parents[2] / "fixtures" / "k8s_audit" / name).read_bytes()
    _run(data[: int(len(data) * fraction)])
