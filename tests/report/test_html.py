"""report.html: self-contained, every evidence value escaped, usable on big incidents."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.report.conftest import (
    ATTRIBUTE_BREAK,
    HOSTILE,
    SCRIPT,
    TEMPLATE,
    evidence,
    step,
    trace_result,
)
from trailguard.report.html import (
    MAX_CHAIN_ROWS,
    evidence_label,
    present,
    render_html,
    write_html,
)
from trailguard.trace.model import EntityRef, TraceResult, human_bytes

#: Every element the template writes; evidence must never add one.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "section",
    "div", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "strong", "code",
    "details", "summary", "svg", "defs", "marker", "path", "g", "text", "line", "rect",
    "dl", "dt", "dd", "footer",
}
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_HOSTILE = (ESCAPED_SCRIPT + "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;"
                   "&lt;/style&gt;&lt;b&gt;style&lt;/b&gt;]]&gt;&lt;b&gt;cdata&lt;/b&gt;{{ 7*7 }}")


class Elements(HTMLParser):
    """Every start tag and attribute of a page, and the text of its <style> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)


@pytest.fixture
def page(result: TraceResult) -> str:
    return render_html(result, title=f"Case {SCRIPT}")


def test_no_element_or_attribute_comes_from_evidence(page: str) -> None:
    parser = Elements()
    parser.feed(page)
    assert set(parser.tags) <= TEMPLATE_TAGS
    assert not [name for name, _ in parser.attributes if name.startswith("on")]
    assert not [name for name, _ in parser.attributes if name in {"src", "srcdoc", "action"}]


def test_hostile_strings_are_escaped(page: str) -> None:
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "<b>" not in page
    assert ATTRIBUTE_BREAK not in page
    assert HOSTILE not in page
    assert page.count("</style>") == 1
    assert "]]>" not in page
    # Jinja never evaluates data: the template expression stays text.
    assert TEMPLATE in page
    assert "Case " + ESCAPED_SCRIPT in page


@pytest.mark.parametrize("where", [
    "10.0.0.9" + ESCAPED_HOSTILE,  # entity value
    "arn:aws:iam::111122223333:user/" + ESCAPED_HOSTILE,  # entity value (principal)
    "New access key " + ESCAPED_HOSTILE,  # rule title
    "Web shell " + ESCAPED_HOSTILE,  # rule title
    "trail" + ESCAPED_HOSTILE + ".json:12",  # evidence file name
    ESCAPED_HOSTILE + "/audit.log:77",  # evidence file name
    '<td class="value">db-01' + ESCAPED_HOSTILE + "</td>",  # hop endpoint
    "evil.example" + ESCAPED_HOSTILE,  # indicator value
    "attacker-bucket" + ESCAPED_HOSTILE,  # exfiltration destination
    "jump" + ESCAPED_HOSTILE,  # hub
    "shares principal " + ESCAPED_HOSTILE,  # link explanation
])
def test_each_place_escapes(page: str, where: str) -> None:
    assert where in page


def test_svg_text_is_escaped(page: str) -> None:
    pictures = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)
    assert len(pictures) == 4  # a timeline and a graph per incident
    graph = pictures[3]
    assert "<title>host: db-01" + ESCAPED_HOSTILE in graph
    assert "&lt;script&gt;" in pictures[0]  # a rule title in a timeline tooltip
    for picture in pictures:
        assert "<script" not in picture
        assert "<img" not in picture
        assert "<b>" not in picture


def test_self_contained(page: str) -> None:
    parser = Elements()
    parser.feed(page)
    assert "link" not in parser.tags
    assert "script" not in parser.tags
    assert "img" not in parser.tags
    assert "@import" not in page
    assert re.findall(r"url\(([^)]*)\)", page) == ["#arrow-2"]  # INC-0002's hop
    hrefs = [value for name, value in parser.attributes if name == "href"]
    assert hrefs == ["#incident-1", "#incident-2"]


