"""Server-side SVG charts with pygal (no chart JavaScript in the browser).

Charts are separate ``image/svg+xml`` responses shown with ``<img>``: an image cannot run
script, pygal's own ``<style>`` stays inside the SVG (so the page's strict CSP needs no
``unsafe-inline``), and labels that come from logs are XML-escaped by pygal's serializer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pygal
from pygal.style import Style

STATUS_COLOURS = {
    "delivered": "#2e7d32",
    "deferred": "#f9a825",
    "bounced": "#c62828",
    "expired": "#8e24aa",
    "rejected": "#ad1457",
    "discarded": "#6d4c41",
    "held": "#1565c0",
    "deleted": "#455a64",
    "queued": "#00838f",
    "mixed": "#9e9d24",
}

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#222222",
    foreground_strong="#111111",
    foreground_subtle="#666666",
    opacity=".9",
    opacity_hover="1",
    colors=("#1565c0", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f", "#6d4c41"),
    font_family="sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    title_font_size=14,
    legend_font_size=11,
)

_BASE: dict[str, Any] = {
    "js": [],  # no script from pygal's CDN (and none at all: the SVG is an <img>)
    "style": STYLE,
    "width": 720,
    "height": 340,
    "truncate_label": 40,
    "truncate_legend": 30,
    "print_values": False,
    "disable_xml_declaration": False,
    "no_data_text": "no data in this period",
}


#: Two renderings of every chart, so text stays readable where it is shown: "wide" for a
#: report card at desktop widths (~600 px shown), "narrow" for a phone (~360 px shown),
#: taller and with shorter labels. An SVG in an <img> scales as a whole: a 720 px chart
#: shown 360 px wide would halve its 11 px text.
SIZES: dict[str, dict[str, Any]] = {
    "wide": {"width": 720, "height": 380, "font": 13, "label": 34, "ticks": 12},
    "narrow": {"width": 380, "height": 460, "font": 13, "label": 20, "ticks": 6},
}


def _sized(size: str) -> dict[str, Any]:
    """pygal options for a size: the canvas and fonts big enough for the shown width."""
    sz = SIZES.get(size, SIZES["wide"])
    style = Style(
        **{
            **STYLE.to_dict(),
            "label_font_size": sz["font"],
            "major_label_font_size": sz["font"],
            "legend_font_size": sz["font"],
            "title_font_size": sz["font"] + 2,
        }
    )
    return {
        **_BASE,
        "style": style,
        "width": sz["width"],
        "height": sz["height"],
        "truncate_label": sz["label"] + 1,
        "truncate_legend": sz["label"] + 1,
    }


def shorten(text: str, limit: int) -> str:
    """A label cut at a word boundary with an ellipsis; the full text is in the table."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _svg(chart: Any) -> bytes:
    """The chart as SVG bytes (pygal is untyped; its render() returns bytes)."""
    out = chart.render()
    assert isinstance(out, bytes)
    return out


def _int_ticks(values: Sequence[int | None]) -> list[int] | None:
    """Whole-number ticks for counts (pygal would label 0.1 ... 0.9 for small ones)."""
    top = max((v or 0 for v in values), default=0)
    if top == 0 or top > 10:
        return None
    return list(range(top + 1))


def _label(text: Any) -> str:
    s = "" if text is None else str(text)
    return s if s else "(none)"


