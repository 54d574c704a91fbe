"""The output writers of attack tracing: a traced case becomes files an analyst opens.

``write_outputs`` writes, into one folder:

- ``report.html``: the self-contained report page (``report.html``'s module: ``html``);
- ``incidents.json``: every incident's ``to_json()``, in rank order;
- ``timeline.csv``: every chain step as a Timesketch row (``timeline``);
- ``attack-layer.json``: an ATT&CK Navigator layer of the techniques seen (``navigator``);
- ``iocs.stix.json``: a STIX 2.1 bundle of incidents, indicators and techniques (``stix``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from trailguard.report.html import write_html
from trailguard.report.navigator import write_navigator
from trailguard.report.stix import write_stix
from trailguard.report.timeline import write_timeline
from trailguard.trace.model import TraceResult

DEFAULT_TITLE = "TrailGuard incident report"

__all__ = ["DEFAULT_TITLE", "write_incidents", "write_outputs"]


def write_incidents(result: TraceResult, path: Path,
                    documents: Iterable[str] | None = None) -> Path:
    """Write ``incidents.json``: the incidents' ``to_json()`` in rank order — or, when the
    case holds more incidents than ``result`` details (``documents``, from
    ``trailguard.trace.singles.documents``), every incident's document, streamed."""
    if documents is None:
        incidents = [incident.to_json() for incident in result.incidents]
        path.write_bytes(orjson.dumps(incidents, option=orjson.OPT_INDENT_2) + b"\n")
        return path
    with path.open("wb") as handle:
        handle.write(b"[")
        for number, document in enumerate(documents):
            handle.write(b"\n" if number == 0 else b",\n")
            handle.write(orjson.dumps(orjson.loads(document), option=orjson.OPT_INDENT_2))
        handle.write(b"\n]\n")
    return path


def write_outputs(result: TraceResult, out_dir: Path, *, title: str = DEFAULT_TITLE,
                  documents: Iterable[str] | None = None) -> dict[str, Path]:
    """Write every output of ``result`` into ``out_dir`` (created when missing); return the
    paths written, by file name. ``documents``: every incident of the case (see
    ``write_incidents``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_html(result, out_dir / "report.html", title=title),
        write_incidents(result, out_dir / "incidents.json", documents),
        write_timeline(result, out_dir / "timeline.csv"),
        write_navigator(result, out_dir / "attack-layer.json", title=title),
        write_stix(result, out_dir / "iocs.stix.json"),
    ]
    return {path.name: path for path in written}
