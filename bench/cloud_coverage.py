"""Cloud detection coverage on public data: Stratus Red Team detonations and Panther test events.

Run from the project root: ``.venv/bin/python bench/cloud_coverage.py [--json FILE]``
(``TRAILGUARD_SHARED_DATA`` overrides the data folder, by default ``../shared/data``).

1. **Stratus Red Team** (``stratus/docs/detonation-logs``, 35 AWS techniques, 310 CloudTrail
   events recorded during real detonations). All files go into one case; TrailGuard's built-in
   ``aws`` pack and SigmaHQ's ``rules/cloud/aws`` run together. An alert is credited to a
   technique when every event it cites (the event, and the members of a correlation alert) comes
   from that technique's file; alerts citing events of several files are counted apart (there
   should be none: every detonation has its own account). A technique is *detected* when a rule
   other than a generic one (``GENERIC_SIGMAHQ``: rules that fire on any activity of a principal
   type, whatever the technique) alerts. The files hold only the detonation's own calls, so this
   measures recall, not precision.

2. **Panther** (``panther/rules``, panther-analysis @ daa10c8). Each Panther rule's YAML carries
   test events labelled ``ExpectedResult`` true (the rule alerts, or for a Panther ``Threshold``
   rule: the event counts towards the threshold) or false. Used here: AWS.CloudTrail tests for the
   ``aws`` pack, AWS.VPCFlow tests for the ``network`` pack and Amazon.EKS.Audit tests for the
   ``kubernetes`` pack; every test event is written to its own file and read with the parser of its
   log type (``cloudtrail``, ``vpcflow_aws``, ``k8s_audit``). Panther reuses event IDs across
   different test events (``"eventID": "1234"``), and TrailGuard drops a CloudTrail record whose
   eventID, eventTime and eventName were already stored (a re-delivered record) even when the
   content differs; so each written event's own ID (CloudTrail ``eventID``, Kubernetes
   ``auditID``) gets the suffix ``#panther-<n>``. No rule reads these IDs. Left out, and counted:
   tests without an event, tests with ``Mocks`` (their label depends on values mocked into
   Panther's Python code, which TrailGuard cannot see), other log types (OCSF, VPC DNS, S3 access
   logs, Azure and GCP audit logs) and events the parser refuses.

   *Flagged.* An event is flagged by a pack rule file when a single-event rule of the file alerts
   on it, or - for a correlation file - when one of the file's base rules matches it: the event
   then counts towards the correlation, which is what Panther's labels say for its own threshold
   rules (one test event cannot make a burst). Base-rule matches count only for the rule files
   that claim the Panther rule (below); elsewhere a base rule such as "any read-only call" is
   evidence, not a detection.

   *Scope.* ``INTENTS`` lists, for each Panther rule whose behaviour a pack claims to detect, the
   pack rule files (``fnmatch`` patterns of file stems) that claim it, and how the two intents
   compare: ``same``, or ``narrower`` where the pack deliberately reports only part of what the
   Panther rule reports (its misses there lower the recall; they are listed). Panther rules whose
   intent is broader than any pack rule's, or that a SigmaHQ rule covers instead of the pack, are
   not listed and are out of scope. A listed Panther rule is in scope for a pack only when at
   least one pattern names an existing rule file, so packs that are absent or partial are
   measured on what they hold; entries whose rules are missing are printed.

   *Recall* of a pack: in-scope positive tests flagged by the claiming rule files or alerted by
   any single-event rule of the pack / in-scope positive tests (also given: flagged by the
   claiming rule files only, and the recall over the ``same``-intent Panther rules alone).
   *False-positive rate, in scope:* in-scope negative tests flagged by the claiming rule files /
   in-scope negative tests. These negatives are near misses written against that behaviour.
   *False-positive rate, all negatives:* negative tests of the pack's log type (every Panther
   rule, in scope or not) alerted by any single-event rule of the pack / those tests. A negative
   of one Panther rule can be a true positive of another behaviour (a root console login is a
   negative of "failed root login"), so this is an upper bound; the alerted tests are printed for
   review.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from trailguard.detect.rules import LoadedRule, RuleSet, load_rules
from trailguard.detect.run import DetectionRun, detect
from trailguard.detect.sources import builtin_packs
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRAILGUARD_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
STRATUS = DATA / "stratus" / "docs" / "detonation-logs"
SIGMAHQ_AWS = DATA / "sigma" / "rules" / "cloud" / "aws"
PANTHER = DATA / "panther" / "rules"

#: SigmaHQ rules that fire on any activity of a principal type, whatever the technique; their
#: alerts are shown but do not make a technique "detected".
GENERIC_SIGMAHQ = ("aws_sts_assumerole_misuse",)

#: Panther log type -> (TrailGuard parser, pack that reads it).
LOG_TYPES = {
    "AWS.CloudTrail": ("cloudtrail", "aws"),
    "AWS.VPCFlow": ("vpcflow_aws", "network"),
    "Amazon.EKS.Audit": ("k8s_audit", "kubernetes"),
}
PANTHER_FOLDERS = ("aws_cloudtrail_rules", "aws_vpc_flow_rules", "aws_eks_rules",
                   "kubernetes_rules", "aws_s3_rules")
PACKS = ("aws", "network", "kubernetes")


@dataclass(frozen=True)
class Intent:
    """A Panther rule whose behaviour a pack claims to detect."""

    panther: str  # Panther rule file stem
    pack: str
    rules: tuple[str, ...]  # fnmatch patterns of the pack's rule file stems
    relation: str = "same"  # "same" or "narrower" (the pack reports part of it)
    events: tuple[str, ...] = ()  # only tests whose eventName is one of these (mixed rules)
    note: str = ""


#: Not listed on purpose (intent broader than the pack's, or not comparable), among others:
#: aws_secretsmanager_retrieve_secrets_catchall (only the "!tag" catch-all filter; the pack reports
#: every filter-based batch retrieval), aws_ssm_decrypt_ssm_params (volume of decrypted reads;
#: the pack's rule needs an enumeration first), k8s_kubectl_cp_operation and
#: k8s_steal_serviceaccount_token (particular exec commands; the kubernetes pack reports every
#: exec), and every Panther rule covered by a SigmaHQ rule instead of a pack rule.
INTENTS: tuple[Intent, ...] = (
    # --- aws pack (CloudTrail) ---
    Intent("aws_ami_modified_for_public_access", "aws", ("aws_ec2_ami_shared",)),
    Intent("aws_backdoor_lambda_function", "aws", ("aws_lambda_permission_public_or_external",),
           "narrower", note="Panther: any AddPermission; pack: public or other-account only"),
    Intent("aws_cloudtrail_attempt_to_leave_org", "aws", ("aws_organizations_leave",)),
    Intent("aws_cloudtrail_event_selectors_disabled", "aws",
           ("aws_cloudtrail_event_selectors_reduced",)),
    Intent("aws_cloudtrail_loginprofilecreatedormodified", "aws",
           ("aws_iam_login_profile_created_for_other_user",), "narrower",
           note="pack: CreateLoginProfile without forced reset; updates are SigmaHQ's"),
    Intent("aws_cloudtrail_password_spraying", "aws", ("aws_console_password_spray",)),
    Intent("aws_dns_logs_deleted", "aws", ("aws_route53_resolver_query_logging_removed",)),
    Intent("aws_ec2_download_instance_user_data", "aws", ("aws_ec2_user_data_read_burst",)),
    Intent("aws_ec2_launch_unusual_ec2_instances", "aws", ("aws_ec2_gpu_instance_launch",)),
    Intent("aws_ec2_many_passwors_read_attempts", "aws", ("aws_ec2_password_data_burst",)),
    Intent("aws_ec2_multi_instance_connect", "aws",
           ("aws_ec2_instance_connect_multiple_instances",)),
    Intent("aws_ec2_startup_script_change", "aws", ("aws_ec2_user_data_modified",)),
    Intent("aws_iam_attach_admin_role_policy", "aws", ("aws_iam_admin_managed_policy_attached",)),
    Intent("aws_iam_attach_admin_user_policy", "aws", ("aws_iam_admin_managed_policy_attached",)),
    Intent("aws_iam_backdoor_role", "aws", ("aws_iam_role_trust_external_account",)),
    Intent("aws_iam_user_recon_denied", "aws", ("aws_access_denied_burst",)),
    Intent("aws_imds_credential_exfiltration", "aws",
           ("aws_ec2_instance_credentials_multiple_ips",),
           note="the sibling file's second base rule is any personal call: evidence only"),
    Intent("aws_kms_cmk_loss", "aws", ("aws_kms_key_disabled_or_deletion_scheduled",)),
    Intent("aws_macie_evasion", "aws", ("aws_security_monitoring_service_disabled",), "narrower",
           note="Panther: any Macie session update; pack: Macie disabled or paused"),
    Intent("aws_network_acl_permissive_entry", "aws", ("aws_ec2_network_acl_allow_all",),
           "narrower", note="pack: all protocols or SSH/RDP ranges only"),
    Intent("aws_overwrite_lambda_code", "aws", ("aws_lambda_code_updated_by_person",)),
    Intent("aws_rds_snapshot_shared", "aws", ("aws_rds_snapshot_shared",)),
    Intent("aws_resource_made_public", "aws", ("aws_s3_bucket_policy_public",),
           events=("PutBucketPolicy",), note="S3 bucket policies only"),
    Intent("aws_root_access_key_created", "aws", ("aws_iam_root_access_key_created",)),
    Intent("aws_s3_copy_object_cross_account_kms", "aws",
           ("aws_data_encrypted_with_external_kms_key",)),
    Intent("aws_s3_delete_object", "aws", ("aws_s3_object_deletion_burst",)),
    Intent("aws_s3_delete_objects", "aws", ("aws_s3_bulk_delete_burst",)),
    Intent("aws_s3_delete_public_access_block", "aws", ("aws_s3_public_access_block_removed",)),
    Intent("aws_secretsmanager_retrieve_secrets", "aws",
           ("aws_secretsmanager_secret_value_burst",)),
    Intent("aws_secretsmanager_retrieve_secrets_batch", "aws",
           ("aws_secretsmanager_batch_get_by_filter",), "narrower",
           note="pack: filter-based batch retrieval only"),
    Intent("aws_snapshot_made_public", "aws", ("aws_ec2_snapshot_shared",)),
    Intent("aws_ssm_distributed_command", "aws", ("aws_ssm_shell_command_many_instances",)),
    Intent("aws_unauthorized_api_call", "aws", ("aws_access_denied_burst",)),
    # --- network pack (VPC flow logs) ---
    Intent("aws_vpc_inbound_traffic_port_blocklist", "network",
           ("net_remote_login_*", "net_*inbound*admin*"), "narrower",
           note="Panther's block list; network pack: SSH/RDP"),
    Intent("aws_vpc_ssh_allowed_signal", "network", ("net_remote_login_*", "net_*inbound*ssh*")),
    Intent("aws_vpc_port_scanning", "network", ("net_*port_scan*", "net_*scan*")),
    Intent("aws_vpc_unapproved_outbound_dns", "network", ("net_*dns*",)),
    # --- kubernetes pack (EKS audit) ---
    Intent("anonymous_api_access", "kubernetes", ("k8s_anonymous_*",)),
    Intent("k8s_anonymous_api_access", "kubernetes", ("k8s_anonymous_*",)),
    Intent("k8s_clusterrolebinding_privileged", "kubernetes", ("k8s_cluster_admin_binding*",)),
    Intent("k8s_exec_into_pod", "kubernetes", ("k8s_pod_exec*",)),
    Intent("k8s_pod_created_in_system_namespace", "kubernetes",
           ("k8s_system_namespace_*",), "narrower",
           note="kubernetes pack: scheduled workloads (CronJob, Job, DaemonSet)"),
    Intent("k8s_pod_dangerous_capabilities", "kubernetes", ("k8s_privileged_container*",)),
    Intent("k8s_pod_host_ipc", "kubernetes", ("k8s_host_namespace*",)),
    Intent("k8s_pod_host_network", "kubernetes", ("k8s_host_namespace*",)),
    Intent("k8s_pod_host_pid", "kubernetes", ("k8s_host_namespace*",)),
    Intent("k8s_pod_hostpath_volume", "kubernetes", ("k8s_*hostpath*",), "narrower",
           note="kubernetes pack: sensitive node paths only"),
    Intent("k8s_privileged_pod_created", "kubernetes", ("k8s_privileged_container*",)),
    Intent("k8s_secret_enumeration", "kubernetes", ("k8s_secrets_read_burst*",)),
    Intent("k8s_secrets_dump_all_namespaces", "kubernetes", ("k8s_secrets_read_burst*",)),
    Intent("k8s_serviceaccount_token_created", "kubernetes", ("k8s_service_account_token*",)),
)


# ------------------------------------------------------------------------------------- helpers
def rule_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))


def pack_of(loaded: LoadedRule, packs: dict[str, Path]) -> str | None:
    path = loaded.path.resolve()
    for name, folder in packs.items():
        if path.is_relative_to(folder.resolve()):
            return name
    return None


def file_paths(case: Case) -> dict[int, str]:
    rows = case.connection.execute("SELECT id, path FROM files").fetchall()
    return {int(file_id): str(path) for file_id, path in rows}


def load(paths: Iterable[tuple[Path, str]]) -> RuleSet:
    ruleset = load_rules(list(paths))
    for refusal in ruleset.refusals:
        print(f"  refused: {refusal.path}: {refusal.reason}")
    return ruleset


def run_rules(case: Case, ruleset: RuleSet) -> DetectionRun:
    """`detect`, reporting (not hiding) rules that failed to run."""
    run = detect(case.connection, ruleset)
    for rule_id, error in {**run.stats.errors, **run.correlation_errors}.items():
        print(f"  rule {rule_id} failed: {error}")
    return run


# ------------------------------------------------------------------------------------- Stratus
@dataclass
class TechniqueRow:
    technique: str
    builtin: set[str] = field(default_factory=set)
    sigmahq: set[str] = field(default_factory=set)
    generic: set[str] = field(default_factory=set)

    @property
    def detected(self) -> bool:
        return bool(self.builtin or self.sigmahq)


def stratus(workdir: Path, packs: dict[str, Path]) -> dict[str, Any]:
    paths: list[tuple[Path, str]] = []
    if "aws" in packs:
        paths.append((packs["aws"], "builtin"))
    if SIGMAHQ_AWS.is_dir():
        paths.append((SIGMAHQ_AWS, "sigmahq"))
    files = sorted(STRATUS.glob("*.json"))
    rows = {path.stem: TechniqueRow(path.stem) for path in files}
    cross_file: list[str] = []
    with Case.open(workdir / "stratus", create=True) as case:
        report = Ingest(case).run([STRATUS])
        ruleset = load(paths)
        run = run_rules(case, ruleset)
        by_id = file_paths(case)
        for alert in run.alerts:
            ids = {ref.file_id for ref in (alert.event, *alert.members) if ref.file_id is not None}
            if len(ids) != 1:
                cross_file.append(alert.rule.title)
                continue
            row = rows.get(Path(by_id[ids.pop()]).stem)
            if row is None:
                continue
            name = alert.rule.path.stem
            if alert.rule.source == "builtin":
                row.builtin.add(name)
            elif alert.rule.path.stem in GENERIC_SIGMAHQ:
                row.generic.add(name)
            else:
                row.sigmahq.add(name)
    detected = [row for row in rows.values() if row.detected]
    return {
        "data": f"{STRATUS} ({len(files)} files, {report.stored} events stored)",
        "rules": {source: sum(1 for r in ruleset.rules if r.source == source)
                  for source in ("builtin", "sigmahq")},
        "rows": [{"technique": row.technique, "builtin": sorted(row.builtin),
                  "sigmahq": sorted(row.sigmahq), "generic": sorted(row.generic),
                  "detected": row.detected} for row in rows.values()],
        "techniques": len(rows),
        "detected_either": len(detected),
        "detected_builtin": sum(1 for row in rows.values() if row.builtin),
        "detected_sigmahq": sum(1 for row in rows.values() if row.sigmahq),
        "cross_file_alerts": cross_file,
        "seconds": run.seconds,
    }


def print_stratus(result: dict[str, Any]) -> None:
    print(f"\n== Stratus Red Team: {result['data']}")
    print(f"   rules loaded (base rules of correlations included): built-in aws "
          f"{result['rules']['builtin']}, SigmaHQ cloud/aws {result['rules']['sigmahq']}")
    width = max(len(row["technique"]) for row in result["rows"])
    for row in result["rows"]:
        mark = "yes" if row["detected"] else "NO "
        builtin = ", ".join(row["builtin"]) or "-"
        sigmahq = ", ".join(row["sigmahq"]) or "-"
        generic = f"  (generic: {', '.join(row['generic'])})" if row["generic"] else ""
        print(f"   {mark} {row['technique']:<{width}}  builtin: {builtin}  |  sigmahq: {sigmahq}"
              f"{generic}")
    print(f"   detected by either: {result['detected_either']}/{result['techniques']}; "
          f"built-in aws pack: {result['detected_builtin']}; SigmaHQ cloud/aws: "
          f"{result['detected_sigmahq']}; alerts spanning several files: "
          f"{len(result['cross_file_alerts'])}")


# ------------------------------------------------------------------------------------- Panther
@dataclass
class PantherTest:
    rule: str  # Panther rule file stem
    name: str
    expected: bool
    log_type: str
    event: dict[str, Any]
    alerted: set[tuple[str, str]] = field(default_factory=set)  # (pack, rule file stem)
    evidence: set[tuple[str, str]] = field(default_factory=set)  # base rules of correlations
    stored: bool = False

    def flagged_by(self, pack: str, claimed: set[str] | None = None) -> bool:
        """Alerted by a rule of `pack` (of the `claimed` files only, if given), or evidence
        for a correlation of one of the `claimed` files."""
        hits = {stem for p, stem in self.alerted if p == pack}
        if claimed is None:
            return bool(hits)
        hits |= {stem for p, stem in self.evidence if p == pack}
        return bool(hits & claimed)


def panther_tests() -> tuple[list[PantherTest], dict[str, int]]:
    """Every usable Panther test with an event, and counts of what was left out."""
    tests: list[PantherTest] = []
    skipped: dict[str, int] = defaultdict(int)
    for folder in PANTHER_FOLDERS:
        for path in sorted((PANTHER / folder).glob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            log_types = document.get("LogTypes") or []
            for test in document.get("Tests") or []:
                event = test.get("Log")
                if not isinstance(event, dict):
                    skipped["no event (correlation or empty test)"] += 1
                    continue
                if test.get("Mocks"):
                    skipped["uses Mocks"] += 1
                    continue
                log_type = str(event.get("p_log_type") or (log_types[0] if log_types else ""))
                if log_type not in LOG_TYPES:
                    skipped[f"log type {log_type or '?'} (no pack reads it)"] += 1
                    continue
                tests.append(PantherTest(path.stem, str(test.get("Name", "")),
                                         bool(test.get("ExpectedResult")), log_type, event))
    return tests, dict(skipped)


def _written(test: PantherTest, index: int) -> bytes:
    """The test's event as a file, its own ID made unique (see the module docstring)."""
    event = dict(test.event)
    for id_field in ("eventID", "auditID"):
        if isinstance(event.get(id_field), str):
            event[id_field] = f"{event[id_field]}#panther-{index}"
    return (json.dumps(event) + "\n").encode()


