"""Collecting run folders (the output of `bench run`) for the leaderboard.

A run folder holds `results.json` (written last, atomically, by the engine), `per_image.csv` and
`predictions/<id>.png`. `collect_runs` finds every `results.json` below a folder, validates the fields
the leaderboard relies on, and returns the valid runs plus one warning per broken file (naming it), so
one bad run never hides the others.

Runs are only comparable when they were scored on the same data with the same metric settings
(FID backend/weights, SSIM window, ...; see the metrics notes). `group_runs` therefore splits runs by
(dataset fingerprint, split, metric-settings hash); tables, statistics and plots are built per group
and never rank runs of different groups together.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dataset_tools.errors import UserError

# Metric key -> (display name, higher is better). Order is the order of table rows and CSV columns.
METRICS: dict[str, tuple[str, bool]] = {
    "psnr": ("PSNR (dB)", True),
    "psnr_hole": ("PSNR hole (dB)", True),
    "ssim": ("SSIM", True),
    "l1_hole": ("L1 hole", False),
    "fid": ("FID", False),
    "kid_mean": ("KID", False),
}
PER_IMAGE_METRICS: tuple[str, ...] = ("psnr", "psnr_hole", "ssim", "l1_hole")
REQUIRED_METRICS: tuple[str, ...] = ("psnr", "ssim")

# The paper's model is one method ("proposed") with ablation variants; their variant is the row key.
PAPER_VARIANTS: tuple[str, ...] = ("proposed", "model1", "model2")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


# Sections of metric_settings that only concern the distribution metrics (FID, KID). They are recorded
# even when FID/KID are null (e.g. `inception_sha256: null` without weights), so they do not split the
# per-image metrics into groups; instead FID/KID are only ranked among runs whose sections agree
# (see `Run.fid_settings_hash` and `tables.comparable`).
DISTRIBUTION_SECTIONS: tuple[str, ...] = ("fid", "kid")


def settings_hash(settings: Any) -> str:
    """Short stable hash of a run's `metric_settings` (canonical JSON)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def entry_key(method: str, variant: str | None) -> str:
    """The leaderboard's name for what a run measured: the variant for the paper's model and its
    ablations (`proposed`, `model1`, `model2`), the method name otherwise (`method-variant` when a
    non-paper method reports a variant of its own)."""
    variant = variant or method
    if variant in PAPER_VARIANTS:
        return variant
    return method if variant == method else f"{method}-{variant}"


@dataclass
class Run:
    """One valid run folder."""

    path: Path  # the run folder
    results: dict[str, Any]

    @property
    def method(self) -> str:
        return self.results["method"]

    @property
    def variant(self) -> str:
        return self.results.get("variant") or self.method

    @property
    def key(self) -> str:
        return entry_key(self.method, self.variant)

    @property
    def preset(self) -> str:
        return str(self.results.get("preset") or "default")

    @property
    def seed(self) -> int | None:
        seed = self.results.get("seed")
        return int(seed) if _is_number(seed) else None

    @property
    def dataset(self) -> dict[str, Any]:
        return self.results["dataset"]

    @property
    def fingerprint(self) -> str:
        return str(self.dataset["fingerprint"])

    @property
    def split(self) -> str:
        return str(self.results.get("split") or "test")

    @property
    def settings(self) -> dict[str, Any]:
        return self.results.get("metric_settings") or {}

    @property
    def settings_hash(self) -> str:
        """Hash of the metric settings that every metric depends on (all but the FID/KID sections)."""
        return settings_hash({k: v for k, v in self.settings.items() if k not in DISTRIBUTION_SECTIONS})

    @property
    def fid_settings_hash(self) -> str:
        """Hash of the FID/KID sections of the metric settings."""
        return settings_hash({k: self.settings.get(k) for k in DISTRIBUTION_SECTIONS})

    @property
    def group_key(self) -> tuple[str, str, str]:
        return (self.fingerprint, self.split, self.settings_hash)

    def metric(self, name: str) -> float | None:
        v = (self.results.get("metrics") or {}).get(name)
        return float(v) if _is_number(v) else None

    @property
    def predictions_dir(self) -> Path:
        return self.path / "predictions"

    @cached_property
    def per_image(self) -> list[dict[str, Any]] | None:
        """Rows of per_image.csv (numbers parsed), or None when the file is absent or unreadable."""
        p = self.path / "per_image.csv"
        if not p.is_file():
            return None
        try:
            with open(p, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error):
            return None
        out = []
        for r in rows:
            if "id" not in r:
                return None
            row: dict[str, Any] = dict(r)
            for k in (*PER_IMAGE_METRICS, "occlusion_ratio"):
                try:
                    row[k] = float(r[k]) if r.get(k) not in (None, "") else None
                except ValueError:
                    row[k] = None
            out.append(row)
        return out

    def record(self) -> dict[str, Any]:
        """One flat machine-readable row (csv/json formats)."""
        ds = self.dataset
        rec: dict[str, Any] = {
            "run": self.path.name,
            "method": self.method,
            "variant": self.variant,
            "entry": self.key,
            "preset": self.preset,
            "seed": self.seed,
            "dataset_name": ds.get("name"),
            "dataset_fingerprint": self.fingerprint,
            "synthetic": ds.get("synthetic"),
            "split": self.split,
            "n": self.results.get("n"),
            "metric_settings_hash": self.settings_hash,
            "fid_settings_hash": self.fid_settings_hash,
        }
        for m in METRICS:
            rec[m] = self.metric(m)
        rec["kid_std"] = self.metric("kid_std")
        training = self.results.get("training") or {}
        rec["steps"] = training.get("steps")
        rec["wall_seconds"] = training.get("wall_seconds")
        rec["git_commit"] = (self.results.get("provenance") or {}).get("git_commit")
        return rec