def volume(
    rows: Sequence[tuple[Any, ...]], title: str, buckets: Sequence[str] = (), size: str = "wide"
) -> bytes:
    """Stacked bars per bucket; ``buckets`` (every hour/day of the period) keeps the time
    axis even where nothing happened."""
    seen = {r[0] for r in rows}
    buckets = sorted(seen | set(buckets)) if buckets else sorted(seen)
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket, status, n in rows:
        by_status[status][bucket] = n
    opts = _sized(size)
    ticks = SIZES.get(size, SIZES["wide"])["ticks"]
    many = len(buckets) > ticks
    chart = pygal.StackedBar(
        **opts,
        title=title,
        x_label_rotation=30,
        show_minor_x_labels=not many,  # with many buckets, only every n-th is labelled
        legend_at_bottom=True,
        legend_at_bottom_columns=5 if size == "wide" else 3,
    )
    chart.x_labels = buckets
    if many:
        chart.x_labels_major = buckets[:: max(1, len(buckets) // ticks)]
    order = [s for s in STATUS_COLOURS if s in by_status] + sorted(
        s for s in by_status if s not in STATUS_COLOURS
    )
    chart.config.style = Style(
        **{
            **opts["style"].to_dict(),
            "colors": tuple(STATUS_COLOURS.get(s, "#777777") for s in order),
        }
    )
    for status in order:
        chart.add(status, [by_status[status].get(b) for b in buckets])
    return _svg(chart)


def top(
    rows: Sequence[tuple[Any, ...]], title: str, value_index: int, unit: str, size: str = "wide"
) -> bytes:
    opts = _sized(size)
    chart = pygal.HorizontalBar(**opts, title=title, show_legend=False)
    data = list(rows)[::-1]  # pygal draws the first bar at the bottom
    limit = SIZES.get(size, SIZES["wide"])["label"]
    chart.x_labels = [shorten(_label(r[0]), limit) for r in data]
    values = [int(r[value_index]) for r in data]
    if unit != "bytes":
        chart.config.y_labels = _int_ticks(values)
    chart.add(unit, values)
    return _svg(chart)


def reasons(rows: Sequence[tuple[Any, ...]], title: str, size: str = "wide") -> bytes:
    """Reasons are long sentences: each bar's label is shortened at a word boundary (the
    full text is in the report's table, with a tooltip) so the bars keep their width."""
    opts = _sized(size)
    chart = pygal.HorizontalBar(**opts, title=title, show_legend=False)
    data = list(rows)[::-1]
    limit = SIZES.get(size, SIZES["wide"])["label"]
    chart.x_labels = [
        shorten(" ".join(_label(x) for x in r[:-1] if x) or "(none)", limit) for r in data
    ]
    values = [int(r[-1]) for r in data]
    chart.config.y_labels = _int_ticks(values)
    chart.add("count", values)
    return _svg(chart)


def pie(rows: Sequence[tuple[Any, ...]], title: str, size: str = "wide") -> bytes:
    chart = pygal.Pie(**_sized(size), title=title, inner_radius=0.4, legend_at_bottom=True)
    for r in rows:
        chart.add(_label(r[0]), int(r[1]))
    return _svg(chart)


def report_chart(  # noqa: PLR0913 - a report, its rows and how to draw them
    name: str,
    title: str,
    rows: Sequence[tuple[Any, ...]],
    order: str,
    buckets: Sequence[str] = (),
    size: str = "wide",
) -> bytes:
    if name == "volume":
        return volume(rows, title, buckets, size)
    if name in ("direction", "roles", "way"):
        return pie(rows, title, size)
    if name in ("rejects", "deferrals", "bounces"):
        return reasons(rows, title, size)
    if order == "size":
        return top(rows, f"{title} by size (bytes)", 2, "bytes", size)
    return top(rows, f"{title} by count", 1, "e-mails", size)


# -- servers ---------------------------------------------------------------------------------

QUEUE_SERIES = ("active", "incoming", "deferred", "hold", "maildrop")


def queue_lines(
    samples: Sequence[tuple[datetime, dict[str, Any] | None]], title: str, size: str = "wide"
) -> bytes:
    """Queue sizes over time, one line per Postfix queue."""
    chart = pygal.DateTimeLine(
        **{**_sized(size), "height": 300 if size == "wide" else 380},
        title=title,
        x_label_rotation=30,
        x_value_formatter=lambda dt: dt.strftime("%m-%d %H:%M"),
        legend_at_bottom=True,
        show_dots=False,
    )
    for q in QUEUE_SERIES:
        points = []
        for at, metrics in samples:
            value = ((metrics or {}).get("queues") or {}).get(q)
            points.append((at, value))
        chart.add(q, points)
    return _svg(chart)


def sparkline(values: Sequence[int | None]) -> bytes:
    chart = pygal.Line(js=[], style=STYLE, show_dots=False, fill=True)
    chart.add("", list(values))
    out = chart.render_sparkline(width=160, height=32)
    assert isinstance(out, bytes)
    return out