def panther(workdir: Path, packs: dict[str, Path]) -> dict[str, Any]:
    tests, skipped = panther_tests()
    folder = workdir / "panther-events"
    by_sha: dict[str, list[PantherTest]] = defaultdict(list)
    for index, test in enumerate(tests):
        sub = folder / LOG_TYPES[test.log_type][0]
        sub.mkdir(parents=True, exist_ok=True)
        data = _written(test, index)
        (sub / f"{index:04d}_{test.rule}.json").write_bytes(data)
        by_sha[hashlib.sha256(data).hexdigest()].append(test)
    paths = [(packs[name], "builtin") for name in PACKS if name in packs]
    with Case.open(workdir / "panther", create=True) as case:
        for parser in sorted({parser for parser, _ in LOG_TYPES.values()}):
            if (folder / parser).is_dir():
                Ingest(case, source=parser).run([folder / parser])
        sha_of: dict[int, str] = {}
        for file_id, sha, stored in case.connection.execute(
                "SELECT id, root_sha256, stored FROM files").fetchall():
            sha_of[int(file_id)] = str(sha)
            if stored:
                for test in by_sha.get(str(sha), []):
                    test.stored = True
        if paths:
            ruleset = load(paths)
            run = run_rules(case, ruleset)
            alerted = {(alert.rule.id, alert.event.uid) for alert in run.alerts
                       if alert.correlation is None}
            loaded_by_id = {loaded.id: loaded for loaded in ruleset.rules}
            for rule_id, matches in run.matches_by_rule.items():
                loaded = loaded_by_id.get(rule_id)
                pack = pack_of(loaded, packs) if loaded is not None else None
                if loaded is None or pack is None:
                    continue
                for match in matches:
                    is_alert = (rule_id, match.uid) in alerted
                    for test in by_sha.get(sha_of.get(match.file_id, ""), []):
                        (test.alerted if is_alert else test.evidence).add((pack, loaded.path.stem))
    unparsed = [t for t in tests if not t.stored]
    if unparsed:
        skipped["event refused by the parser"] = len(unparsed)
    usable = [t for t in tests if t.stored]
    return {
        "data": f"{PANTHER} (panther-analysis @ daa10c8)",
        "tests_used": len(usable),
        "tests_left_out": skipped,
        "packs": {name: _pack_figures(name, packs, usable) for name in PACKS},
    }


