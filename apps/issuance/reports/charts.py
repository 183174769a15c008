"""A bar chart as inline SVG, drawn on the server: no JavaScript library, no CDN.

The page's Content-Security-Policy forbids style attributes, so the drawing uses SVG presentation attributes
(fill, font-size) and CSS class hooks only. Each bar carries a <title> ("11月5日: 3件") that a pointer shows; the
SVG as a whole is one image (role="img") named by its <title> and <desc>, and the page puts a table of the same
numbers next to it as the text alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH_PER_BAR = 24
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 28
BAR_FILL = "#1d4e89"  # the default city colour; 8.4:1 on white
AXIS_FILL = "#555555"


@dataclass(frozen=True)
class Bar:
    label: str  # short, under the bar ("5", "11月")
    title: str  # in full, for the bar's tooltip and the table ("2026年11月5日")
    value: int


def nice_top(value: int) -> int:
    """The y axis' top: the smallest 1, 2 or 5 × 10^k at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return max(step * factor, 1)
        step *= 10


def _ticks(top: int) -> list[int]:
    if top <= 5:
        return list(range(top + 1))
    return [top * n // 5 for n in range(6)]


def bar_chart_svg(
    *, bars: Sequence[Bar], title: str, description: str, unit: str, chart_id: str
) -> SafeString:
    """The chart; `unit` follows each number in titles ("件"); `chart_id` makes the ids unique on the page."""
    top = nice_top(max((bar.value for bar in bars), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    width = LEFT + RIGHT + WIDTH_PER_BAR * max(len(bars), 1)

    def y(value: int) -> float:
        return TOP + plot_height - plot_height * value / top

    grid = format_html_join(
        "",
        '<line class="chart__grid" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d0d0d0" stroke-width="1"/>'
        '<text class="chart__tick" x="{}" y="{}" text-anchor="end" font-size="10" fill="{}">{}</text>',
        (
            (LEFT, width - RIGHT, f"{y(t):.1f}", f"{y(t):.1f}", LEFT - 4, f"{y(t) + 3:.1f}", AXIS_FILL, t)
            for t in _ticks(top)
        ),
    )
    items = []
    for index, bar in enumerate(bars):
        x = LEFT + WIDTH_PER_BAR * index + 3
        height = plot_height * bar.value / top
        label = f"{bar.title}: {bar.value}{unit}"
        value_text = (
            format_html(
                '<text class="chart__value" x="{}" y="{}" text-anchor="middle" font-size="10" fill="{}">{}</text>',
                x + (WIDTH_PER_BAR - 6) / 2,
                f"{y(bar.value) - 3:.1f}",
                AXIS_FILL,
                bar.value,
            )
            if bar.value
            else ""
        )
        items.append(
            format_html(
                '<g class="chart__item" data-value="{}">'
                '<rect class="chart__bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>'
                "{}"
                '<text class="chart__label" x="{}" y="{}" text-anchor="middle" font-size="10" fill="{}">{}</text>'
                "</g>",
                bar.value,
                x,
                f"{y(bar.value):.1f}",
                WIDTH_PER_BAR - 6,
                f"{height:.1f}",
                BAR_FILL,
                label,
                value_text,
                x + (WIDTH_PER_BAR - 6) / 2,
                HEIGHT - BOTTOM + 14,
                AXIS_FILL,
                bar.label,
            )
        )
    return format_html(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        "{grid}"
        '<line class="chart__axis" x1="{left}" x2="{right}" y1="{base}" y2="{base}" stroke="{axis}" '
        'stroke-width="1"/>'
        "{items}</svg>",
        w=width,
        h=HEIGHT,
        id=chart_id,
        title=title,
        desc=description,
        grid=grid,
        left=LEFT,
        right=width - RIGHT,
        base=TOP + plot_height,
        axis=AXIS_FILL,
        items=SafeString("".join(items)),
    )
