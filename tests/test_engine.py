"""`bench run` end to end with the classical methods: run folder, results.json, composite, evaluate round trip,
the Hub parquet layout as input, and one-line errors for bad options."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli
from dataset_tools.dataset import BuiltDataset

CLASSICAL = ("occluded", "telea", "navier-stokes", "biharmonic")


def bench(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def classical_runs(tiny_dataset: Path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    runs = {}
    for m in CLASSICAL:
        r = bench("run", "--method", m, "--data", tiny_dataset, "--out", out, "--seed", "0", "--quiet")
        assert r.exit_code == 0, r.output
        runs[m] = Path(r.stdout.strip().splitlines()[-1])
    return runs


def test_run_folders_and_files(classical_runs, tiny_dataset):
    names = sorted(p.name for p in classical_runs.values())
    assert names == ["00000-occluded-default-s0", "00001-telea-default-s0", "00002-navier-stokes-default-s0",
                     "00003-biharmonic-default-s0"]
    test_ids = sorted(s.id for s in BuiltDataset(tiny_dataset).split("test"))
    for m, run in classical_runs.items():
        for f in ("config.json", "log.txt", "per_image.csv", "results.json", "samples/final.png"):
            assert (run / f).is_file(), (m, f)
        assert sorted(p.stem for p in (run / "predictions").glob("*.png")) == test_ids
        config = json.loads((run / "config.json").read_text())
        assert config["method"] == m and config["variant"] == m and config["preset"] == "default"
        assert config["dataset"]["fingerprint"] == json.loads((tiny_dataset / "dataset.json").read_text())["fingerprint"]
        with open(run / "per_image.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["id"] for r in rows] == test_ids
        assert list(rows[0]) == ["id", "severity", "occluder_classes", "occlusion_ratio", "psnr", "psnr_hole", "ssim",
                                 "l1_hole"]
        assert not list(run.rglob(".tmp-*"))


def test_results_json_fields(classical_runs, tiny_dataset):
    info = json.loads((tiny_dataset / "dataset.json").read_text())
    for m, run in classical_runs.items():
        r = json.loads((run / "results.json").read_text())
        assert r["method"] == m and r["variant"] == m and r["preset"] == "default" and r["seed"] == 0
        assert r["dataset"]["name"] == info["name"] and r["dataset"]["fingerprint"] == info["fingerprint"]
        assert r["split"] == "test" and r["n"] == len(BuiltDataset(tiny_dataset).split("test"))
        assert set(r["metrics"]) >= {"psnr", "psnr_hole", "ssim", "l1_hole", "fid", "kid_mean", "kid_std"}
        assert set(r["breakdown"]) == {"severity", "occluder_class"}
        assert sum(b["n"] for b in r["breakdown"]["severity"].values()) == r["n"]
        assert r["metric_settings"]["scored_on"] == "composite"
        assert set(r["training"]) >= {"epochs", "steps", "wall_seconds", "device", "world_size"}
        assert r["training"]["steps"] == 0 and r["training"]["world_size"] == 1
        assert r["provenance"]["seed"] == 0 and "torch" in r["provenance"]["package_versions"]
        assert "git_commit" in r["provenance"]
        if r["metrics"]["fid"] is None:
            assert r["metric_notes"]["fid"]  # the reason is written down
    # the classical fills differ from doing nothing inside the hole (better or worse depends on the occluders)
    occ = json.loads((classical_runs["occluded"] / "results.json").read_text())["metrics"]
    for m in ("telea", "navier-stokes", "biharmonic"):
        assert json.loads((classical_runs[m] / "results.json").read_text())["metrics"]["l1_hole"] != occ["l1_hole"]


def test_composite_outside_the_mask_is_the_input_byte_for_byte(classical_runs, tiny_dataset):
    ds = BuiltDataset(tiny_dataset)
    for m, run in classical_runs.items():
        for s in ds.split("test"):
            pred = np.asarray(Image.open(run / "predictions" / f"{s.id}.png"))
            occ, gt, mask = ds.load(s, "occluded"), ds.load(s, "image"), ds.load(s, "mask")
            assert pred.dtype == np.uint8 and pred.shape == gt.shape
            assert np.array_equal(pred[mask == 0], occ[mask == 0]), (m, s.id)
            assert np.array_equal(pred[mask == 0], gt[mask == 0])
            if m == "occluded":
                assert np.array_equal(pred, occ)


def test_occluded_psnr_hole_equals_direct_computation(classical_runs, tiny_dataset):
    ds = BuiltDataset(tiny_dataset)
    values = []
    for s in ds.split("test"):
        gt = ds.load(s, "image").astype(np.float64) / 255
        occ = ds.load(s, "occluded").astype(np.float64) / 255
        hole = ds.load(s, "mask") > 127
        mse = ((gt[hole] - occ[hole]) ** 2).mean()
        values.append(10 * np.log10(1.0 / mse))
    r = json.loads((classical_runs["occluded"] / "results.json").read_text())
    assert r["metrics"]["psnr_hole"] == pytest.approx(float(np.mean(values)), abs=1e-9)


def test_evaluate_reproduces_a_runs_metrics(classical_runs, tiny_dataset, tmp_path):
    run = classical_runs["telea"]
    r = bench("evaluate", "--data", tiny_dataset, "--predictions", run / "predictions", "--name", "telea-again",
              "--out", tmp_path / "ev", "--quiet")
    assert r.exit_code == 0, r.output
    ev = json.loads((tmp_path / "ev" / "results.json").read_text())
    mine = json.loads((run / "results.json").read_text())
    assert ev["metrics"] == mine["metrics"]
    assert ev["breakdown"] == mine["breakdown"]
    assert (tmp_path / "ev" / "per_image.csv").read_text() == (run / "per_image.csv").read_text()


def _write_parquet(ds_dir: Path, out: Path) -> Path:
    """The Hub layout of interfaces.md written by hand with pyarrow (independent of `bench publish`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = BuiltDataset(ds_dir)
    (out / "data").mkdir(parents=True)
    for split in ("train", "test"):
        rows = []
        for s in sorted(ds.split(split), key=lambda s: s.id):
            row = {k: {"bytes": (ds_dir / getattr(s, k)).read_bytes(), "path": f"{s.id}.png"}
                   for k in ("image", "occluded", "mask", "segmentation")}
            row.update(id=s.id, split=s.split, identity=s.identity, source=s.source,
                       occlusion_ratio=s.occlusion_ratio, severity=s.severity,
                       occluder_classes=";".join(s.occluder_classes), eyes_occluded=s.eyes_occluded)
            rows.append(row)
        pq.write_table(pa.Table.from_pylist(rows), out / "data" / f"{split}-00000-of-00001.parquet")
    (out / "README.md").write_text("card\n")
    return out


def test_parquet_layout_gives_the_same_scores(classical_runs, tiny_dataset, tmp_path):
    hub = _write_parquet(tiny_dataset, tmp_path / "hub")
    r = bench("run", "--method", "telea", "--data", hub, "--out", tmp_path / "runs", "--quiet")
    assert r.exit_code == 0, r.output
    run = Path(r.stdout.strip().splitlines()[-1])
    got = json.loads((run / "results.json").read_text())
    ref = json.loads((classical_runs["telea"] / "results.json").read_text())
    assert got["metrics"] == ref["metrics"] and got["n"] == ref["n"]
    assert got["dataset"]["fingerprint"].startswith("parquet-sha256:")
    for p in (classical_runs["telea"] / "predictions").glob("*.png"):
        assert (run / "predictions" / p.name).read_bytes() == p.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["run", "--method", "nope", "--data", "{ds}"], "unknown method 'nope'"),
    (["run", "--method", "telea"], "needs --data"),
    (["run", "--data", "{ds}"], "needs --method"),
    (["run", "--method", "telea", "--data", "{tmp}/missing"], "does not exist"),
    (["run", "--method", "telea", "--data", "{ds}", "--set", "radius"], "key=value"),
    (["run", "--method", "telea", "--data", "{ds}", "--set", "radiuss=4"], "no such config field"),
    (["run", "--method", "telea", "--data", "{ds}", "--preset", "paper"], "has no preset 'paper'"),
    (["run", "--method", "telea", "--data", "{ds}", "--amp", "bf16", "--device", "cpu"], "needs a CUDA device"),
    (["run", "--method", "telea", "--data", "{ds}", "--vgg-weights", "{ds}/dataset.json"], "uses no VGG"),
    (["run", "--method", "telea", "--data", "{ds}", "--epochs", "0"], "at least 1"),
    (["run", "--resume", "{tmp}"], "not a run folder"),
    (["run", "--resume", "{tmp}", "--seed", "3"], "drop the other options"),
    (["ablation", "--data", "{ds}"], "exactly one of --variant"),
])
def test_bad_options_are_one_line_exit_2(tiny_dataset, tmp_path, args, message):
    args = [a.format(ds=tiny_dataset, tmp=tmp_path) for a in args]
    r = bench(*args, "--out", str(tmp_path / "runs")) if "--resume" not in args else bench(*args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.strip().splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and message in lines[0], r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_option_in_a_real_process_prints_no_traceback(tiny_dataset, tmp_path):
    p = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--method", "telea", "--data",
                        str(tiny_dataset), "--set", "bogus=1", "--out", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and p.stderr.startswith("Error: --set bogus")


def test_missing_weights_fail_before_a_run_folder_exists(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # no VGG16 weights there
    out = tmp_path / "runs"
    r = bench("run", "--method", "proposed", "--preset", "paper", "--data", str(tiny_dataset), "--out", str(out),
              "--max-steps", "1", "--quiet")
    assert r.exit_code == 2 and "VGG16 ImageNet weights not found" in r.output and "--vgg-weights" in r.output
    assert not out.exists() or not any(out.iterdir())  # nothing half-made is left behind
