"""Grouped bar charts as PNG for the benchmarks: matplotlib when installed, else Pillow.

    bar_chart(path, title, groups=["stage a", ...], series={"before": [..], "after": [..]})
"""

from __future__ import annotations

from pathlib import Path

COLOURS = ["#8c8c8c", "#d9822b", "#2b7bd9", "#3aa655", "#a64ca6"]


def bar_chart(path: Path, title: str, groups: list[str], series: dict[str, list[float]],
              *, ylabel: str = "seconds (median)", line: float | None = None) -> str:
    """Draw ``series`` (label -> one value per group) as grouped bars; return the library used."""
    try:
        import matplotlib
    except ImportError:
        _pillow(path, title, groups, series, ylabel, line)
        return "Pillow"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(groups))]
        bars = ax.bar(xs, values, width, label=label, color=COLOURS[i % len(COLOURS)])
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(groups)), [g.replace(" -> ", "\n-> ") for g in groups], fontsize=8)
    ax.set_ylabel(ylabel)
    if line is not None:
        ax.axhline(line, color="grey", linestyle=":", linewidth=1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return "matplotlib"


def _pillow(path: Path, title: str, groups: list[str], series: dict[str, list[float]],
            ylabel: str, line: float | None) -> None:
    from PIL import Image, ImageDraw, ImageFont

    w, h, left, right, top, bottom = 1200, 560, 70, 20, 50, 110
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    top_value = max(max(v) for v in series.values()) * 1.12 or 1.0
    plot_h = h - top - bottom

    def y(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    draw.text((left, 15), title, fill="black", font=font)
    draw.text((5, top - 20), ylabel, fill="black", font=font)
    steps = 5
    for i in range(steps + 1):  # grid and axis labels
        value = top_value * i / steps
        draw.line([(left, y(value)), (w - right, y(value))], fill="#e6e6e6")
        draw.text((left - 45, y(value) - 6), f"{value:.2f}", fill="black", font=font)
    if line is not None and line < top_value:
        for x in range(left, w - right, 8):
            draw.line([(x, y(line)), (x + 4, y(line))], fill="#808080")
    slot = (w - left - right) / len(groups)
    bar = slot * 0.8 / len(series)
    for j, group in enumerate(groups):
        for i, (_, values) in enumerate(series.items()):
            x0 = left + j * slot + slot * 0.1 + i * bar
            draw.rectangle([x0, y(values[j]), x0 + bar - 2, y(0)],
                           fill=COLOURS[i % len(COLOURS)])
            draw.text((x0, y(values[j]) - 12), f"{values[j]:.2f}", fill="black", font=font)
        for k, part in enumerate(group.replace(" -> ", "\n-> ").split("\n")):
            draw.text((left + j * slot + 4, h - bottom + 8 + 12 * k), part, fill="black",
                      font=font)
    for i, label in enumerate(series):  # legend
        x0, y0 = left + 10, h - 40 + 0 * i
        x0 += i * 270
        draw.rectangle([x0, y0, x0 + 12, y0 + 12], fill=COLOURS[i % len(COLOURS)])
        draw.text((x0 + 18, y0), label, fill="black", font=font)
    img.save(path)
