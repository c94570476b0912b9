"""PNG charts with matplotlib's Agg backend (no display needed).

Labels are Chinese only when a font that can draw it is installed; otherwise they stay in ASCII
(topic ids, channel ids, dates), which every font draws: no tofu boxes in a chart sent round.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "AR PL UMing CN")


def cjk_font() -> Optional[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def daily_chart(rows: Sequence, path: Path, title: str = "User turns per day (China time)") -> Path:
    """Stacked bars: one per day, one colour per channel."""
    from bot.reports.daily import channels_of
    from bot.reports.turns import channel_label

    plt = _pyplot()
    font = cjk_font()
    channels = channels_of(rows)
    days = [r.day[5:] for r in rows]  # MM-DD
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(days) + 2), 4), dpi=100)
    try:
        bottom = [0] * len(rows)
        for channel in channels:
            values = [r.channels.get(channel, 0) for r in rows]
            label = f"{channel_label(channel)} ({channel})" if font else channel
            ax.bar(days, values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_title(title, fontfamily=font or "DejaVu Sans")
        ax.set_ylabel("turns")
        if channels:
            ax.legend(prop={"family": font} if font else None)
        ax.tick_params(axis="x", labelrotation=45 if len(days) > 10 else 0)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def hot_chart(rows: Sequence, path: Path, top: int = 15) -> Path:
    """Horizontal bars of the most asked topics (topic ids; their questions too with a CJK font)."""
    plt = _pyplot()
    font = cjk_font()
    rows = list(rows)[:top][::-1]
    labels = [f"{r.topic} {r.question}" if font else r.topic for r in rows]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(rows) + 1.2)), dpi=100)
    try:
        ax.barh(labels, [r.count for r in rows])
        if font:
            for label in ax.get_yticklabels():
                label.set_fontfamily(font)
        ax.set_title("Most asked FAQ topics (answered turns)")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
