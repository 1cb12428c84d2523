"""The paper's two-stage model: shapes at 224/256/odd sizes, no leakage of hole pixels, a few training steps lower the
hole loss, variants, and end to end through `bench run`, `bench ablation` and `bench inpaint` (tiny widths)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from benchmark.methods import StepContext, resolve_config
from benchmark.proposed import PAPER, CoarseGenerator, FineGenerator, MultiScaleContextualAttention, ProposedTwoStage
from dataset_tools.errors import UserError


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TINY = {"coarse_widths": [4, 8, 8, 8, 8, 8], "fine_width": 4, "critic_width": 4}
TINY_SET = ["--set", "coarse_widths=[4,8,8,8,8,8]", "--set", "fine_width=4", "--set", "critic_width=4"]


def _method(variant="proposed", image_size=32, **extra) -> ProposedTwoStage:
    torch.manual_seed(0)
    cfg = resolve_config(ProposedTwoStage, "smoke", {**TINY, "variant": variant, "image_size": image_size, **extra})
    m = ProposedTwoStage(cfg, "cpu")
    m.build()
    return m


def _batch(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, size)
    gt = (0.2 + 0.6 * ramp.view(1, 1, 1, size) * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1)).repeat(n, 1, size, 1)
    gt = gt + 0.05 * torch.rand(n, 3, size, size, generator=g)
    hole = torch.zeros(n, 1, size, size)
    for i in range(n):
        hole[i, :, 8 + i : 20 + i, 6 + 2 * i : 18 + 2 * i] = 1
    occ = gt * (1 - hole) + hole * torch.tensor([0.1, 0.9, 0.1]).view(1, 3, 1, 1)
    return {"image": gt, "occluded": occ, "mask": hole}


def _ctx(step, phase):
    return StepContext(step=step, epoch=0, phase=phase, generator=torch.Generator().manual_seed(step),
                       autocast=contextlib.nullcontext)


@pytest.mark.parametrize("size", [224, 256, 100, 67])
def test_generators_shapes_any_size(size):
    torch.manual_seed(0)
    cg = CoarseGenerator(TINY["coarse_widths"])
    fg = FineGenerator(4, dict(PAPER["attention"]))
    img = torch.rand(2, 3, size, size)
    hole = torch.zeros(2, 1, size, size)
    hole[0, :, size // 4 : size // 2, size // 4 : size // 2] = 1
    hole[1, :, size // 2 :, : size // 3] = 1
    with torch.no_grad():
        coarse = cg(img, hole)
        fine = fg(coarse * hole + img * (1 - hole), hole)
    assert coarse.shape == fine.shape == (2, 3, size, size)
    assert torch.isfinite(fine).all()


def test_coarse_generator_never_reads_hole_pixels():
    torch.manual_seed(0)
    cg = CoarseGenerator(TINY["coarse_widths"])
    img = torch.rand(2, 3, 48, 40)
    hole = (torch.rand(2, 1, 48, 40) > 0.7).float()
    out1 = cg(img, hole)  # train mode: BatchNorm statistics must not see hole pixels either
    out2 = cg(torch.where(hole.bool(), torch.randn_like(img) * 100, img), hole)
    assert torch.equal(out1, out2)


def test_fusion_module_eq8_channels():
    mod = MultiScaleContextualAttention(8, rate=2)
    assert mod.se.fc1.in_features == 24 and mod.fuse.in_channels == 24 and mod.fuse.out_channels == 8
    x = torch.randn(2, 8, 14, 14)
    hole = torch.zeros(2, 1, 14, 14)
    hole[:, :, 4:9, 4:9] = 1
    assert mod(x, hole).shape == x.shape


def test_training_steps_lower_hole_loss_and_variants():
    m = _method()
    assert m.phases() == [("coarse", 20), ("joint", 60)]
    assert set(m.networks) == {"coarse", "fine", "d_fine", "d_large", "d_small"}
    batch = _batch()
    first = [m.train_step(batch, _ctx(s, "coarse"))["coarse_hole"] for s in range(3)]
    for s in range(3, 25):
        last = m.train_step(batch, _ctx(s, "coarse"))["coarse_hole"]
    assert last < 0.5 * np.mean(first), (first, last)
    logs = m.train_step(batch, _ctx(25, "joint"))
    assert all(np.isfinite(v) for v in logs.values())
    assert {"fine_hole", "fine_per", "fine_style", "d_fine_gp"} <= set(logs)
    assert int(m.networks["fine"].joint_steps) == 1
    # critics are trainable again after the generator step
    assert all(p.requires_grad for p in m.networks["d_large"].parameters())
    notes = m.config_notes()
    assert "random-init" in notes["vgg"] and notes["variant"] == "proposed"

    m1 = _method("model1")
    assert m1.networks["fine"].fusion is None
    assert np.isfinite(m1.train_step(batch, _ctx(0, "joint"))["fine_hole"])
    m2 = _method("model2")
    assert {"d_global", "coarse", "fine", "d_fine"} == set(m2.networks)
    assert np.isfinite(m2.train_step(batch, _ctx(0, "coarse"))["d_coarse_w"])
    with pytest.raises(UserError, match="variant"):
        ProposedTwoStage(resolve_config(ProposedTwoStage, "smoke", {"variant": "model3"}))


def test_inpaint_resizes_and_ignores_hole_pixels():
    m = _method(image_size=32)
    m.train_step(_batch(), _ctx(0, "joint"))
    img = torch.rand(2, 3, 45, 50)
    hole = torch.zeros(2, 1, 45, 50)
    hole[:, :, 10:30, 5:25] = 1
    out = m.inpaint(img, hole)
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 1
    out2 = m.inpaint(torch.where(hole.bool(), torch.rand_like(img), img), hole)
    assert torch.equal(out, out2)
    assert m.networks["coarse"].training  # train mode restored


def test_paper_preset_without_vgg_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cfg = resolve_config(ProposedTwoStage, "paper", {})
    with pytest.raises(UserError, match=r"hub/checkpoints|vgg16-397923af\.pth"):
        ProposedTwoStage(cfg, "cpu").build()


def test_perf_extras_runs():
    cfg = resolve_config(ProposedTwoStage, "smoke", {**TINY, "image_size": 32, "batch_size": 2})
    fns = ProposedTwoStage.perf_extras(cfg, "cpu")
    fns["contextual_attention"]()


# ------------------------------------------------------------------------------------------------ end to end

def test_end_to_end_run_ablation_inpaint(tiny_dataset, tmp_path):
    from benchmark.cli import cli

    runner = CliRunner()
    out = tmp_path / "runs"
    common = ["--data", str(tiny_dataset), "--out", str(out), "--device", "cpu", "--quiet", "--preset", "smoke",
              "--max-steps", "6", "--batch-size", "4", *TINY_SET, "--set", "image_size=32"]
    r = runner.invoke(cli, ["run", "--method", "proposed", *common], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["ablation", "--variant", "model1", *common], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in runs] == ["00000-proposed-smoke-s0", "00001-proposed-model1-smoke-s0"]
    for run, variant in zip(runs, ["proposed", "model1"]):
        res = json.loads((run / "results.json").read_text())
        assert res["variant"] == variant and res["training"]["steps"] == 6
        assert "random-init" in res["config_notes"]["vgg"]
        assert np.isfinite(res["metrics"]["psnr_hole"])

    # bench inpaint on one test image of the finished run, at a size the model was not trained at
    ds = tiny_dataset
    meta = (ds / "metadata.csv").read_text().splitlines()
    header = meta[0].split(",")
    row = next(line.split(",") for line in meta[1:] if line.split(",")[header.index("split")] == "test")
    sid = row[header.index("id")]
    occ = np.asarray(Image.open(ds / "occluded" / f"{sid}.png").convert("RGB"))
    mask = np.asarray(Image.open(ds / "masks" / f"{sid}.png"))
    big_img, big_mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(occ).resize((90, 70), Image.BILINEAR).save(big_img)
    Image.fromarray(mask).resize((90, 70), Image.NEAREST).save(big_mask)
    dest = tmp_path / "out.png"
    r = runner.invoke(cli, ["inpaint", "--checkpoint", str(runs[0]), "--image", str(big_img), "--mask", str(big_mask),
                            "--out", str(dest), "--device", "cpu"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    result = np.asarray(Image.open(dest))
    photo = np.asarray(Image.open(big_img))
    hole = np.asarray(Image.open(big_mask)) >= 128
    assert result.shape == photo.shape
    assert np.array_equal(result[~hole], photo[~hole])  # pixels outside the mask unchanged, byte for byte
    assert not np.array_equal(result[hole], photo[hole])

    # user mistakes: mismatched sizes, empty mask, non-binary mask (warning), wrong extension
    Image.fromarray(mask).save(tmp_path / "small_mask.png")
    r = runner.invoke(cli, ["inpaint", "--checkpoint", str(runs[0]), "--image", str(big_img), "--mask",
                            str(tmp_path / "small_mask.png"), "--out", str(dest)])
    assert r.exit_code == 2 and "differs from image size" in r.output
    Image.fromarray(np.zeros((70, 90), np.uint8)).save(tmp_path / "empty.png")
    r = runner.invoke(cli, ["inpaint", "--checkpoint", str(runs[0]), "--image", str(big_img), "--mask",
                            str(tmp_path / "empty.png"), "--out", str(dest)])
    assert r.exit_code == 2 and "no hole pixel" in r.output
    soft = np.asarray(Image.open(big_mask)).copy()
    soft[soft == 255] = 200
    Image.fromarray(soft).save(tmp_path / "soft.png")
    r = runner.invoke(cli, ["inpaint", "--checkpoint", str(runs[0]), "--image", str(big_img), "--mask",
                            str(tmp_path / "soft.png"), "--out", str(tmp_path / "soft_out.png"), "--device", "cpu"])
    assert r.exit_code == 0 and "not binary" in r.output
    r = runner.invoke(cli, ["inpaint", "--checkpoint", str(runs[0]), "--image", str(big_img), "--mask",
                            str(big_mask), "--out", str(tmp_path / "out.jpg")])
    assert r.exit_code == 2 and ".png" in r.output


# ------------------------------------------------------------------------------------------------ it learns

def test_smoke_preset_coarse_stage_learns_on_held_out_images(tiny_dataset, tmp_path):
    """Through `bench run`: 240 smoke-preset steps of coarse pre-training (40 epochs of the 24-image tiny set; the
    joint phase not reached, so `inpaint` returns the coarse output) fill the holes of the unseen test images far
    better than the same run after one step (here 14.7 vs 11.3 dB psnr_hole, l1_hole 0.13 vs 0.25). Fails if the coarse
    stage stops learning (loss not reaching the hole, hole pixels not inpainted, a broken inference path).

    Issue 4 also asks for beating the `occluded` row (16.4 dB on this set); within a test's budget the model does not
    (see the SMOKE comment in benchmark/proposed.py), so this test cannot assert it."""
    from benchmark.cli import cli

    runner = CliRunner()
    out = tmp_path / "runs"
    common = ["--data", str(tiny_dataset), "--out", str(out), "--device", "cpu", "--quiet", "--preset", "smoke",
              "--set", "image_size=64"]
    for steps in ("1", "240"):
        r = runner.invoke(cli, ["run", "--method", "proposed", *common, "--max-steps", steps], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    first, trained = (json.loads(p.read_text()) for p in sorted(out.glob("*/results.json")))
    assert (first["training"]["steps"], trained["training"]["steps"]) == (1, 240)
    assert trained["metrics"]["psnr_hole"] > first["metrics"]["psnr_hole"] + 2.0, (first["metrics"],
                                                                                     trained["metrics"])
    assert trained["metrics"]["l1_hole"] < 0.7 * first["metrics"]["l1_hole"]


def test_resume_across_the_phase_boundary_gives_the_uninterrupted_run(tiny_dataset, tmp_path):
    """A run interrupted after its step-3 checkpoint (coarse phase) and resumed ends, through the joint phase, with the
    same weights and metrics as the uninterrupted run: all five networks, optimisers and RNG states come back."""
    import shutil

    from benchmark.cli import cli

    args = ["run", "--method", "proposed", "--preset", "smoke", "--data", str(tiny_dataset), "--seed", "5",
            "--set", "epochs.coarse=1", "--set", "epochs.joint=1", "--checkpoint-every", "3", "--quiet"]
    runner = CliRunner()
    r = runner.invoke(cli, [*args, "--out", str(tmp_path / "ref")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, [*args, "--out", str(tmp_path / "cut")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (ref,), (cut,) = list((tmp_path / "ref").iterdir()), list((tmp_path / "cut").iterdir())
    ckpts = sorted(p.name for p in (cut / "checkpoints").iterdir())
    assert ckpts[-1] == "step-00000008"  # 16 train images / batch 4 = 4 steps per phase
    # what a kill after the step-3 checkpoint leaves: no later checkpoints, no results
    for name in ckpts:
        if name != "step-00000003":
            shutil.rmtree(cut / "checkpoints" / name)
    (cut / "results.json").unlink()
    shutil.rmtree(cut / "predictions", ignore_errors=True)
    r = runner.invoke(cli, ["run", "--resume", str(cut), "--quiet"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    a, b = (json.loads((d / "results.json").read_text()) for d in (ref, cut))
    assert a["training"]["steps"] == b["training"]["steps"] == 8
    assert a["training"]["weights_sha256_per_rank"] == b["training"]["weights_sha256_per_rank"]
    assert a["metrics"] == b["metrics"]


def test_inpaint_reads_photos_as_displayed(tmp_path):
    """An EXIF-rotated phone photo is read upright (the mask is drawn on what the user sees)."""
    from benchmark.inpaint import _read_image

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "phone.jpg", exif=exif)
    assert _read_image(tmp_path / "phone.jpg").shape == (30, 20, 3)
    with pytest.raises(UserError, match="does not exist"):
        _read_image(tmp_path / "missing.jpg")
