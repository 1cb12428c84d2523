"""The dataset builder end to end: determinism, the mask invariant, ratios, splits, resume, bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli
from dataset_tools.split import split_samples


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metadata.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    r = run_cli("build-dataset", "--source", "synthetic", "--num-images", "30", "--size", "64",
                "--identities", "5", "--seed", "3", "--workers", "1", "--quiet", "--out", str(out))
    assert r.exit_code == 0, r.output
    return out


def test_outputs_and_metadata(built: Path):
    rows = read_rows(built)
    assert len(rows) == 30
    assert list(rows[0])[:12] == ["id", "split", "identity", "source", "image", "occluded", "mask", "segmentation",
                                  "occlusion_ratio", "severity", "occluder_classes", "eyes_occluded"]
    info = json.loads((built / "dataset.json").read_text())
    assert info["synthetic"] is True and "synthetic" in info["name"]
    assert info["counts"]["total"] == 30
    assert info["legend"]["visible"] == 0 and info["legend"]["bamboo"] == 1
    # every file written is listed with its sha256
    for rel, digest in info["files"].items():
        assert hashlib.sha256((built / rel).read_bytes()).hexdigest() == digest
    assert not (built / ".build").exists()
    assert (built / "rejected.csv").read_text().startswith("source,reason")


def test_mask_invariant_and_measured_ratio(built: Path):
    info = json.loads((built / "dataset.json").read_text())
    bins = info["severity_bins"]
    for row in read_rows(built):
        gt = np.asarray(Image.open(built / row["image"]))
        occ = np.asarray(Image.open(built / row["occluded"]))
        mask = np.asarray(Image.open(built / row["mask"]))
        seg = np.asarray(Image.open(built / row["segmentation"]))
        assert gt.shape == (64, 64, 3) and mask.shape == (64, 64)
        assert set(np.unique(mask)) <= {0, 255}
        outside = mask == 0
        assert np.array_equal(occ[outside], gt[outside]), row["id"]  # byte for byte outside the mask
        assert np.all(seg[outside] == 0) and np.all(seg[~outside] > 0)
        assert (occ[~outside] != gt[~outside]).any()
        ratio = float(row["occlusion_ratio"])
        assert abs(ratio - (mask > 0).mean()) < 1e-5
        names = list(bins)
        lo, hi = bins[row["severity"]]
        in_bin = lo < ratio <= hi
        below_all = row["severity"] == names[0] and ratio <= bins[names[0]][0]
        above_all = row["severity"] == names[-1] and ratio > bins[names[-1]][1]
        assert in_bin or below_all or above_all, (row["id"], ratio, row["severity"])
        assert row["occluder_classes"] and all(c in info["legend"] for c in row["occluder_classes"].split(";"))


def test_split_is_two_to_one_and_stratified(built: Path):
    rows = read_rows(built)
    test = [r for r in rows if r["split"] == "test"]
    assert len(test) == 10
    for ident in {r["identity"] for r in rows}:
        splits = {r["split"] for r in rows if r["identity"] == ident}
        assert splits == {"train", "test"}


def test_split_by_identity_is_disjoint():
    idents = [f"id{i % 7}" for i in range(70)]
    splits = split_samples(idents, (2, 1), seed=0, by="identity")
    train = {i for i, s in zip(idents, splits) if s == "train"}
    test = {i for i, s in zip(idents, splits) if s == "test"}
    assert train and test and not (train & test)
    assert 15 <= splits.count("test") <= 30


def test_deterministic_across_workers_and_seeds(built: Path, tmp_path: Path):
    out = tmp_path / "w2"
    r = run_cli("build-dataset", "--source", "synthetic", "--num-images", "30", "--size", "64",
                "--identities", "5", "--seed", "3", "--workers", "2", "--quiet", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert tree_digest(out) == tree_digest(built)
    # the same in a fresh `bench` process (no torch, one thread): there the workers are plain forks, in this test
    # process (torch loaded) they come from a forkserver; the bytes must not depend on it
    fresh = tmp_path / "w2-fresh"
    cmd = [sys.executable, "-c", "from benchmark.cli import main; main()", "build-dataset", "--source", "synthetic",
           "--num-images", "30", "--size", "64", "--identities", "5", "--seed", "3", "--workers", "2", "--quiet",
           "--out", str(fresh)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert tree_digest(fresh) == tree_digest(built)
    other = tmp_path / "seed4"
    r = run_cli("build-dataset", "--source", "synthetic", "--num-images", "30", "--size", "64",
                "--identities", "5", "--seed", "4", "--workers", "1", "--quiet", "--out", str(other))
    assert r.exit_code == 0
    assert (other / "masks" / "s00000.png").read_bytes() != (built / "masks" / "s00000.png").read_bytes()


def test_resume_after_sigkill(tmp_path: Path):
    args = ["build-dataset", "--source", "synthetic", "--num-images", "150", "--size", "96", "--identities", "6",
            "--seed", "1", "--workers", "1", "--quiet"]
    ref = tmp_path / "ref"
    assert run_cli(*args, "--out", str(ref)).exit_code == 0

    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from benchmark.cli import main; main()", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / ".build" / "records"
    deadline = time.time() + 120
    while time.time() < deadline:
        if records.is_dir() and len(list(records.iterdir())) >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "dataset.json").exists(), "build finished before it could be killed; make it bigger"
    # damage one finished sample's file as a crash of the machine could: the resume must redo it
    victims = sorted((out / "images").glob("*.png"))
    victims[0].write_bytes(b"")
    r = run_cli(*args, "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "resumed" in r.output
    assert tree_digest(out) == tree_digest(ref)


def _write_folder_source(root: Path) -> None:
    rng = np.random.default_rng(0)
    for ident in ("01_alpha", "02_béta", "03_熊猫"):
        d = root / ident
        d.mkdir(parents=True)
        for k in range(4):
            arr = (rng.random((90, 110, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(d / f"img_{k}.jpg", quality=90)
    bad = root / "01_alpha"
    (bad / "zero.jpg").write_bytes(b"")
    good = (bad / "img_0.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (bad / "notes.txt").write_text("not an image")
    (bad / "fake.png").write_bytes(b"this is not a png at all")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(bad / "tiny.png")
    Image.fromarray((rng.random((80, 80)) * 255).astype(np.uint8)).save(root / "02_béta" / "gray.png")
    Image.fromarray((rng.random((80, 80, 4)) * 255).astype(np.uint8)).save(root / "03_熊猫" / "rgba.png")
    Image.fromarray((rng.random((80, 80, 3)) * 255).astype(np.uint8)).convert("CMYK").save(root / "03_熊猫" / "cmyk.jpg")


def test_folder_source_with_bad_files(tmp_path: Path):
    root = tmp_path / "photos"
    _write_folder_source(root)
    out = tmp_path / "ds"
    r = run_cli("build-dataset", "--source", "folder", "--root", str(root), "--num-images", "100", "--size", "64",
                "--workers", "1", "--quiet", "--out", str(out))
    assert r.exit_code == 0, r.output
    with open(out / "rejected.csv", newline="", encoding="utf-8") as f:
        rejected = {Path(row["source"]).name: row["reason"] for row in csv.DictReader(f)}
    assert set(rejected) == {"zero.jpg", "truncated.jpg", "notes.txt", "fake.png", "tiny.png"}
    assert "smaller than --size" in rejected["tiny.png"]
    assert all(reason for reason in rejected.values())
    rows = read_rows(out)
    assert len(rows) == 15  # 12 random JPEGs + gray, rgba, cmyk converted
    assert {r["identity"] for r in rows} == {"01_alpha", "02_béta", "03_熊猫"}
    for r in rows:
        assert np.asarray(Image.open(out / r["image"])).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--source", "folder", "--root", "/nonexistent/photos"], "does not exist"),
        (["--source", "folder"], "--root is required"),
        (["--source", "synthetic", "--split-ratio", "two:one"], "--split-ratio"),
        (["--source", "synthetic", "--num-images", "0"], "--num-images"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args, needle):
    r = CliRunner().invoke(cli, ["build-dataset", *args, "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output


def test_empty_source_and_busy_out(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(cli, ["build-dataset", "--source", "folder", "--root", str(empty), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something.txt").write_text("x")
    r = CliRunner().invoke(cli, ["build-dataset", "--source", "synthetic", "--num-images", "3", "--size", "64", "--out", str(busy)])
    assert r.exit_code == 2 and "not empty" in r.output


def test_perf_build_reports_against_its_floor(tmp_path: Path):
    out = tmp_path / "perf.json"
    r = run_cli("perf", "build", "--num-images", "6", "--size", "48", "--workers", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["n"] == 6 and set(data["results"]) == {"floor", "builder_w1"}
    assert all(v["seconds"] > 0 and v["cpu_seconds"] > 0 for v in data["results"].values())
    assert "x floor" in r.output
