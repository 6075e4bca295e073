"""Charts as inline SVG, drawn on the server: no script, no build step, nothing fetched.

Each chart is a ``<figure>``: the SVG (``role="img"`` with a title and a description), a
caption, and the same figures as a table in a ``<details>`` for screen readers and for anyone
who wants the numbers. Colours keep at least 3:1 contrast with the white background; every
mark has a ``<title>`` (a tooltip) and a ``data-value`` (tests read it). All text is escaped.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

NAVY = "#1d4e89"
TEAL = "#00796b"
AMBER = "#a35200"
PURPLE = "#6a4c93"
RED = "#a4262c"
GRID = "#dde3ea"
AXIS = "#5c6770"
INK = "#1f2933"

WIDTH = 600
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 44

_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    """A named row of values (one per label) drawn in one colour."""

    name: str
    values: Sequence[float | int | None]
    colour: str = NAVY


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``value`` on a histogram's axis (e.g. the median), labelled."""

    value: float
    label: str
    colour: str = RED


def nice_step(span: float, intervals: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 × 10^k) that covers ``span`` in about ``intervals``."""
    raw = max(span, 1e-9) / intervals
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * power:
            return float(step * power)
    return float(10 * power)


def scale(low: float, high: float, whole: bool = True) -> tuple[float, float, float]:
    """``(bottom, top, step)`` of an axis showing ``low``..``high`` (0 always included) with
    round grid steps; ``whole``: counts, so steps are whole numbers."""
    low, high = min(0.0, low), max(0.0, high)
    if high - low <= 0:
        high = 1.0
    step = nice_step(high - low)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    return step * math.floor(low / step), step * math.ceil(high / step), step


def nice_max(value: float) -> float:
    """The top of an axis of counts reaching ``value``."""
    return scale(0.0, value)[1]


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _frame(chart_id: str, title: str, description: str, body: list[str], height: int) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _y_axis(
    top_value: float, plot_height: float, unit: str, low_value: float = 0.0, step: float = 0.0
) -> list[str]:
    parts = []
    step = step or scale(low_value, top_value)[2]
    count = max(1, round((top_value - low_value) / step))
    for i in range(count + 1):
        value = low_value + step * i
        y = TOP + plot_height - plot_height * i / count
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13" '
            f'fill="{AXIS}">{escape(_fmt(value))}</text>'
        )
    if unit:
        parts.append(
            f'<text x="{LEFT}" y="{TOP - 4}" font-size="13" fill="{AXIS}">{escape(unit)}</text>'
        )
    return parts


def _range(series: Sequence[Series]) -> tuple[float, float, float]:
    """The axis for every value of ``series``: (bottom, top, step)."""
    values = [float(v) for s in series for v in s.values if v is not None]
    whole = all(v.is_integer() for v in values)
    return scale(min(values, default=0.0), max(values, default=0.0), whole)


def _x_labels(labels: Sequence[str], slot: float, plot_height: float, every: int) -> list[str]:
    parts = []
    for i, text in enumerate(labels):
        if i % every:
            continue
        x = LEFT + slot * i + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_height + 16:.1f}" text-anchor="middle" '
            f'font-size="13" fill="{AXIS}">{escape(text)}</text>'
        )
    return parts


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts = []
    x = float(LEFT)
    for s in series:
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="12" fill="{s.colour}"/>'
            f'<text x="{x + 17:.1f}" y="{y + 1:.1f}" font-size="13" fill="{INK}">'
            f"{escape(s.name)}</text>"
        )
        x += 34 + 7 * len(s.name)
    return parts


def _table(caption: str, labels: Sequence[str], series: Sequence[Series], head: str) -> str:
    header = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = []
    for i, text in enumerate(labels):
        cells = "".join(f'<td class="num">{escape(_fmt(s.values[i]))}</td>' for s in series)
        rows.append(f'<tr><th scope="row">{escape(text)}</th>{cells}</tr>')
    return (
        '<details class="chart-data"><summary>Show the figures</summary>'
        f'<table><caption>{escape(caption)}</caption><thead><tr><th scope="col">{escape(head)}'
        f"</th>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _figure(svg: str, caption: str, table: str, empty: bool) -> Markup:
    note = '<p class="chart-empty">No data yet.</p>' if empty else ""
    return Markup(
        f'<figure class="chart-figure">{svg}{note}'
        f"<figcaption>{escape(caption)}</figcaption>{table}</figure>"
    )


def bar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    head: str = "",
    label_every: int = 1,
) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series (negative values hang
    below the zero line)."""
    chart_id = f"chart{next(_ids)}"
    height = HEIGHT + (20 if len(series) > 1 else 0)
    plot_height = HEIGHT - TOP - BOTTOM
    low_value, top_value, step = _range(series)
    per_unit = plot_height / (top_value - low_value)
    zero = TOP + plot_height - (0 - low_value) * per_unit
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bar = min((slot * 0.8) / max(1, len(series)), 44.0)
    gap = slot - bar * len(series)
    body = _y_axis(top_value, plot_height, unit, low_value, step)
    for i, text in enumerate(labels):
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = abs(float(value)) * per_unit
            x = LEFT + slot * i + gap / 2 + bar * j
            y = zero - h if float(value) >= 0 else zero
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{s.colour}" data-value="{_attr(value)}">'
                f"<title>{escape(text)}: {escape(_fmt(value))} {escape(s.name)}</title></rect>"
            )
    body.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" '
        f'y2="{zero:.1f}" stroke="{AXIS}" stroke-width="1"/>'
    )
    body += _x_labels(labels, slot, plot_height, label_every)
    if len(series) > 1:
        body += _legend(series, HEIGHT + 6)
    svg = _frame(chart_id, title, description, body, height)
    empty = not any(v for s in series for v in s.values)
    return _figure(svg, description, _table(title, labels, series, head), empty)