def test_summary(page: str) -> None:
    summary = page[page.index('id="summary"'):page.index('id="incident-1"')]
    assert summary.index("INC-0001") < summary.index("INC-0002")
    assert "87.5" in summary
    assert "critical" in summary
    assert "5.0 GiB" in summary
    assert "Console login from new ASN" in summary
    assert ">1<" in summary  # INC-0002's hop count
    assert "Initial Access" in summary and "Lateral Movement" in summary


def test_incident_sections(page: str) -> None:
    cloud = page[page.index('id="incident-1"'):page.index('id="incident-2"')]
    host = page[page.index('id="incident-2"'):page.index('id="hubs"')]
    assert '<tr class="context">' in cloud
    assert cloud.count('<tr class="context">') == 1
    assert "still down at the end of the evidence" in host
    assert '<span class="present-no">no</span>' in host
    assert '<span class="present-unknown">unknown</span>' in cloud
    assert "ssh" in host and "×2" in host
    assert "312" in cloud  # objects read
    assert "NAT gateway: 4,210 alerts" in page[page.index('id="hubs"'):]


def test_heatmap_has_the_fourteen_tactics_in_order(page: str) -> None:
    host = page[page.index('id="incident-2"'):page.index('id="hubs"')]
    heat = host[host.index('class="heatmap"'):]
    heat = heat[:heat.index("</table>")]
    headers = re.findall(r"</span>([^<]+)</th>", heat)
    assert headers[:3] == ["Reconnaissance", "Resource Development", "Initial Access"]
    assert headers[13] == "Impact"
    assert headers[14:] == ["defense-impairment"]
    assert "T1021.004" in heat


def test_big_incident_is_capped(tmp_path: Path) -> None:
    result = trace_result()
    host = EntityRef("host", "web-01")
    chain = [step(index / 10, "execution", "T1059.004", "Unix Shell", f"Command {index}",
                  [host, EntityRef("ip", f"10.1.{index // 250}.{index % 250}")],
                  evidence("linux_auditd", "audit.log", index, f"x{index}"))
             for index in range(2000)]
    big = dataclasses.replace(result.incidents[1], chain=chain)
    result = dataclasses.replace(result, incidents=[big])
    path = write_html(result, tmp_path / "report.html", title="big")
    page = path.read_text(encoding="utf-8")
    chain_table = page[page.index('class="chain"'):]
    chain_table = chain_table[:chain_table.index("</table>")]
    assert chain_table.count("<tr") == MAX_CHAIN_ROWS + 1
    assert "1500 more steps in incidents.json" in page
    assert len(page) < 1_500_000
    timeline = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)[0]
    assert timeline.count("<rect") <= 820  # steps on the same pixel merge


def test_deterministic(result: TraceResult) -> None:
    assert render_html(result, title="t") == render_html(trace_result(), title="t")


def test_small_helpers() -> None:
    assert human_bytes(None) == "unknown"
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5_368_709_120) == "5.0 GiB"
    assert human_bytes(3 * 1024**5) == "3072.0 TiB"
    assert evidence_label(None) == ""
    assert evidence_label(evidence("zeek", None, None, "u")) == "zeek"
    assert evidence_label(evidence("zeek", "conn.log", None, "u")) == "conn.log"
    assert evidence_label(evidence("zeek", "conn.log", 7, "u")) == "conn.log:7"
    assert [present(value) for value in (True, False, None)] == ["yes", "no", "unknown"]


def test_empty_result_renders() -> None:
    page = render_html(TraceResult([], 0, [], {}), title="nothing")
    assert "No incident was traced." in page


def test_next_steps_are_shown_and_escaped() -> None:
    result = trace_result()
    result.incidents[0].next_steps = ["Disable the key <script>alert(1)</script> now."]
    page = render_html(result, title="t")
    assert "Next steps (1)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_bidirectional_controls_in_evidence_are_made_visible() -> None:
    result = trace_result()
    result.incidents[0].title = "payload\u202efdp.exe"
    page = render_html(result, title="t")
    assert "\u202e" not in page
    assert "payload\\u202efdp.exe" in page
