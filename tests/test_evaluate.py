"""`bench evaluate` and the scoring protocol: composite, perfect and occluded predictions, bad folders."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli
from dataset_tools import fileio
from dataset_tools.dataset import BuiltDataset


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def make_dataset(root: Path, n_test: int = 6, n_train: int = 2, size: int = 48, seed: int = 0) -> Path:
    """A hand-written built dataset (the layout of `bench build-dataset`): gradient+noise ground truths,
    rectangular holes, random pixels in the holes of the occluded images."""
    rng = np.random.default_rng(seed)
    rows = []
    severities = ["light", "medium", "heavy"]
    for i in range(n_test + n_train):
        sid = f"s{i:04d}"
        yy, xx = np.mgrid[:size, :size]
        gt = np.stack([xx * 255 // size, yy * 255 // size, rng.integers(0, 256, (size, size))], -1).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        a = 4 + i % 5
        mask[a:a + size // 3 + i, a + 2:a + size // 2] = 255
        occ = gt.copy()
        occ[mask > 0] = rng.integers(0, 256, (int((mask > 0).sum()), 3), dtype=np.uint8)
        for kind, arr in (("images", gt), ("occluded", occ), ("masks", mask), ("segmentation", (mask > 0).astype(np.uint8))):
            fileio.write_png(root / kind / f"{sid}.png", arr, durable=False)
        rows.append({"id": sid, "split": "test" if i < n_test else "train", "identity": f"p{i % 2}", "source": "test",
                     "image": f"images/{sid}.png", "occluded": f"occluded/{sid}.png", "mask": f"masks/{sid}.png",
                     "segmentation": f"segmentation/{sid}.png", "occlusion_ratio": float((mask > 0).mean()),
                     "severity": severities[i % 3], "occluder_classes": "bamboo;leaves" if i % 2 else "grass",
                     "eyes_occluded": "false"})
    with open(root / "metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fileio.atomic_write_json(root / "dataset.json", {
        "name": "hand-made-test", "synthetic": True, "fingerprint": "0123456789abcdef", "seed": seed,
        "severity_bins": {"light": [0.0, 0.2], "medium": [0.2, 0.4], "heavy": [0.4, 1.0]},
        "legend": {"visible": 0, "bamboo": 1, "leaves": 2, "grass": 3}})
    return root


@pytest.fixture(scope="module")
def data(request, tmp_path_factory) -> Path:
    """The real builder's tiny dataset (tests/conftest.py) when available, else a hand-made one."""
    try:
        root = Path(request.getfixturevalue("tiny_dataset"))
    except pytest.FixtureLookupError:
        return make_dataset(tmp_path_factory.mktemp("ds") / "tiny")
    assert len(BuiltDataset(root).split("test")) >= 3, "these tests need at least 3 test samples"
    return root