def line_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    head: str = "",
    label_every: int = 1,
) -> Markup:
    """Lines with a dot at each value (one per label), for a quantity over time."""
    chart_id = f"chart{next(_ids)}"
    height = HEIGHT + (20 if len(series) > 1 else 0)
    plot_height = HEIGHT - TOP - BOTTOM
    peak = max((float(v) for s in series for v in s.values if v is not None), default=0.0)
    _, top_value, step = _range(series)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    body = _y_axis(top_value, plot_height, unit, 0.0, step)
    for s in series:
        points = []
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x = LEFT + slot * i + slot / 2
            y = TOP + plot_height - plot_height * float(value) / top_value
            points.append((x, y, value, labels[i]))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2.5" '
                'stroke-linejoin="round"/>'
            )
        for x, y, value, text in points:
            body.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{s.colour}" '
                f'data-value="{_attr(value)}"><title>{escape(text)}: {escape(_fmt(value))} '
                f"{escape(s.name)}</title></circle>"
            )
    body.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_height}" '
        f'y2="{TOP + plot_height}" stroke="{AXIS}" stroke-width="1"/>'
    )
    body += _x_labels(labels, slot, plot_height, label_every)
    if len(series) > 1:
        body += _legend(series, HEIGHT + 6)
    svg = _frame(chart_id, title, description, body, height)
    return _figure(svg, description, _table(title, labels, series, head), peak == 0)


