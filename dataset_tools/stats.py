"""`bench dataset-stats DIR`: a short report about a built dataset, as markdown plus PNG plots.

Writes (atomically) into `--out` (default `DIR/stats/`):
- `report.md`: name (and the synthetic label), builder version, seed, samples per split, identities,
  occlusion-ratio summary per split, counts per severity bin and split, per occluder class, eyes
  occluded, rejected source files;
- `occlusion_ratio.png`: histogram of the measured occlusion ratio per split, severity-bin edges marked;
- `occluder_classes.png`: samples per occluder class and split (a sample with two classes counts for both);
- `severity.png`: samples per severity bin and split.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import click
import numpy as np

from dataset_tools import fileio
from dataset_tools.dataset import SPLITS, BuiltDataset


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # no version stamp: same input, same bytes
    return buf.getvalue()


def _bars(ax, labels, series: dict[str, list[int]]) -> None:
    x = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    for i, (name, vals) in enumerate(series.items()):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=name)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(x, labels)
    ax.legend()


def compute(ds: BuiltDataset) -> dict:
    bins = {k: tuple(v) for k, v in ds.info.get("severity_bins", {}).items()}
    sev_names = list(bins) or sorted({s.severity for s in ds.samples})
    classes = [c for c in ds.legend if c != "visible"] or sorted({c for s in ds.samples for c in s.occluder_classes})
    out = {"bins": bins, "severity_names": sev_names, "classes": classes, "splits": {}}
    for split in SPLITS:
        ss = ds.split(split)
        r = np.array([s.occlusion_ratio for s in ss], float)
        out["splits"][split] = {
            "n": len(ss),
            "identities": len({s.identity for s in ss}),
            "ratios": r,
            "ratio": {"mean": float(r.mean()) if len(r) else float("nan"), "median": float(np.median(r)) if len(r) else float("nan"),
                      "min": float(r.min()) if len(r) else float("nan"), "max": float(r.max()) if len(r) else float("nan")},
            "severity": Counter(s.severity for s in ss),
            "classes": Counter(c for s in ss for c in s.occluder_classes),
            "eyes_occluded": sum(s.eyes_occluded for s in ss),
        }
    return out


def report_markdown(ds: BuiltDataset, st: dict) -> str:
    info = ds.info
    sp = st["splits"]
    lines = [f"# {ds.name}", ""]
    if ds.synthetic:
        lines += ["> **Synthetic data**: procedural stand-in images, not real panda photos.", ""]
    lines += [
        f"- builder version {info.get('builder_version')}, seed {info.get('seed')}, fingerprint `{ds.fingerprint[:16]}`",
        f"- source: {info.get('source', {}).get('name')} ({'synthetic' if ds.synthetic else 'real images'})",
        f"- samples: {len(ds.samples)} (" + ", ".join(f"{k} {sp[k]['n']}" for k in SPLITS) + f"); identities: "
        f"{len({s.identity for s in ds.samples})}; rejected source files: {info.get('rejected', 0)}",
        "",
        "## Occlusion ratio (share of pixels in the mask)",
        "",
        "| split | n | mean | median | min | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in SPLITS:
        r = sp[k]["ratio"]
        lines.append(f"| {k} | {sp[k]['n']} | {r['mean']:.3f} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} |")
    lines += ["", "## Severity bins", "", "| bin | range | " + " | ".join(SPLITS) + " |", "|---|---|" + "---:|" * len(SPLITS)]
    for name in st["severity_names"]:
        lo, hi = st["bins"].get(name, (float("nan"), float("nan")))
        lines.append(f"| {name} | ({lo:g}, {hi:g}] | " + " | ".join(str(sp[k]["severity"].get(name, 0)) for k in SPLITS) + " |")
    lines += ["", "## Occluder classes (samples showing the class)", "", "| class | " + " | ".join(SPLITS) + " |",
              "|---|" + "---:|" * len(SPLITS)]
    for c in st["classes"]:
        lines.append(f"| {c} | " + " | ".join(str(sp[k]["classes"].get(c, 0)) for k in SPLITS) + " |")
    lines += ["", "Eyes occluded: " + ", ".join(f"{k} {sp[k]['eyes_occluded']} of {sp[k]['n']}" for k in SPLITS), "",
              "Plots: `occlusion_ratio.png`, `occluder_classes.png`, `severity.png`.", ""]
    return "\n".join(lines)


def write_stats(root: Path, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = BuiltDataset(root)
    st = compute(ds)
    written = []
    tag = " (synthetic)" if ds.synthetic else ""

    fig, ax = plt.subplots(figsize=(7, 4))
    top = max([hi for _, hi in st["bins"].values()] + [float(max((s.occlusion_ratio for s in ds.samples), default=0.5))])
    edges = np.linspace(0, max(top, 0.05), 31)
    for k in SPLITS:
        ax.hist(st["splits"][k]["ratios"], bins=edges, alpha=0.6, label=f"{k} (n={st['splits'][k]['n']})")
    for name, (lo, hi) in st["bins"].items():
        ax.axvline(hi, color="k", lw=0.8, ls="--")
        ax.text((lo + hi) / 2, 1.01, name, ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set_xlabel("occlusion ratio (mask pixels / image pixels)")
    ax.set_ylabel("samples")
    ax.set_title(f"Occlusion ratio per split{tag}", pad=16)
    ax.legend()
    fig.tight_layout()
    fileio.atomic_write_bytes(out / "occlusion_ratio.png", _png(fig))
    plt.close(fig)
    written.append(out / "occlusion_ratio.png")

    for fname, key, labels, title in (("occluder_classes.png", "classes", st["classes"], "Samples per occluder class"),
                                      ("severity.png", "severity", st["severity_names"], "Samples per severity bin")):
        fig, ax = plt.subplots(figsize=(7, 4))
        _bars(ax, labels, {k: [st["splits"][k][key].get(c, 0) for c in labels] for k in SPLITS})
        ax.set_ylabel("samples")
        ax.set_title(title + tag)
        fig.tight_layout()
        fileio.atomic_write_bytes(out / fname, _png(fig))
        plt.close(fig)
        written.append(out / fname)

    fileio.atomic_write_text(out / "report.md", report_markdown(ds, st))
    written.append(out / "report.md")
    return written


@click.command("dataset-stats")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for report.md and the plots [default: DATASET/stats].")
def dataset_stats(dataset, out):
    """Write a short report about a built dataset: markdown plus PNG plots (occlusion-ratio histogram per
    split, occluder-class and severity counts)."""
    written = write_stats(dataset, out or dataset / "stats")
    for p in written:
        click.echo(str(p))