@pytest.fixture(autouse=True)
def no_inception(tmp_path_factory, monkeypatch):
    """No FID weights anywhere (the test machine is offline): FID/KID must come out null."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("empty-torch-home")))


def predictions_from(data: Path, kind: str, dest: Path) -> Path:
    ds = BuiltDataset(data)
    dest.mkdir(parents=True, exist_ok=True)
    for s in ds.split("test"):
        shutil.copyfile(ds.path(s, kind), dest / f"{s.id}.png")
    return dest


def evaluate(data: Path, preds: Path, out: Path, *extra: str):
    return run_cli("evaluate", "--data", str(data), "--predictions", str(preds), "--name", "mine",
                   "--out", str(out), "--quiet", "--device", "cpu", *extra)


def test_perfect_predictions_hit_the_cap(data, tmp_path):
    preds = predictions_from(data, "image", tmp_path / "gt")
    r = evaluate(data, preds, tmp_path / "out")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    n = len(BuiltDataset(data).split("test"))
    m = res["metrics"]
    assert res["n"] == n and res["method"] == res["variant"] == "mine" and res["preset"] == "external"
    assert m["psnr"] == 100.0 and m["psnr_hole"] == 100.0 and m["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert m["l1_hole"] == 0.0
    assert m["fid"] is None and m["kid_mean"] is None and "6726825d" in res["metric_notes"]["fid"]
    assert "warning: FID and KID are null" in r.output
    assert f"{n} of {n}" in res["metric_notes"]["psnr"]
    assert res["metric_settings"]["scored_on"] == "composite" and res["metric_settings"]["ssim"]["sigma"] == 1.5
    assert res["dataset"]["fingerprint"] == BuiltDataset(data).fingerprint
    assert res["provenance"]["package_versions"]["pytorch-fid"]
    with open(tmp_path / "out" / "per_image.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n and float(rows[0]["psnr"]) == 100.0


def test_occluded_as_prediction_gives_the_hole_psnr(data, tmp_path):
    preds = predictions_from(data, "occluded", tmp_path / "occ")
    assert evaluate(data, preds, tmp_path / "out").exit_code == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    ds = BuiltDataset(data)
    hole, whole, l1 = [], [], []
    for s in ds.split("test"):
        gt = ds.load(s, "image").astype(np.float64) / 255
        occ = ds.load(s, "occluded").astype(np.float64) / 255
        m = ds.load(s, "mask") > 127
        d2 = (gt - occ) ** 2
        hole.append(10 * math.log10(1 / (d2[m].sum() / (3 * m.sum()))))
        whole.append(10 * math.log10(1 / d2.mean()))
        l1.append(np.abs(gt - occ)[m].sum() / (3 * m.sum()))
    assert res["metrics"]["psnr_hole"] == pytest.approx(np.mean(hole), rel=1e-12)
    assert res["metrics"]["psnr"] == pytest.approx(np.mean(whole), rel=1e-12)
    assert res["metrics"]["l1_hole"] == pytest.approx(np.mean(l1), rel=1e-12)
    # breakdown: every test sample in exactly one severity bin; bins hold the mean of their members
    sev = res["breakdown"]["severity"]
    assert sum(b["n"] for b in sev.values()) == res["n"]
    for name, b in sev.items():
        members = [h for h, s in zip(hole, ds.split("test")) if s.severity == name]
        if members:
            assert b["psnr_hole"] == pytest.approx(np.mean(members), rel=1e-12)
        assert "fid" not in b


def test_composite_ignores_everything_outside_the_hole(data, tmp_path):
    """Garbage outside the hole and the ground truth inside it scores as a perfect prediction."""
    ds = BuiltDataset(data)
    dest = tmp_path / "garbage"
    dest.mkdir()
    rng = np.random.default_rng(0)
    for s in ds.split("test"):
        gt, m = ds.load(s, "image"), ds.load(s, "mask") > 127
        noisy = rng.integers(0, 256, gt.shape, dtype=np.uint8)
        noisy[m] = gt[m]
        fileio.write_png(dest / f"{s.id}.png", noisy)
    assert evaluate(data, dest, tmp_path / "out").exit_code == 0
    m = json.loads((tmp_path / "out" / "results.json").read_text())["metrics"]
    assert m["psnr"] == 100.0 and m["psnr_hole"] == 100.0 and m["l1_hole"] == 0.0


def test_composite_function():
    from benchmark.scoring import composite

    pred = np.full((4, 5, 3), 200, np.uint8)
    occ = np.zeros((4, 5, 3), np.uint8)
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 2:4] = 255
    out = composite(pred, occ, mask)
    assert out.dtype == np.uint8 and (out[mask == 255] == 200).all() and (out[mask == 0] == 0).all()
    with pytest.raises(ValueError):
        composite(pred, occ, mask[:3])


def _break(kind: str, preds: Path, ids: list[str]) -> str:
    """Damage a copy of a good predictions folder; return the file name the error must mention."""
    target = preds / f"{ids[1]}.png"
    if kind == "missing":
        target.unlink()
        return target.name
    if kind == "extra":
        (preds / "zzz_extra.png").write_bytes(target.read_bytes())
        return "zzz_extra.png"
    if kind == "unreadable":
        target.write_bytes(b"not a png at all")
        return target.name
    if kind == "wrong-size":
        im = np.asarray(Image.open(target).convert("RGB"))
        fileio.write_png(target, np.ascontiguousarray(im[:-2]))
        return target.name
    if kind == "transparent":
        im = np.asarray(Image.open(target).convert("RGB"))
        rgba = np.concatenate([im, np.full(im.shape[:2] + (1,), 128, np.uint8)], -1)
        fileio.write_png(target, rgba)
        return target.name
    if kind == "16-bit":
        im = np.asarray(Image.open(target).convert("L")).astype(np.uint16) * 257
        Image.fromarray(im).save(target)
        return target.name
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "extra", "unreadable", "wrong-size", "transparent", "16-bit"])
def test_bad_prediction_folders(data, tmp_path, kind):
    preds = predictions_from(data, "occluded", tmp_path / "preds")
    ids = [s.id for s in BuiltDataset(data).split("test")]
    name = _break(kind, preds, ids)
    out = tmp_path / "out"
    r = evaluate(data, preds, out)
    assert r.exit_code == 2, r.output
    assert name in r.output and "Traceback" not in r.output
    assert len([ln for ln in r.output.splitlines() if ln.startswith("Error:")]) == 1
    assert not (out / "results.json").exists() and not (out / "per_image.csv").exists()


def test_lossless_modes_are_accepted(data, tmp_path):
    """Grey (L), palette and fully opaque RGBA predictions convert losslessly and score like RGB."""
    ds = BuiltDataset(data)
    s0, s1, s2 = ds.split("test")[:3]
    preds = predictions_from(data, "occluded", tmp_path / "p")
    rgb = ds.load(s0, "occluded")
    fileio.write_png(preds / f"{s0.id}.png", np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1))
    Image.fromarray(ds.load(s1, "occluded")).convert("P", palette=Image.Palette.ADAPTIVE).save(preds / f"{s1.id}.png")
    fileio.write_png(preds / f"{s2.id}.png", ds.load(s2, "occluded")[..., 0])
    from benchmark.scoring import score_predictions

    scores = score_predictions(ds, "test", preds, progress=False)
    rgba_row = scores.per_image[0]
    ref = score_predictions(ds, "test", predictions_from(data, "occluded", tmp_path / "q"), progress=False)
    assert rgba_row["psnr"] == ref.per_image[0]["psnr"]
    assert all(math.isfinite(r["psnr"]) for r in scores.per_image)


def test_stubbed_extractor_gives_fid_and_kid(data, tmp_path):
    """With a feature extractor stub (mean colour of the hole-free image), FID/KID are computed on the
    composites and the ground truth: identical predictions -> FID 0 (full-rank 3-d features)."""
    from benchmark.scoring import score_predictions

    ds = BuiltDataset(data)
    stub = lambda imgs: imgs.reshape(len(imgs), -1, 3).mean(axis=1)  # noqa: E731
    perfect = score_predictions(ds, "test", predictions_from(data, "image", tmp_path / "gt"),
                                progress=False, feature_extractor=stub)
    assert perfect.metrics["fid"] == pytest.approx(0.0, abs=1e-6)
    occl = score_predictions(ds, "test", predictions_from(data, "occluded", tmp_path / "occ"),
                             progress=False, feature_extractor=stub, kid_subset_size=3, kid_seed=1)
    from benchmark.metrics.fid import fid_from_features
    from benchmark.metrics.kid import kid

    gts = np.stack([ds.load(s, "image") for s in ds.split("test")])
    occs = np.stack([ds.load(s, "occluded") for s in ds.split("test")])
    assert occl.metrics["fid"] == pytest.approx(fid_from_features(stub(occs), stub(gts)), rel=1e-9)
    assert (occl.metrics["kid_mean"], occl.metrics["kid_std"]) == pytest.approx(kid(stub(occs), stub(gts), 3, 100, 1)[:2])
    assert occl.metric_settings["kid"]["subset_size"] == 3 and occl.metric_settings["kid"]["seed"] == 1


def test_explicit_missing_inception_weights_exit_2(data, tmp_path):
    preds = predictions_from(data, "occluded", tmp_path / "p")
    r = evaluate(data, preds, tmp_path / "out", "--inception-weights", str(tmp_path / "nope.pth"))
    assert r.exit_code == 2 and "nope.pth" in r.output
    assert not (tmp_path / "out" / "results.json").exists()


def test_refuses_to_overwrite_results(data, tmp_path):
    preds = predictions_from(data, "occluded", tmp_path / "p")
    assert evaluate(data, preds, tmp_path / "out").exit_code == 0
    first = json.loads((tmp_path / "out" / "results.json").read_text())
    r = evaluate(data, preds, tmp_path / "out")
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert evaluate(data, preds, tmp_path / "out", "--overwrite").exit_code == 0
    assert json.loads((tmp_path / "out" / "results.json").read_text())["metrics"] == first["metrics"]


def test_evaluate_reproduces_a_bench_run(data, tmp_path):
    """`bench evaluate` on a run's predictions/ gives the run's metrics, breakdown and per-image table."""
    r = run_cli("run", "--method", "telea", "--data", str(data), "--out", str(tmp_path / "runs"), "--device", "cpu",
                "--quiet")
    assert r.exit_code == 0, r.output
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if (p / "results.json").is_file())
    ran = json.loads((run_dir / "results.json").read_text())
    assert evaluate(data, run_dir / "predictions", tmp_path / "ev").exit_code == 0
    ev = json.loads((tmp_path / "ev" / "results.json").read_text())
    for key in ("n", "split", "metrics", "metric_notes", "breakdown", "metric_settings", "dataset"):
        assert ev[key] == ran[key], key
    assert (tmp_path / "ev" / "per_image.csv").read_bytes() == (run_dir / "per_image.csv").read_bytes()


def test_hand_made_dataset_breakdown(tmp_path):
    """On a dataset whose bins are known by construction: severity and multi-class occluder bins."""
    from benchmark.scoring import score_predictions

    root = make_dataset(tmp_path / "hm", n_test=6)
    ds = BuiltDataset(root)
    scores = score_predictions(ds, "test", predictions_from(root, "occluded", tmp_path / "p"), progress=False)
    assert list(scores.breakdown["severity"]) == ["light", "medium", "heavy"]
    assert {k: v["n"] for k, v in scores.breakdown["severity"].items()} == {"light": 2, "medium": 2, "heavy": 2}
    # samples 1, 3, 5 have "bamboo;leaves" (counted in both), 0, 2, 4 "grass"
    assert {k: v["n"] for k, v in scores.breakdown["occluder_class"].items()} == {"bamboo": 3, "leaves": 3, "grass": 3}
    odd = [r["psnr_hole"] for r in scores.per_image if int(r["id"][1:]) % 2]
    assert scores.breakdown["occluder_class"]["leaves"]["psnr_hole"] == pytest.approx(np.mean(odd), rel=1e-12)


def test_results_helpers(tmp_path):
    """provenance fields, weights merged from the scores, no NaN/inf reaching JSON, CSV empty cells."""
    from benchmark.results import PER_IMAGE_COLUMNS, build_results, provenance, write_per_image_csv, write_results
    from benchmark.scoring import Scores

    prov = provenance(3, ["bench", "run", "--seed", "3"], {"generator": "ab" * 32})
    assert prov["seed"] == 3 and prov["command"] == "bench run --seed 3"
    assert set(prov["package_versions"]) >= {"python", "torch", "torchvision", "numpy", "opencv", "scikit-image",
                                             "pytorch-fid", "ipanda-occlusion-bench"}
    assert prov["git_commit"] is None or len(prov["git_commit"]) == 40
    scores = Scores(n=1, metrics={"psnr": float("inf"), "fid": None}, metric_notes={}, breakdown={},
                    metric_settings={}, per_image=[{"id": "a", "psnr": 1.5, "psnr_hole": None}],
                    weights={"inception": "cd" * 32})
    res = build_results(method="m", variant="m", preset="p", seed=3, dataset={"name": "d"}, split="test",
                        scores=scores, training=None, provenance=prov)
    assert res["provenance"]["weights"] == {"generator": "ab" * 32, "inception": "cd" * 32}
    assert res["metrics"]["psnr"] is None  # inf can never reach allow_nan=False JSON
    write_results(tmp_path, res)
    assert json.loads((tmp_path / "results.json").read_text())["n"] == 1
    write_per_image_csv(tmp_path / "per_image.csv", scores.per_image)
    lines = (tmp_path / "per_image.csv").read_text().splitlines()
    assert lines[0] == ",".join(PER_IMAGE_COLUMNS) and lines[1].startswith("a,,,,1.5,,")