def validate_results(data: Any) -> list[str]:
    """Problems that make a results.json unusable (empty list = valid)."""
    if not isinstance(data, dict):
        return ["top level is not a JSON object"]
    problems = []
    for k in ("method", "preset"):
        if not isinstance(data.get(k), str) or not data.get(k):
            problems.append(f"'{k}' missing or not a string")
    if "variant" in data and data["variant"] is not None and not isinstance(data["variant"], str):
        problems.append("'variant' is not a string")
    if "seed" in data and data["seed"] is not None and not _is_number(data["seed"]):
        problems.append("'seed' is not a number")
    ds = data.get("dataset")
    if not isinstance(ds, dict) or not isinstance(ds.get("fingerprint"), str) or not ds.get("fingerprint"):
        problems.append("'dataset.fingerprint' missing")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        problems.append("'metrics' missing")
    else:
        for m in REQUIRED_METRICS:
            if not _is_number(metrics.get(m)):
                problems.append(f"'metrics.{m}' missing or not a finite number")
        for m in METRICS:
            v = metrics.get(m)
            if v is not None and not _is_number(v):
                problems.append(f"'metrics.{m}' is not a finite number or null")
    if "metric_settings" in data and not isinstance(data["metric_settings"], dict):
        problems.append("'metric_settings' is not an object")
    return problems


def collect_runs(root: str | Path) -> tuple[list[Run], list[str]]:
    """Every valid run below `root` (sorted by folder) and one warning per skipped results.json.

    When the same (entry, preset, seed, dataset, settings) appears twice (a re-run into another
    folder), the later folder (by name, i.e. the higher run number) wins and a warning says so.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"runs folder {str(root)!r} does not exist")
    runs: list[Run] = []
    warnings: list[str] = []
    for p in sorted(root.rglob("results.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            warnings.append(f"skipping {p}: not readable JSON ({e.__class__.__name__}: {e})")
            continue
        problems = validate_results(data)
        if problems:
            warnings.append(f"skipping {p}: " + "; ".join(problems))
            continue
        runs.append(Run(p.parent, data))
    seen: dict[tuple, Run] = {}
    for r in runs:
        ident = (r.key, r.preset, r.seed, r.group_key)
        if ident in seen:
            warnings.append(f"{seen[ident].path} and {r.path} are the same run (entry {r.key}, preset {r.preset}, "
                            f"seed {r.seed}); using the later one, {r.path.name}")
        seen[ident] = r
    kept = sorted(seen.values(), key=lambda r: str(r.path))
    return kept, warnings


@dataclass
class Group:
    """Runs scored on the same data (fingerprint, split) with the same metric settings."""

    fingerprint: str
    split: str
    settings_hash: str
    runs: list[Run] = field(default_factory=list)

    @property
    def dataset_name(self) -> str:
        return str(self.runs[0].dataset.get("name") or "dataset")

    @property
    def synthetic(self) -> bool:
        return bool(self.runs[0].dataset.get("synthetic"))

    @property
    def settings(self) -> dict[str, Any]:
        return self.runs[0].settings

    @property
    def slug(self) -> str:
        return f"g{self.fingerprint[:8]}-{self.split}-{self.settings_hash[:6]}"  # ids must not start with a digit

    @property
    def heading(self) -> str:
        syn = " (synthetic)" if self.synthetic and "synthetic" not in self.dataset_name.lower() else ""
        return (f"{self.dataset_name}{syn}, {self.split} split: dataset fingerprint {self.fingerprint[:12]}, "
                f"metric settings {self.settings_hash}")


def group_runs(runs: list[Run]) -> list[Group]:
    """Split runs into comparable groups, largest first (ties: by fingerprint) — deterministic."""
    groups: dict[tuple[str, str, str], Group] = {}
    for r in runs:
        g = groups.setdefault(r.group_key, Group(*r.group_key))
        g.runs.append(r)
    return sorted(groups.values(), key=lambda g: (-len(g.runs), g.fingerprint, g.split, g.settings_hash))
