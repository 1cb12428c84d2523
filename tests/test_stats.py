"""`bench dataset-stats`: report and plots of a built dataset (the shared tiny_dataset fixture)."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli


def test_dataset_stats_report(tiny_dataset: Path, tmp_path: Path):
    out = tmp_path / "stats"
    r = CliRunner().invoke(cli, ["dataset-stats", str(tiny_dataset), "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    text = (out / "report.md").read_text(encoding="utf-8")
    with open(tiny_dataset / "metadata.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    n_test = sum(r["split"] == "test" for r in rows)
    assert "Synthetic data" in text and f"test {n_test}" in text
    for sev in ("mild", "moderate", "severe"):
        assert f"| {sev} |" in text
    train_mild = sum(r["split"] == "train" and r["severity"] == "mild" for r in rows)
    test_mild = sum(r["split"] == "test" and r["severity"] == "mild" for r in rows)
    assert f"| mild | (0, 0.1] | {train_mild} | {test_mild} |" in text
    for name in ("occlusion_ratio.png", "occluder_classes.png", "severity.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 300
    r = CliRunner().invoke(cli, ["dataset-stats", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "does not exist" in r.output