def _pack_figures(pack: str, packs: dict[str, Path], tests: list[PantherTest]) -> dict[str, Any]:
    log_types = {lt for lt, (_, reader) in LOG_TYPES.items() if reader == pack}
    family = [t for t in tests if t.log_type in log_types]
    if pack not in packs or not rule_files(packs[pack]):
        return {"status": "absent", "tests_of_log_type": len(family)}
    stems = {path.stem for path in rule_files(packs[pack])}
    scope: dict[str, tuple[Intent, set[str]]] = {}
    missing: list[str] = []
    for intent in INTENTS:
        if intent.pack != pack:
            continue
        claimed = {stem for stem in stems if any(fnmatch(stem, p) for p in intent.rules)}
        if claimed:
            scope[intent.panther] = (intent, claimed)
        else:
            missing.append(f"{intent.panther} -> {', '.join(intent.rules)}")
    rows = []
    totals = {"pos": 0, "pos_any": 0, "pos_claimed": 0, "neg": 0, "neg_claimed": 0,
              "pos_same": 0, "pos_same_any": 0}
    misses: list[str] = []
    false_positives: list[str] = []
    for panther_rule, (intent, claimed) in sorted(scope.items()):
        cases = [t for t in family if t.rule == panther_rule
                 and (not intent.events or t.event.get("eventName") in intent.events)]
        pos = [t for t in cases if t.expected]
        neg = [t for t in cases if not t.expected]
        any_pos = [t for t in pos if t.flagged_by(pack) or t.flagged_by(pack, claimed)]
        by_claim = [t for t in pos if t.flagged_by(pack, claimed)]
        neg_claim = [t for t in neg if t.flagged_by(pack, claimed)]
        misses += [f"{panther_rule}: {t.name}" for t in pos if t not in any_pos]
        false_positives += [f"{panther_rule}: {t.name}" for t in neg_claim]
        totals["pos"] += len(pos)
        totals["pos_any"] += len(any_pos)
        totals["pos_claimed"] += len(by_claim)
        totals["neg"] += len(neg)
        totals["neg_claimed"] += len(neg_claim)
        if intent.relation == "same":
            totals["pos_same"] += len(pos)
            totals["pos_same_any"] += len(any_pos)
        rows.append({"panther": panther_rule, "relation": intent.relation,
                     "claimed_by": sorted(claimed), "positives": len(pos),
                     "flagged": len(any_pos), "negatives": len(neg),
                     "negatives_flagged": len(neg_claim), "note": intent.note})
    negatives = [t for t in family if not t.expected]
    flagged_negatives = [t for t in negatives if t.flagged_by(pack)]
    return {
        "status": "measured",
        "rule_files": len(stems),
        "tests_of_log_type": len(family),
        "panther_rules_in_scope": len(scope),
        "recall": _ratio(totals["pos_any"], totals["pos"]),
        "recall_claimed_rules": _ratio(totals["pos_claimed"], totals["pos"]),
        "recall_same_intent": _ratio(totals["pos_same_any"], totals["pos_same"]),
        "fp_rate_in_scope": _ratio(totals["neg_claimed"], totals["neg"]),
        "fp_rate_all_negatives": _ratio(len(flagged_negatives), len(negatives)),
        "rows": rows,
        "missed_positives": misses,
        "false_positives_in_scope": false_positives,
        "flagged_negatives_all": [
            f"{t.rule}: {t.name} <- {', '.join(sorted(s for p, s in t.alerted if p == pack))}"
            for t in flagged_negatives],
        "intents_without_rules": missing,
    }