def histogram(
    *,
    title: str,
    description: str,
    edges: Sequence[float],
    counts: Sequence[int],
    markers: Sequence[Marker] = (),
    unit: str = "",
    axis_label: str = "",
    colour: str = TEAL,
) -> Markup:
    """Counts in bins ``[edges[i], edges[i+1])`` (the last bin open-ended), with labelled
    vertical markers such as the median and the 90th percentile."""
    chart_id = f"chart{next(_ids)}"
    plot_height = HEIGHT - TOP - BOTTOM
    top_value = nice_max(max(counts, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(counts))
    body = _y_axis(top_value, plot_height, unit)
    labels = []
    for i, count in enumerate(counts):
        low = edges[i]
        text = f"{_fmt(low)}+" if i == len(counts) - 1 else f"{_fmt(low)}–{_fmt(edges[i + 1])}"
        labels.append(text)
        h = plot_height * count / top_value
        x = LEFT + slot * i + 1
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_height - h:.1f}" '
            f'width="{max(slot - 2, 1):.1f}" height="{h:.1f}" fill="{colour}" '
            f'data-value="{count}"><title>{escape(text)} {escape(axis_label)}: '
            f"{count:,}</title></rect>"
        )
    body.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_height}" '
        f'y2="{TOP + plot_height}" stroke="{AXIS}" stroke-width="1"/>'
    )
    for i, edge in enumerate(edges[: len(counts)]):
        if i % max(1, len(counts) // 10) == 0:
            x = LEFT + slot * i
            body.append(
                f'<text x="{x:.1f}" y="{TOP + plot_height + 16:.1f}" text-anchor="middle" '
                f'font-size="13" fill="{AXIS}">{escape(_fmt(edge))}</text>'
            )
    if axis_label:
        body.append(
            f'<text x="{WIDTH - RIGHT}" y="{TOP + plot_height + 34:.1f}" text-anchor="end" '
            f'font-size="13" fill="{AXIS}">{escape(axis_label)}</text>'
        )
    width = (edges[1] - edges[0]) if len(edges) > 1 else 1.0
    legend_x = float(LEFT)
    for marker in markers:
        # Beyond the last (open-ended) bin, a marker stands at the right edge; the legend
        # below says the exact value.
        x = LEFT + (marker.value - edges[0]) / width * slot
        x = min(max(x, LEFT), WIDTH - RIGHT)
        body.append(
            f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_height}" '
            f'stroke="{marker.colour}" stroke-width="2.5" stroke-dasharray="6 3" '
            f'data-value="{_attr(marker.value)}"><title>{escape(marker.label)}</title></line>'
        )
        y = HEIGHT + 8
        body.append(
            f'<line x1="{legend_x:.1f}" x2="{legend_x + 18:.1f}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{marker.colour}" stroke-width="2.5" stroke-dasharray="6 3"/>'
            f'<text x="{legend_x + 24:.1f}" y="{y + 1}" font-size="13" fill="{INK}">'
            f"{escape(marker.label)}</text>"
        )
        legend_x += 44 + 7.5 * len(marker.label)
    svg = _frame(chart_id, title, description, body, HEIGHT + (22 if markers else 0))
    table = _table(title, labels, [Series(axis_label or "count", list(counts))], unit or "bin")
    return _figure(svg, description, table, not any(counts))


def hbar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    values: Sequence[float | int],
    unit: str = "",
    head: str = "",
    colour: str = PURPLE,
) -> Markup:
    """Horizontal bars, one per label (for categories with long names)."""
    chart_id = f"chart{next(_ids)}"
    row = 26
    label_width = 170
    height = TOP + row * max(1, len(labels)) + 8
    top_value = nice_max(max((float(v) for v in values), default=0.0))
    span = WIDTH - label_width - RIGHT - 60
    body = []
    for i, (text, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + row * i
        w = span * float(value) / top_value
        body.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" font-size="13" '
            f'fill="{INK}">{escape(text)}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{max(w, 0):.1f}" '
            f'height="{row - 8}" fill="{colour}" data-value="{_attr(value)}">'
            f"<title>{escape(text)}: {escape(_fmt(value))}</title></rect>"
            f'<text x="{label_width + w + 6:.1f}" y="{y + 15}" font-size="13" fill="{INK}">'
            f"{escape(_fmt(value))}</text>"
        )
    svg = _frame(chart_id, title, description, body, height)
    table = _table(title, labels, [Series(unit or "value", list(values))], head or "category")
    return _figure(svg, description, table, not any(values))


def bins(values: Sequence[float], width: float, count: int) -> tuple[list[float], list[int]]:
    """Histogram bins of ``width`` from 0: ``count`` bins, the last one open-ended."""
    edges = [width * i for i in range(count + 1)]
    ordered = sorted(values)
    # How many values lie below each inner edge, by bisection of the sorted values.
    below = [0, *(bisect.bisect_left(ordered, edge) for edge in edges[1:count]), len(ordered)]
    return edges, [below[i + 1] - below[i] for i in range(count)]
