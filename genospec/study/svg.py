"""Hand-written SVG pictures of study results (no plotting library): scatter panels with a
caption each (Kendall study) and grouped bar charts of counts (skip and noise studies)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

from ..search.plot import PALETTE

PANEL_W, PANEL_H, MARGIN, TITLE_H = 300, 220, 48, 28


@dataclass(frozen=True)
class Panel:
    """One scatter panel: ``points`` are (x, y, label); the caption goes above the panel."""

    caption: str
    x_label: str
    y_label: str
    points: Sequence[tuple[float, float, str]]


def _num(v: float) -> str:
    return f"{v:.1f}"


def _tick(v: float) -> str:
    return f"{v:.3g}"


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{escape(title)}</text>']


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 0.5
    return lo - pad, hi + pad


def scatter_svg(panels: Sequence[Panel], title: str) -> str:
    """Panels side by side, each with its axes, end ticks, points and point labels."""
    width = len(panels) * (PANEL_W + 2 * MARGIN)
    height = TITLE_H + PANEL_H + 2 * MARGIN + 10
    out = _open(width, height, title)
    for k, panel in enumerate(panels):
        left, top = k * (PANEL_W + 2 * MARGIN) + MARGIN, TITLE_H + MARGIN
        x0, x1 = _span([p[0] for p in panel.points])
        y0, y1 = _span([p[1] for p in panel.points])

        def px(x: float) -> float:
            return left + (x - x0) / (x1 - x0) * PANEL_W

        def py(y: float) -> float:
            return top + PANEL_H - (y - y0) / (y1 - y0) * PANEL_H

        out += [f'<text x="{left + PANEL_W / 2:.1f}" y="{top - 10}" text-anchor="middle">'
                f'{escape(panel.caption)}</text>',
                f'<rect x="{left}" y="{top}" width="{PANEL_W}" height="{PANEL_H}" fill="none" '
                f'stroke="black"/>',
                f'<text x="{left + PANEL_W / 2:.1f}" y="{top + PANEL_H + 32}" '
                f'text-anchor="middle">{escape(panel.x_label)}</text>',
                f'<text transform="translate({left - 34},{top + PANEL_H / 2:.1f}) rotate(-90)" '
                f'text-anchor="middle">{escape(panel.y_label)}</text>']
        for v in (x0, x1):
            out.append(f'<text x="{_num(px(v))}" y="{top + PANEL_H + 14}" text-anchor="middle" '
                       f'font-size="9">{_tick(v)}</text>')
        for v in (y0, y1):
            out.append(f'<text x="{left - 4}" y="{_num(py(v) + 3)}" text-anchor="end" '
                       f'font-size="9">{_tick(v)}</text>')
        for x, y, label in panel.points:
            out += [f'<circle cx="{_num(px(x))}" cy="{_num(py(y))}" r="4" fill="{PALETTE[k]}"/>',
                    f'<text x="{_num(px(x) + 6)}" y="{_num(py(y) - 5)}" font-size="8">'
                    f'{escape(label)}</text>']
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bars_svg(groups: Sequence[tuple[str, dict[str, float]]], title: str, y_label: str,
             y_max: float | None = None) -> str:
    """Grouped bars: one group per (label, {series: value}) (labels may hold line breaks),
    series coloured alike across groups, each bar labelled with its value; the y axis runs
    from 0 to ``y_max`` (default: the largest value)."""
    series = list(dict.fromkeys(s for _, values in groups for s in values))
    bar = 24
    group_w = max(len(series) * bar + 36, 110)
    width = int(max(2 * MARGIN + len(groups) * group_w, 7.5 * len(title) + 40))
    height = TITLE_H + PANEL_H + 2 * MARGIN + 16 + 20 * ((len(series) + 3) // 4)
    top, bottom = TITLE_H + MARGIN // 2, TITLE_H + MARGIN // 2 + PANEL_H
    top_value = y_max or max([v for _, values in groups for v in values.values()] + [1.0])
    out = _open(width, height, title)
    out += [f'<line x1="{MARGIN}" y1="{bottom}" x2="{width - MARGIN // 2}" y2="{bottom}" '
            f'stroke="black"/>',
            f'<line x1="{MARGIN}" y1="{top}" x2="{MARGIN}" y2="{bottom}" stroke="black"/>',
            f'<text x="{MARGIN - 4}" y="{top + 4}" text-anchor="end" font-size="9">'
            f'{_tick(top_value)}</text>',
            f'<text x="{MARGIN - 4}" y="{bottom + 3}" text-anchor="end" font-size="9">0</text>',
            f'<text transform="translate({MARGIN - 24},{(top + bottom) / 2:.1f}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>']
    for g, (label, values) in enumerate(groups):
        x = MARGIN + g * group_w + (group_w - len(series) * bar) / 2
        for s, name in enumerate(series):
            if name not in values:
                continue
            h = values[name] / top_value * PANEL_H
            bx = x + s * bar
            out += [f'<rect x="{_num(bx)}" y="{_num(bottom - h)}" width="{bar - 3}" '
                    f'height="{_num(h)}" fill="{PALETTE[s % len(PALETTE)]}"/>',
                    f'<text x="{_num(bx + (bar - 3) / 2)}" y="{_num(bottom - h - 3)}" '
                    f'text-anchor="middle" font-size="9">{_tick(values[name])}</text>']
        for k, line in enumerate(label.split("\n")):
            out.append(f'<text x="{_num(x + len(series) * bar / 2)}" y="{bottom + 16 + 13 * k}" '
                       f'text-anchor="middle" font-size="10">{escape(line)}</text>')
    for s, name in enumerate(series):
        lx, ly = MARGIN + (s % 4) * 130, bottom + 56 + 20 * (s // 4)
        out += [f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" '
                f'fill="{PALETTE[s % len(PALETTE)]}"/>',
                f'<text x="{lx + 14}" y="{ly}">{escape(name)}</text>']
    out.append("</svg>")
    return "\n".join(out) + "\n"
