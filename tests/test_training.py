"""The training engine with a tiny WGAN-GP method (`tests/tiny_gan.py`): augmentation invariants, data order,
bit-identical resume after SIGKILL, NaN stop, checkpoint format, load_run, ablation, and DDP under torchrun (gloo)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmark.cli import cli
from benchmark.training.data import (InpaintingDataset, augment_triplet, batches, epoch_order, records,
                                     resize_triplet, open_dataset)
from benchmark.training.trainer import latest_checkpoint, scale_phases, list_checkpoints

TESTS = Path(__file__).resolve().parent
TINY = "tiny_gan:TinyGAN"
# 16 train images, batch 4 -> 4 steps per epoch; 1 "pre" epoch + 4 "gan" epochs = 20 steps
TRAIN_ARGS = ["--method", TINY, "--preset", "smoke", "--seed", "7", "--checkpoint-every", "3",
              "--set", "epochs_gan=4", "--quiet"]


@pytest.fixture(autouse=True)
def _tests_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))


def env_with_tests() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TESTS) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def bench(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


# --------------------------------------------------------------------------------------------- data


def _triplet(seed=0, size=40):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[10:22, 14:30] = 255
    occ = image.copy()
    occ[mask > 0] = (0, 255, 0)
    return image, occ, mask


def test_augmentation_is_identical_for_the_three_and_keeps_the_mask_invariant():
    image, occ, mask = _triplet()
    for k in range(20):
        rng = np.random.default_rng([1, 2, k])
        a_img, a_occ, a_mask = augment_triplet(image, occ, mask, rng, hflip=True, max_rotation=15)
        assert set(np.unique(a_mask)) <= {0, 255}
        out = a_mask == 0
        assert np.array_equal(a_occ[out], a_img[out])  # the mask covers every changed pixel
        # the green occluder only appears inside the mask, i.e. the mask moved with the image
        green = np.all(a_occ == (0, 255, 0), axis=-1)
        assert green.any() and np.all(a_mask[green] == 255)
        assert a_img.shape == image.shape
    # no rotation: the flip is exact and applies to all three
    flips = 0
    for k in range(10):
        a_img, a_occ, a_mask = augment_triplet(image, occ, mask, np.random.default_rng([0, 0, k]), max_rotation=0)
        if not np.array_equal(a_img, image):
            flips += 1
            assert np.array_equal(a_img, image[:, ::-1]) and np.array_equal(a_occ, occ[:, ::-1])
            assert np.array_equal(a_mask, mask[:, ::-1])
        else:
            assert np.array_equal(a_mask, mask)
    assert 0 < flips < 10


def test_resize_area_for_images_nearest_for_masks():
    image, occ, mask = _triplet(size=64)
    r_img, r_occ, r_mask = resize_triplet(image, occ, mask, 24)
    assert r_img.shape == (24, 24, 3) and r_mask.shape == (24, 24)
    assert set(np.unique(r_mask)) <= {0, 255}
    assert np.array_equal(r_occ[r_mask == 0], r_img[r_mask == 0])
    # area resize of a 64 -> 32 image is the mean of 2x2 blocks
    a = resize_triplet(image, occ, mask, 32)[0].astype(float)
    blocks = image.astype(float).reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    assert np.abs(a - blocks).max() <= 0.5 + 1e-9


def test_shrunk_mask_covers_every_footprint_that_saw_a_hole():
    from benchmark.training.data import resize_mask

    mask = np.zeros((64, 64), np.uint8)
    mask[10, 11] = 255  # one hole pixel: nearest-neighbour shrinking would lose it
    small = resize_mask(mask, 32)
    assert small[5, 5] == 255 and small.sum() == 255
    small = resize_mask(mask, 24)  # non-integer factor 8/3: the pixels whose footprint overlaps (10, 11)
    assert set(np.unique(small)) == {0, 255}
    ys, xs = np.nonzero(small)
    for y, x in zip(ys, xs):
        assert y * 64 / 24 <= 11 and (y + 1) * 64 / 24 > 10 and x * 64 / 24 <= 12 and (x + 1) * 64 / 24 > 11
    assert resize_mask(mask, 128).sum() == 4 * 255  # enlarging: nearest


def test_inference_never_reads_the_ground_truth(tiny_dataset):
    """Replace every ground truth by noise: the composited predictions must not change."""
    from benchmark.engine import inpaint_records
    from benchmark.methods import get_method_class
    from benchmark.training.data import Record

    recs = records(open_dataset(tiny_dataset), "test")[:3]
    noisy = [Record(r.id, r.severity, r.occluder_classes, r.occlusion_ratio,
                    (lambda r=r: (np.random.default_rng(0).integers(0, 256, r.loader()[0].shape, dtype=np.uint8),)
                     + tuple(r.loader()[1:]))) for r in recs]
    method = get_method_class("telea")({"radius": 3})
    a = [out for *_, out in inpaint_records(method, recs, 24, 2, torch.device("cpu"))]
    b = [out for *_, out in inpaint_records(method, noisy, 24, 2, torch.device("cpu"))]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_dataset_items_are_a_function_of_seed_epoch_index(tiny_dataset):
    recs = records(open_dataset(tiny_dataset), "train")
    ds = InpaintingDataset(recs, size=32, augment={"hflip": True, "max_rotation": 10}, seed=3)
    ds.set_epoch(2)
    a = ds[5]
    b = ds[5]
    ds.set_epoch(3)
    c = ds[5]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    assert not torch.equal(a["image"], c["image"])
    assert a["image"].shape == (3, 32, 32) and a["mask"].shape == (1, 32, 32)
    assert set(a["mask"].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a["occluded"] * (1 - a["mask"]), a["image"] * (1 - a["mask"]))


def test_epoch_order_is_deterministic_and_shards_partition():
    assert epoch_order(10, 1, 0) == epoch_order(10, 1, 0)
    assert epoch_order(10, 1, 0) != epoch_order(10, 1, 1)
    assert sorted(epoch_order(10, 1, 4)) == list(range(10))
    shards = [epoch_order(10, 1, 4, rank=r, world_size=3) for r in range(3)]
    assert all(len(s) == 4 for s in shards)  # padded to 12 = 3 x 4
    assert set(sum(shards, [])) == set(range(10))
    assert batches(list(range(10)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_epochs_rescale_the_phases():
    assert scale_phases([("coarse", 20), ("joint", 200)], None) == [("coarse", 20), ("joint", 200)]
    assert scale_phases([("coarse", 20), ("joint", 200)], 11) == [("coarse", 1), ("joint", 10)]
    assert scale_phases([("coarse", 20), ("joint", 200)], 2) == [("coarse", 1), ("joint", 1)]
    assert scale_phases([("a", 1), ("b", 1)], 6) == [("a", 3), ("b", 3)]
    from dataset_tools.errors import UserError

    with pytest.raises(UserError, match="fewer than the method's 2 training phases"):
        scale_phases([("a", 1), ("b", 1)], 1)


# --------------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def reference_run(tiny_dataset, tmp_path_factory) -> Path:
    """The uninterrupted run every resume is compared with."""
    out = tmp_path_factory.mktemp("ref")
    os.environ["PYTHONPATH"] = str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, str(TESTS))
    r = bench("run", *TRAIN_ARGS, "--data", tiny_dataset, "--out", out)
    assert r.exit_code == 0, r.output
    return only_run(out)


def test_learnable_run_folder(reference_run, tiny_dataset):
    run = reference_run
    assert run.name == "00000-tiny_gan-smoke-s7"
    config = json.loads((run / "config.json").read_text())
    assert config["method_spec"] == TINY and config["engine"]["checkpoint_every"] == 3
    assert config["method_config"]["epochs_gan"] == 4
    # `paper` preset deviations are recorded (smoke differs in width and image_size; --set epochs_gan too)
    dev = config["notes"]["deviations_from_paper"]
    assert dev["width"] == {"paper": 16, "used": 4} and dev["epochs_gan"] == {"paper": 2, "used": 4}
    res = json.loads((run / "results.json").read_text())
    assert res["training"]["steps"] == 20 and res["training"]["epochs"] == 5
    assert res["training"]["phases"] == [["pre", 1], ["gan", 4]]
    assert res["config_notes"]["deviations_from_paper"] == dev
    assert set(res["provenance"]["weights"]) >= {"generator", "critic"}
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["step"] == 1 and lines[0]["phase"] == "pre" and "d_loss" not in lines[0]
    assert lines[-1]["step"] == 20 and lines[-1]["phase"] == "gan" and "gp" in lines[-1]
    assert [p.name for p in list_checkpoints(run)] == ["step-00000018", "step-00000020"]  # keeps the newest two
    assert (run / "samples" / "step-00000003.png").is_file() and (run / "samples" / "final.png").is_file()
    # the checkpoint is safetensors + a state file that loads without unrestricted pickle
    ckpt = latest_checkpoint(run)
    state = torch.load(ckpt / "state.pt", weights_only=True)
    assert state["step"] == 20 and state["done"] is True and set(state["optimizers"]) == {"generator", "critic"}
    from safetensors.torch import load_file

    assert set(load_file(ckpt / "generator.safetensors")) == {
        "net.0.weight", "net.0.bias", "net.1.weight", "net.1.bias", "net.1.running_mean", "net.1.running_var",
        "net.1.num_batches_tracked", "net.3.weight", "net.3.bias"}  # buffers (BN statistics) are saved too


def test_training_lowers_the_l1_loss(reference_run):
    lines = [json.loads(x) for x in (reference_run / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["l1"] < lines[0]["l1"]


def test_load_run_reproduces_the_predictions(reference_run, tiny_dataset):
    from benchmark.engine import inpaint_records, load_run

    method, config = load_run(reference_run, "cpu")
    assert config["method"] == "tiny_gan"
    recs = records(open_dataset(tiny_dataset), "test")
    for rec, _, _, _, out in inpaint_records(method, recs, config["engine"]["image_size"], 4, torch.device("cpu")):
        from PIL import Image

        assert np.array_equal(out, np.asarray(Image.open(reference_run / "predictions" / f"{rec.id}.png")))


def _same_outcome(a: Path, b: Path) -> None:
    ca, cb = latest_checkpoint(a), latest_checkpoint(b)
    assert ca.name == cb.name == "step-00000020"
    for f in ("generator.safetensors", "critic.safetensors"):
        assert (ca / f).read_bytes() == (cb / f).read_bytes(), f
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()
    ra, rb = (json.loads((p / "results.json").read_text()) for p in (a, b))
    assert ra["metrics"] == rb["metrics"]
    assert ra["provenance"]["weights"] == rb["provenance"]["weights"]
    for p in sorted((a / "predictions").glob("*.png")):
        assert (b / "predictions" / p.name).read_bytes() == p.read_bytes()


def test_resume_after_sigkill_is_bit_identical(reference_run, tiny_dataset, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", *TRAIN_ARGS, "--set", "step_sleep=0.15",
           "--data", str(tiny_dataset), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env_with_tests(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        found = list(out.glob("*/checkpoints/step-00000006")) if out.exists() else []
        if found:
            proc.send_signal(signal.SIGKILL)  # mid-epoch 1 (epochs are 4 steps), a little after a checkpoint
            killed_at = found[0]
            break
        time.sleep(0.01)
    proc.wait(30)
    assert killed_at is not None, proc.stderr.read().decode()[-2000:]
    run = only_run(out)
    assert not (run / "results.json").exists() and latest_checkpoint(run).name in ("step-00000006", "step-00000009")
    r = bench("run", "--resume", run, "--quiet")
    assert r.exit_code == 0, r.output
    _same_outcome(reference_run, run)
    # a finished run is not resumed twice
    r = bench("run", "--resume", run)
    assert r.exit_code == 2 and "already complete" in r.output


def test_resume_from_an_older_checkpoint_with_a_torn_newer_one(reference_run, tiny_dataset, tmp_path):
    """A kill while writing a checkpoint leaves only a temporary folder (and metrics lines past the checkpoint)."""
    out = tmp_path / "torn"
    r = bench("run", *TRAIN_ARGS, "--max-steps", "7", "--data", tiny_dataset, "--out", out)
    assert r.exit_code == 0
    run = only_run(out)
    # turn it into an interrupted run: drop results and the final checkpoint, fake a half-written one
    (run / "results.json").unlink()
    shutil.rmtree(run / "checkpoints" / "step-00000007")
    (run / "checkpoints" / ".tmp-step-abc").mkdir()
    (run / "checkpoints" / ".tmp-step-abc" / "generator.safetensors").write_bytes(b"partial")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "l1": 0.5')  # torn last line
    config = json.loads((run / "config.json").read_text())
    config["engine"]["max_steps"] = None  # then finish the full schedule, as the reference did
    (run / "config.json").write_text(json.dumps(config))
    r = bench("run", "--resume", run, "--quiet")
    assert r.exit_code == 0, r.output
    _same_outcome(reference_run, run)
    assert not list((run / "checkpoints").glob(".tmp-*"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_dataset, tmp_path):
    out = tmp_path / "nan"
    r = bench("run", "--method", TINY, "--checkpoint-every", "2", "--set", "nan_at_step=4", "--data", tiny_dataset,
              "--out", out, "--quiet")
    assert r.exit_code == 3
    assert "non-finite loss (g_loss) at step 5" in r.output and "last good checkpoint" in r.output
    run = only_run(out)
    assert not (run / "results.json").exists()
    assert [p.name for p in list_checkpoints(run)] == ["step-00000002", "step-00000004"]
    from safetensors.torch import load_file

    for f in ("generator", "critic"):
        assert all(torch.isfinite(t).all() for t in load_file(latest_checkpoint(run) / f"{f}.safetensors").values())
    assert max(json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()) <= 4


def test_too_few_epochs_fails_before_a_run_folder_exists(tiny_dataset, tmp_path):
    r = bench("run", "--method", TINY, "--epochs", "1", "--data", tiny_dataset, "--out", tmp_path / "runs")
    assert r.exit_code == 2 and "fewer than the method's 2 training phases" in r.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_ablation_all_runs_three_variants_and_the_occluded_row(tiny_dataset, tmp_path):
    out = tmp_path / "abl"
    r = bench("ablation", "--all", "--method", TINY, "--max-steps", "2", "--data", tiny_dataset, "--out", out,
              "--quiet")
    assert r.exit_code == 0, r.output
    variants = sorted(json.loads(p.read_text())["variant"] for p in out.glob("*/results.json"))
    assert variants == ["model1", "model2", "occluded", "proposed"]
    assert sorted(p.name for p in out.iterdir()) == ["00000-tiny_gan-proposed-smoke-s0",
                                                     "00001-tiny_gan-model1-smoke-s0",
                                                     "00002-tiny_gan-model2-smoke-s0", "00003-occluded-default-s0"]
    assert "|" in r.stdout  # a markdown table was printed


def test_perf_train_reports_flops_against_a_gemm_peak(tmp_path):
    r = bench("perf", "train", "--method", TINY, "--size", "32", "--batch-size", "2", "--steps", "1", "--device",
              "cpu", "--json", tmp_path / "perf.json")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "perf.json").read_text())
    # analytic conv FLOPs of the generator forward at 32 px, batch 2, width 4 (smoke): 2 * Cin * Cout * 9 * H * W * N
    g_fwd = 2 * (4 * 4 * 9 + 4 * 3 * 9) * 32 * 32 * 2
    assert rep["conv_gflop_per_step"] * 1e9 > 2 * g_fwd  # forward + backward of G, plus the critic
    assert rep["gemm_peak_gflops"] > 0 and 0 < rep["fraction_of_gemm_peak"] < 1.5
    assert rep["images_per_second"] > 0 and rep["phase"] == "gan"


def test_ddp_two_processes_gloo(tiny_dataset, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    out = tmp_path / "ddp"
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "--no-python", "bench", "run", "--method", TINY,
           "--max-steps", "6", "--checkpoint-every", "4", "--device", "cpu", "--data", str(tiny_dataset),
           "--out", str(out), "--quiet"]
    env = env_with_tests()
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    run = only_run(out)  # one run folder, written by rank 0 only
    res = json.loads((run / "results.json").read_text())
    assert res["training"]["world_size"] == 2 and res["training"]["steps"] == 6
    digests = res["training"]["weights_sha256_per_rank"]
    assert len(digests) == 2 and digests[0] == digests[1]  # DDP kept the ranks' weights equal
    assert "buffers_differ_across_ranks" not in res["training"]  # BN statistics averaged over the ranks
    assert [c.name for c in list_checkpoints(run)] == ["step-00000004", "step-00000006"]
    # sharded data: 16 train images over 2 ranks at batch 4 = 2 steps per epoch (one process would need 4)
    assert res["training"]["epochs"] == 3.0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == 6
