"""Throughput plots of ``zloop bench --plot FILE``: SVG written here, PNG through matplotlib.

One chart per figure (messages per second, and megabytes per second), message size on the x
axis and the rate on the y axis, both logarithmic; one line per implementation and transport
(colour = implementation, dash = transport). The SVG needs nothing but this module; a ``.png``
needs matplotlib (the ``plot`` extra) and draws the same series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from zloop._extras import MissingExtraError

__all__ = ["Series", "write_plot"]

COLOURS = {"zloop": "#1f77b4", "pyzmq": "#d62728", "raw": "#7f7f7f"}
DASHES = {"tcp": "", "ipc": "6,4", "inproc": "2,3"}
_SPARE_COLOURS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2")


@dataclass
class Series:
    """One line: ``impl`` over ``transport``, points as (size in bytes, msg/s)."""

    impl: str
    transport: str
    points: list[tuple[int, float]]

    @property
    def label(self) -> str:
        return f"{self.impl} {self.transport}"


def _size_label(size: float) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size:g} B"


def _rate_label(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{unit}"
    return f"{value:g}"


def _decades(lo: float, hi: float) -> list[float]:
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0**k for k in range(first, last + 1)]


def _colour(impl: str, seen: dict[str, str]) -> str:
    if impl not in seen:
        seen[impl] = COLOURS.get(impl, _SPARE_COLOURS[len(seen) % len(_SPARE_COLOURS)])
    return seen[impl]


def _panel(
    series: Sequence[Series], metric: str, x0: float, y0: float, width: float, height: float
) -> list[str]:
    """One log-log chart as SVG elements, its plot area at (x0, y0) of ``width`` x ``height``."""

    def value(size: int, rate: float) -> float:
        return rate if metric == "msg/s" else rate * size / 1e6

    points = [(s, value(s, r)) for line in series for s, r in line.points if r > 0]
    out: list[str] = []
    title = "messages per second" if metric == "msg/s" else "megabytes per second (payload)"
    out.append(
        f'<text x="{x0 + width / 2:.1f}" y="{y0 - 12:.1f}" text-anchor="middle" '
        f'font-weight="bold">{escape(title)}</text>'
    )
    out.append(
        f'<rect x="{x0}" y="{y0}" width="{width}" height="{height}" fill="none" stroke="#333"/>'
    )
    if not points:
        out.append(
            f'<text x="{x0 + width / 2:.1f}" y="{y0 + height / 2:.1f}" '
            'text-anchor="middle">no data</text>'
        )
        return out
    sizes = sorted({p[0] for p in points})
    x_lo, x_hi = sizes[0] / 1.5, sizes[-1] * 1.5
    y_ticks = _decades(min(p[1] for p in points), max(p[1] for p in points))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]
    if y_lo == y_hi:
        y_lo, y_hi = y_lo / 10, y_hi * 10
        y_ticks = [y_lo, y_ticks[0], y_hi]

    def sx(size: float) -> float:
        span = math.log(x_hi) - math.log(x_lo)
        return x0 + (math.log(size) - math.log(x_lo)) / span * width

    def sy(v: float) -> float:
        span = math.log(y_hi) - math.log(y_lo)
        return y0 + height - (math.log(v) - math.log(y_lo)) / span * height

    for size in sizes:
        x = sx(size)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + height}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x:.1f}" y="{y0 + height + 16:.1f}" text-anchor="middle">'
            f"{escape(_size_label(size))}</text>"
        )
    for tick in y_ticks:
        y = sy(tick)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + width}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{_rate_label(tick)}</text>'
        )
    out.append(
        f'<text x="{x0 + width / 2:.1f}" y="{y0 + height + 34:.1f}" '
        'text-anchor="middle">message size</text>'
    )
    colours: dict[str, str] = {}
    for line in series:
        coords = [
            (sx(s), sy(value(s, r))) for s, r in sorted(line.points) if r > 0 and value(s, r) > 0
        ]
        if not coords:
            continue
        colour = _colour(line.impl, colours)
        dash = DASHES.get(line.transport, "")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
            f"{dash_attr}><title>{escape(line.label)}</title></polyline>"
        )
        out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords)
    return out


def svg(series: Sequence[Series], title: str) -> str:
    """The whole figure as an SVG document."""
    width, height = 980, 470
    margin_left, panel_w, panel_h, gap, top = 70, 380, 300, 110, 70
    body: list[str] = [
        f'<text x="{width / 2}" y="28" text-anchor="middle" font-size="16" '
        f'font-weight="bold">{escape(title)}</text>'
    ]
    body += _panel(series, "msg/s", margin_left, top, panel_w, panel_h)
    body += _panel(series, "MB/s", margin_left + panel_w + gap, top, panel_w, panel_h)
    # Legend: one entry per line, below the charts.
    colours: dict[str, str] = {}
    x, y = margin_left, top + panel_h + 62
    for line in series:
        colour = _colour(line.impl, colours)
        dash = DASHES.get(line.transport, "")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>'
        )
        body.append(f'<text x="{x + 34}" y="{y + 4}">{escape(line.label)}</text>')
        x += 150
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def _png(series: Sequence[Series], title: str, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            "a PNG plot (.svg needs nothing)", "matplotlib", "plot", exc
        ) from exc
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
    colours: dict[str, str] = {}
    for ax, metric in zip(axes, ("msg/s", "MB/s"), strict=True):
        for line in series:
            pts = sorted(line.points)
            xs = [s for s, r in pts if r > 0]
            ys = [r if metric == "msg/s" else r * s / 1e6 for s, r in pts if r > 0]
            dash = DASHES.get(line.transport, "")
            style = (0, tuple(int(d) for d in dash.split(","))) if dash else "solid"
            ax.plot(
                xs,
                ys,
                marker="o",
                color=_colour(line.impl, colours),
                linestyle=style,
                label=line.label,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        sizes = sorted({s for line in series for s, _ in line.points})
        ax.set_xticks(sizes, [_size_label(s) for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("message size (bytes)")
        ax.set_title("messages per second" if metric == "msg/s" else "megabytes per second")
        ax.grid(True, which="major", color="#ddd")
    axes[0].legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plot(series: Sequence[Series], path: str | Path, title: str) -> Path:
    """Write ``series`` to ``path``: ``.svg`` (no dependency) or ``.png`` (matplotlib)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        target.write_text(svg(series, title), encoding="utf-8")
    elif suffix == ".png":
        _png(series, title, target)
    else:
        raise ValueError(f"{target.name}: the plot is written as .svg or .png")
    return target
