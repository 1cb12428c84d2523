"""PNG plots for one comparable group (matplotlib, Agg backend, no display needed).

- one bar chart per metric across entries (error bars = 95% bootstrap interval over seeds, when an
  entry has several runs);
- metric against occlusion severity, one line per entry (bins ordered mildest to most severe).
PNGs are written atomically and without a timestamp/software tag, so the same runs give the same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dataset_tools import fileio  # noqa: E402
from leaderboard.runs import METRICS  # noqa: E402
from leaderboard.tables import TABLE_METRICS, GroupReport, comparable  # noqa: E402

SEVERITY_METRICS = ("psnr", "psnr_hole", "ssim")


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    fileio.atomic_write_bytes(path, buf.getvalue())


def bar_charts(gr: GroupReport, out_dir: Path) -> list[tuple[str, Path]]:
    """One bar chart per metric that at least one entry has; returns (caption, path) pairs."""
    written = []
    for m in TABLE_METRICS:
        name, higher = METRICS[m]
        if not comparable(gr.entries, m):
            continue  # FID/KID with different settings: no chart that would rank them
        labels, means, errs = [], [], []
        for e in gr.entries:
            est = e.estimate(m)
            if est is None:
                continue
            labels.append(e.label)
            means.append(est.mean)
            errs.append((est.mean - est.lo, est.hi - est.mean) if est.lo is not None else (0.0, 0.0))
        if not labels:
            continue
        fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(labels) + 1.5), 3.2))
        x = range(len(labels))
        best = max(means) if higher else min(means)
        colors = ["#d62728" if v == best else "#1f77b4" for v in means]
        ax.bar(x, means, color=colors, yerr=list(zip(*errs)) if any(any(e) for e in errs) else None, capsize=3)
        ax.set_xticks(list(x), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(name)
        ax.set_title(f"{name} ({'higher' if higher else 'lower'} is better)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"{gr.group.slug}-bar-{m}.png"
        _save(fig, path)
        written.append((f"{name} per method", path))
    return written


def severity_plots(gr: GroupReport, out_dir: Path) -> list[tuple[str, Path]]:
    """Metric against severity bin, one line per entry; returns (caption, path) pairs."""
    bins = gr.severity_bins
    if not bins:
        return []
    written = []
    for m in SEVERITY_METRICS:
        name, higher = METRICS[m]
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        drew = False
        for e in gr.entries:
            b = e.breakdown("severity")
            ys = [b.get(s, {}).get(m) for s in bins]
            if all(y is None for y in ys):
                continue
            xs = [i for i, y in enumerate(ys) if y is not None]
            ax.plot(xs, [ys[i] for i in xs], marker="o", label=e.label)
            drew = True
        if not drew:
            plt.close(fig)
            continue
        ax.set_xticks(range(len(bins)), bins)
        ax.set_xlabel("occlusion severity")
        ax.set_ylabel(name)
        ax.set_title(f"{name} by occlusion severity", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = out_dir / f"{gr.group.slug}-severity-{m}.png"
        _save(fig, path)
        written.append((f"{name} by occlusion severity", path))
    return written