def _ratio(part: int, whole: int) -> dict[str, Any]:
    return {"n": part, "of": whole, "value": round(part / whole, 3) if whole else None}


def _fmt(ratio: dict[str, Any]) -> str:
    if ratio["value"] is None:
        return "n/a (0 tests)"
    return f"{ratio['value']:.1%} ({ratio['n']}/{ratio['of']})"


def print_panther(result: dict[str, Any]) -> None:
    print(f"\n== Panther test events: {result['data']}")
    print(f"   tests used: {result['tests_used']}; left out: "
          + "; ".join(f"{reason}: {n}" for reason, n in sorted(result["tests_left_out"].items())))
    for pack, figures in result["packs"].items():
        if figures["status"] == "absent":
            print(f"\n   pack {pack}: absent or empty "
                  f"({figures['tests_of_log_type']} tests of its log type not measured)")
            continue
        print(f"\n   pack {pack}: {figures['rule_files']} rule files; "
              f"{figures['tests_of_log_type']} tests of its log type; "
              f"{figures['panther_rules_in_scope']} Panther rules in scope")
        print(f"     recall (any pack rule):     {_fmt(figures['recall'])}")
        print(f"     recall (claiming rules):    {_fmt(figures['recall_claimed_rules'])}")
        print(f"     recall (same-intent rules): {_fmt(figures['recall_same_intent'])}")
        print(f"     FP rate, in-scope negatives: {_fmt(figures['fp_rate_in_scope'])}")
        print(f"     FP rate, all negatives:      {_fmt(figures['fp_rate_all_negatives'])}")
        for row in figures["rows"]:
            note = f"  [{row['relation']}: {row['note']}]" if row["note"] else ""
            print(f"       {row['panther']:<48} +{row['flagged']}/{row['positives']}  "
                  f"-{row['negatives_flagged']}/{row['negatives']}  "
                  f"<- {', '.join(row['claimed_by'])}{note}")
        for label, key in (("missed positives", "missed_positives"),
                           ("false positives (in scope)", "false_positives_in_scope"),
                           ("alerted negatives (all)", "flagged_negatives_all"),
                           ("scope entries without a pack rule", "intents_without_rules")):
            if figures[key]:
                print(f"     {label}:")
                for line in figures[key]:
                    print(f"       - {line}")


# ------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    packs = {name: folder for name, folder in builtin_packs().items() if name in PACKS}
    print(f"data: {DATA}")
    print("packs: " + ", ".join(f"{name} ({len(rule_files(packs[name]))} files)"
                                if name in packs else f"{name} (absent)" for name in PACKS))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tg-cloud-coverage-") as folder:
        workdir = Path(folder)
        if STRATUS.is_dir():
            results["stratus"] = stratus(workdir, packs)
        if PANTHER.is_dir():
            results["panther"] = panther(workdir, packs)
    if "stratus" in results:
        print_stratus(results["stratus"])
    else:
        print(f"\n== Stratus Red Team: {STRATUS} not found, skipped")
    if "panther" in results:
        print_panther(results["panther"])
    else:
        print(f"\n== Panther: {PANTHER} not found, skipped")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
