"""The two drawings, made on the server as SVG: a model's stage timeline and a version's lineage.

Every text that comes from the log (names, actors, summaries) goes through :func:`_text`
(control and bidi characters made visible, then escaped); links are built from percent-encoded
path parts only. Colours come from the static style sheet (classes), never inline styles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape
from modelog.application.timeline import Lane, Lineage, Timeline
from modelog.ui.render import path_part, visible, with_point

_STAGES = frozenset({"none", "staging", "production", "archived"})
_WIDTH, _LABEL, _LANE, _TOP = 800, 56, 22, 8


def _text(value: object) -> Markup:
    return escape(visible(str(value)))


def _stage_class(stage: str) -> str:
    return f"stage-{stage}" if stage in _STAGES else "stage-other"


def _lane(lane: Lane, row: int, last: int, x: Callable[[int], float]) -> list[str]:
    y = _TOP + row * _LANE
    parts = [f'<g class="lane" data-version="{lane.number}">',
             f'<text class="lane-label" x="4" y="{y + 15}">v{lane.number}</text>']
    for span in lane.spans:
        end = last if span.end is None else span.end
        left, right = x(span.start), x(end)
        title = (f"version {lane.number}: {span.stage} from {span.recorded_at} (position {span.start}) "
                 f"by {span.actor or 'unknown'}")
        parts.append(f'<rect class="span {_stage_class(span.stage)}" data-stage="{_text(span.stage)}" '
                     f'x="{left:.1f}" y="{y + 3}" width="{max(right - left, 2.0):.1f}" height="{_LANE - 6}">'
                     f"<title>{_text(title)}</title></rect>")
    for marker in lane.markers:
        title = f"{marker.summary} at {marker.recorded_at} (position {marker.position}) by {marker.actor or 'unknown'}"
        cx, cy = x(marker.position), y + _LANE / 2
        shape = (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4"' if marker.kind != "deleted"
                 else f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8"')
        parts.append(f'{shape} class="marker marker-{marker.kind}" tabindex="0"><title>{_text(title)}</title>'
                     f'{"</circle>" if marker.kind != "deleted" else "</rect>"}')
    parts.append("</g>")
    return parts


def timeline_svg(timeline: Timeline, numbers: Sequence[int] | None = None) -> Markup:
    """The stage timeline: one lane per version (only ``numbers`` when given), x = log position."""
    lanes = [lane for lane in timeline.lanes if numbers is None or lane.number in numbers]
    first, last = timeline.first, max(timeline.last, timeline.first + 1)
    span = _WIDTH - _LABEL - 8

    def x(position: int) -> float:
        return _LABEL + span * (min(max(position, first), last) - first) / (last - first)

    height = _TOP * 2 + _LANE * max(len(lanes), 1)
    parts = [f'<svg class="timeline" role="img" aria-label="stage timeline, {len(lanes)} lanes" '
             f'viewBox="0 0 {_WIDTH} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
             "<title>Stage timeline: one lane per version, coloured by stage</title>"]
    for row, lane in enumerate(lanes):
        parts += _lane(lane, row, last, x)
    parts.append("</svg>")
    return Markup("".join(parts))


_NODE_W, _NODE_H, _GAP, _COLUMNS = 150, 34, 12, 5


def _node(kind: str, column: int, row: int, label: str, title: str, href: str | None) -> tuple[str, tuple[int, int]]:
    left = 8 + column * (_NODE_W + 30)
    top = 8 + row * (_NODE_H + _GAP)
    short = label if len(label) <= 20 else label[:19] + "…"
    box = (f'<g class="node node-{kind}" data-kind="{kind}"><title>{_text(title)}</title>'
           f'<rect x="{left}" y="{top}" width="{_NODE_W}" height="{_NODE_H}" rx="4"/>'
           f'<text x="{left + 8}" y="{top + 21}">{_text(short)}</text></g>')
    if href is not None:
        box = f'<a href="{escape(href)}">{box}</a>'
    return box, (left, top + _NODE_H // 2)


def lineage_svg(graph: Lineage, model: str, number: int, position: int | None) -> Markup:
    """The lineage: datasets -> producing run -> version (and its model objects) -> consuming runs -> products."""
    def run_href(run_id: str) -> str | None:
        return with_point(f"/ui/runs/{path_part(run_id)}", position)

    none: str | None = None
    columns: list[list[tuple[str, str, str, str | None]]] = [
        [("dataset", f"{link.name} v{link.link_version}", f"data {link.name} v{link.link_version} "
          f"(artifact {link.artifact_name} v{link.artifact_version}, sha256 {link.content_hash})", none)
         for link in graph.inputs],
        [("run", f"run {graph.producer.run_id[:8]}", f"producing run {graph.producer.run_id} of pipeline "
          f"{graph.producer.pipeline} ({graph.producer.status})", run_href(graph.producer.run_id))]
        if graph.producer else [],
        [("version", f"{model} v{number}", f"model {model} version {number}", none)]
        + [("object", f"{link.name} v{link.link_version}", f"{link.kind} {link.name} v{link.link_version} "
            f"(sha256 {link.content_hash})", none) for link in graph.outputs],
        [("run", f"run {run.run_id[:8]}", f"consuming run {run.run_id} of pipeline {run.pipeline} ({run.status})",
          run_href(run.run_id)) for run in graph.consumers],
        [("product", f"{link.name} v{link.link_version}", f"{link.kind} {link.name} v{link.link_version} from run "
          f"{link.run_id} (sha256 {link.content_hash})", none) for link in graph.products],
    ]
    parts: list[str] = []
    anchors: list[list[tuple[int, int]]] = []
    for column, nodes in enumerate(columns):
        found = []
        for row, (kind, label, title, href) in enumerate(nodes):
            markup, anchor = _node(kind, column, row, label, title, href)
            parts.append(markup)
            found.append(anchor)
        anchors.append(found)
    edges = []
    filled = [a for a in anchors if a]
    for left, right in zip(filled, filled[1:], strict=False):
        for lx, ly in left:
            for rx, ry in right[:1] if len(left) > 1 else right:
                edges.append(f'<line class="edge" x1="{lx + _NODE_W}" y1="{ly}" x2="{rx}" y2="{ry}"/>')
    rows = max((len(c) for c in columns), default=1)
    width = 16 + _COLUMNS * _NODE_W + (_COLUMNS - 1) * 30
    height = 16 + max(rows, 1) * (_NODE_H + _GAP)
    return Markup(f'<svg class="lineage" role="img" aria-label="lineage graph" viewBox="0 0 {width} {height}" '
                  f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>Lineage of {_text(model)} version '
                  f'{number}</title>{"".join(edges)}{"".join(parts)}</svg>')
