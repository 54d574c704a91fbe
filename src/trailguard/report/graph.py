"""The attack graph of an incident, laid out for an inline SVG.

Nodes are the incident's hosts, addresses, principals and buckets; edges are the lateral hops
and the chain steps that name two of them. The layout is layered and deterministic: columns
by first-seen time, rows by kind and value within a column. Only numbers are computed here;
the template escapes every label."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from trailguard.report.attack import step_tactic, tactic_name
from trailguard.report.palette import UNKNOWN_ROLE_COLOR, role_color, tactic_color
from trailguard.trace.model import Entity, EntityRef, Incident

#: Entity kinds drawn, in row order within a column.
GRAPH_KINDS = ("ip", "domain", "access_key", "principal", "user", "host", "instance", "pod",
               "bucket")
MAX_NODES = 60
MAX_COLUMNS = 6
#: A step naming more graph entities than this links only its first ones.
MAX_STEP_ENTITIES = 6
LABEL_CHARS = 26

NODE_WIDTH = 180
NODE_HEIGHT = 36
COLUMN_GAP = 90
ROW_GAP = 18
PAD = 20


@dataclass
class GraphNode:
    ref: EntityRef
    role: str
    first: datetime | None
    x: int = 0
    y: int = 0

    @property
    def label(self) -> str:
        value = self.ref.value
        return value if len(value) <= LABEL_CHARS else value[:LABEL_CHARS - 1] + "…"

    @property
    def color(self) -> str:
        return role_color(self.role)


@dataclass
class GraphEdge:
    path: str  # SVG path data: numbers only
    color: str
    hop: bool
    title: str
    label: str = ""
    label_x: int = 0
    label_y: int = 0


@dataclass
class AttackGraph:
    width: int
    height: int
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    omitted: int = 0  # graph entities left out past MAX_NODES


def _kind_rank(kind: str) -> int:
    return GRAPH_KINDS.index(kind) if kind in GRAPH_KINDS else len(GRAPH_KINDS)


def _pick_nodes(incident: Incident) -> tuple[list[GraphNode], int]:
    drawn = [entity for entity in incident.entities if entity.ref.kind in GRAPH_KINDS]
    drawn.sort(key=lambda entity: (-entity.alerts, _kind_rank(entity.ref.kind), entity.ref.value))
    nodes = [_node(entity) for entity in drawn[:MAX_NODES]]
    known = {node.ref.value for node in nodes}
    for hop in incident.lateral_movement:
        for end in (hop.source, hop.target):
            if end not in known and len(nodes) < MAX_NODES:
                known.add(end)
                nodes.append(GraphNode(EntityRef("host", end), "unknown", hop.time))
    return nodes, max(0, len(drawn) - MAX_NODES)


def _node(entity: Entity) -> GraphNode:
    return GraphNode(entity.ref, entity.role, entity.first)


def _place(nodes: list[GraphNode]) -> tuple[int, int]:
    """Give every node its position; return the picture's width and height."""
    def when(node: GraphNode) -> float:
        return node.first.timestamp() if node.first else float("inf")

    nodes.sort(key=lambda node: (when(node), _kind_rank(node.ref.kind), node.ref.value))
    times = sorted({when(node) for node in nodes})
    columns = min(MAX_COLUMNS, len(times)) or 1
    time_column = {moment: index * columns // len(times) for index, moment in enumerate(times)}
    rows = [0] * columns
    for node in nodes:
        column = time_column[when(node)]
        node.x = PAD + column * (NODE_WIDTH + COLUMN_GAP)
        node.y = PAD + rows[column] * (NODE_HEIGHT + ROW_GAP)
        rows[column] += 1
    width = 2 * PAD + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP
    height = 2 * PAD + max(rows, default=1) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return width, height


def _path(start: GraphNode, end: GraphNode) -> tuple[str, int, int]:
    """SVG path from ``start`` to ``end`` and the middle point for a label."""
    y1, y2 = start.y + NODE_HEIGHT // 2, end.y + NODE_HEIGHT // 2
    if start.x == end.x:  # same column: bow out to the right
        x = start.x + NODE_WIDTH
        bow = x + 40 + abs(y2 - y1) // 6
        return f"M{x},{y1} C{bow},{y1} {bow},{y2} {x},{y2}", bow - 10, (y1 + y2) // 2
    if start.x > end.x:
        start, end = end, start
        y1, y2 = y2, y1
    x1, x2 = start.x + NODE_WIDTH, end.x
    middle = (x1 + x2) // 2
    return (f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}", middle, (y1 + y2) // 2)


def _step_edges(incident: Incident, nodes: list[GraphNode]) -> list[GraphEdge]:
    index = {node.ref: node for node in nodes}
    order = {node.ref: rank for rank, node in enumerate(nodes)}
    links: dict[tuple[EntityRef, EntityRef], list[str]] = {}
    for step in incident.chain:
        refs = list(dict.fromkeys(ref for ref in step.entities if ref in index))
        refs = sorted(refs[:MAX_STEP_ENTITIES], key=order.__getitem__)
        for position, first in enumerate(refs):
            for second in refs[position + 1:]:
                links.setdefault((first, second), []).append(step_tactic(step))
    edges = []
    for (first, second), tactics in links.items():
        path, _, _ = _path(index[first], index[second])
        names = ", ".join(dict.fromkeys(tactic_name(tactic) for tactic in tactics))
        edges.append(GraphEdge(path, tactic_color(tactics[0]), False,
                               f"{first} — {second}: {len(tactics)} step(s) ({names})"))
    return edges


def _hop_edges(incident: Incident, nodes: list[GraphNode]) -> list[GraphEdge]:
    index: dict[str, GraphNode] = {}
    for node in nodes:
        index.setdefault(node.ref.value, node)
    edges = []
    for hop in incident.lateral_movement:
        if hop.source not in index or hop.target not in index:
            continue
        path, x, y = _path(index[hop.source], index[hop.target])
        title = f"{hop.source} → {hop.target}: {hop.method}, {hop.uses} use(s)"
        edges.append(GraphEdge(path, UNKNOWN_ROLE_COLOR, True, title,
                               f"{hop.method} ×{hop.uses}", x, y - 4))
    return edges


def attack_graph(incident: Incident) -> AttackGraph:
    """The laid-out attack graph of an incident."""
    nodes, omitted = _pick_nodes(incident)
    width, height = _place(nodes)
    edges = _step_edges(incident, nodes) + _hop_edges(incident, nodes)
    return AttackGraph(width, height, nodes, edges, omitted)
