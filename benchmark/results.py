"""results.json, per_image.csv and provenance: the files `bench run` and `bench evaluate` both write.

The layout of results.json is the team contract (/tmp/team/interfaces.md, "Run folder"): method,
variant, preset, seed, dataset, split, n, metrics, metric_notes, breakdown, metric_settings, training,
provenance, config_notes. Files are written atomically through `dataset_tools.fileio` with its stable
JSON (sorted keys, no NaN/inf: `allow_nan=False`), results.json last.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from dataset_tools import fileio

__all__ = ["PER_IMAGE_COLUMNS", "PACKAGE_VERSIONS", "provenance", "build_results", "write_results",
           "write_per_image_csv", "git_commit"]

PER_IMAGE_COLUMNS: tuple[str, ...] = (
    "id", "severity", "occluder_classes", "occlusion_ratio", "psnr", "psnr_hole", "ssim", "l1_hole",
)
# key in results.json -> distribution name
PACKAGE_VERSIONS: dict[str, str] = {
    "torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "scipy": "scipy", "pillow": "pillow",
    "opencv": "opencv-python-headless", "scikit-image": "scikit-image", "pytorch-fid": "pytorch-fid",
    "ipanda-occlusion-bench": "ipanda-occlusion-bench",
}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist.startswith("opencv"):
            for alt in ("opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless"):
                try:
                    return metadata.version(alt)
                except metadata.PackageNotFoundError:
                    pass
        return None


def git_commit() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout holding this package, or (None, None) (e.g. a wheel install)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def provenance(seed: int | None, command: str | list[str] | None = None,
               weights: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The `provenance` block: git commit (+ whether tracked files were modified), python and package
    versions, seed, the command line (default: this process's argv) and {weights name: sha256}."""
    commit, dirty = git_commit()
    if command is None:
        command = [Path(sys.argv[0]).name] + sys.argv[1:]
    if not isinstance(command, str):
        command = shlex.join(str(c) for c in command)
    versions = {"python": sys.version.split()[0]}
    versions.update({k: _version(d) for k, d in PACKAGE_VERSIONS.items()})
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "package_versions": versions,
        "seed": seed,
        "command": command,
        "weights": dict(weights or {}),
    }


def _finite(obj: Any, where: str = "results") -> Any:
    """Turn non-finite floats into None so allow_nan=False never fails on a metric edge case."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, where) for v in obj]
    return obj


def build_results(*, method: str, variant: str, preset: str, seed: int | None, dataset, split: str, scores,
                  training: dict[str, Any] | None, provenance: dict[str, Any],
                  config_notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assemble results.json from a `BuiltDataset` (`dataset.describe()`), a `scoring.Scores` and the
    training/provenance blocks. The Inception sha256 from `scores.weights` is merged into
    provenance["weights"]."""
    prov = dict(provenance)
    prov["weights"] = {**(prov.get("weights") or {}), **scores.weights}
    return _finite({
        "method": method,
        "variant": variant,
        "preset": preset,
        "seed": seed,
        "dataset": dataset.describe() if hasattr(dataset, "describe") else dict(dataset),
        "split": split,
        "n": scores.n,
        "metrics": dict(scores.metrics),
        "metric_notes": dict(scores.metric_notes),
        "breakdown": scores.breakdown,
        "metric_settings": scores.metric_settings,
        "training": training if training is not None else {
            "epochs": None, "steps": None, "wall_seconds": None, "device": None, "world_size": None},
        "provenance": prov,
        "config_notes": dict(config_notes or {}),
    })


def write_results(run_dir: str | os.PathLike, results: dict[str, Any]) -> Path:
    """Atomically write `run_dir/results.json` (stable JSON, allow_nan=False) and return its path."""
    path = Path(run_dir) / "results.json"
    fileio.atomic_write_text(path, fileio.json_dumps(results))
    return path


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)  # shortest round-trip form: the CSV holds exactly the scored values
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    return str(v)


def write_per_image_csv(path: str | os.PathLike, rows: Iterable[dict[str, Any]],
                        columns: tuple[str, ...] = PER_IMAGE_COLUMNS) -> None:
    """Atomically write the per-image table (one row per sample, `columns` order; empty cell = no value)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    fileio.atomic_write_text(path, buf.getvalue())
