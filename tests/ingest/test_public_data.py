"""End to end over the public datasets: every record stored, counted independently.

Each case ingests real files through the whole pipeline (discovery, archives, sniffing,
parsing, the store) and compares the stored count per source with a count made here another
way (lines, JSON elements, the evtx package's own record count).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from trailguard.ingest.pipeline import Ingest, IngestReport
from trailguard.store.case import Case


def ingest(case_dir: Path, *paths: Path) -> IngestReport:
    with Case.open(case_dir, create=True) as case:
        return Ingest(case).run(list(paths))


def zip_lines(path: Path, skip_comments: bool = False) -> int:
    total = 0
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("__MACOSX/") or name.endswith("/"):
                continue
            for line in archive.read(name).splitlines():
                if line.strip() and not (skip_comments and line.startswith(b"#")):
                    total += 1
    return total


def stored(report: IngestReport, source: str) -> int:
    stats = report.sources[source]
    assert stats.quarantined == 0, f"{source}: {stats.quarantined} quarantined"
    assert stats.records == stats.stored + stats.duplicates
    return stats.stored


def test_stratus_cloudtrail(tmp_path: Path, shared_data: Path) -> None:
    folder = shared_data / "stratus" / "docs" / "detonation-logs"
    expected = sum(len(json.loads(p.read_bytes())) for p in folder.glob("*.json"))
    assert stored(ingest(tmp_path / "case", folder), "cloudtrail") == expected == 310


def test_loghub_syslog(tmp_path: Path, shared_data: Path) -> None:
    files = [shared_data / "loghub" / "OpenSSH" / "OpenSSH_2k.log",
             shared_data / "loghub" / "Linux" / "Linux_2k.log"]
    expected = sum(len(p.read_bytes().splitlines()) for p in files)
    assert stored(ingest(tmp_path / "case", *files), "syslog") == expected == 4000


@pytest.mark.slow
def test_otrf_linux_zeek_and_log4shell(tmp_path: Path, shared_data: Path) -> None:
    otrf = shared_data / "otrf" / "datasets"
    log4shell = otrf / "compound" / "Log4Shell"
    zeek = [otrf / "compound" / "LSASS_campaign_01" /
            "metasploit_logonpasswords_lsass_memory_dump_zeek_logs.zip",
            otrf / "compound" / "LSASS_campaign_02" /
            "metasploit_procdump_lsass_memory_dump_zeek_logs.zip"]
    auoms = next(log4shell.glob("syslog_auoms_*.zip"))
    sysmon = next(log4shell.glob("syslog_sysmon_*.zip"))
    report = ingest(tmp_path / "case", *zeek, auoms, sysmon)
    assert stored(report, "zeek") == sum(zip_lines(p, skip_comments=True) for p in zeek)
    assert stored(report, "auditd") == zip_lines(auoms) == 50
    assert stored(report, "sysmon_linux") == zip_lines(sysmon) == 93


@pytest.mark.slow
def test_evtx_attack_samples(tmp_path: Path, shared_data: Path) -> None:
    from evtx import PyEvtxParser

    folder = shared_data / "evtx-attack-samples"
    files = sorted(folder.rglob("*.evtx"))
    counts = {p: sum(1 for _ in PyEvtxParser(str(p)).records()) for p in files}
    assert sum(counts.values()) == 8255
    # UACME_59_Sysmon.evtx is there twice, byte for byte: the copy is a duplicate.
    unique = {hashlib.sha256(p.read_bytes()).hexdigest(): n for p, n in counts.items()}
    report = ingest(tmp_path / "case", folder)
    assert stored(report, "evtx") == sum(unique.values()) == 8248
    assert report.sources["evtx"].records == 8255
    assert report.sources["evtx"].files == 277


@pytest.mark.slow
def test_otrf_lsass_campaigns(tmp_path: Path, shared_data: Path) -> None:
    compound = shared_data / "otrf" / "datasets" / "compound"
    zips = [compound / "LSASS_campaign_01" / "metasploit_logonpasswords_lsass_memory_dump.zip",
            compound / "LSASS_campaign_02" / "metasploit_procdump_lsass_memory_dump.zip"]
    report = ingest(tmp_path / "case", *zips)
    assert stored(report, "windows_json") == sum(zip_lines(p) for p in zips) == 96180
    with Case.open(tmp_path / "case") as case:
        hosts = case.connection.execute(
            "SELECT host, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall()
    assert hosts == [("ACCT01.pandalab.com", 42482), ("MKT01.pandalab.com", 53698)]


@pytest.mark.slow
def test_otrf_windows_atomics_widest_table(tmp_path: Path, shared_data: Path) -> None:
    """All OTRF Windows atomics: 680,352 events and 580 distinct fields in one table, the widest
    case the writer meets (an uncommitted part must fit DuckDB's budget for that width)."""
    atomics = shared_data / "otrf" / "datasets" / "atomic" / "windows"
    zips = sorted(atomics.rglob("*.zip"))
    report = ingest(tmp_path / "case", *zips)
    assert report.quarantined == 0
    assert report.records == report.stored + report.duplicates
    assert report.sources["windows_json"].stored >= 600_000
