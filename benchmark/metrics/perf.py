"""`bench perf eval`: scoring throughput against floors measured in the same run.

- PSNR (whole image + hole) and SSIM (float64, Gaussian 11x11 separable) in images/s, against the
  floor of PNG-decoding the same images (what scoring has to do anyway for every prediction): the
  ratio metric-time / decode-time says whether the metric or the I/O dominates.
- FID feature extraction (pytorch-fid InceptionV3, resize to 299) in images/s, and its achieved
  convolution GFLOP/s (FLOPs counted per layer with forward hooks) as a fraction of a float32 GEMM peak
  measured in the same run. Without the FID weights the network is RANDOM-INIT: the same architecture
  and the same arithmetic, so the same speed, but its features are not FID features; the report says so.

A benchmark, not a test: it asserts nothing and is never timed in CI.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import click
import numpy as np
import torch

from dataset_tools import fileio


def _images(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth-ish ground truths, predictions = ground truth + noise, and rectangular holes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    base = np.stack([np.sin(6 * xx + k) * np.cos(4 * yy - k) for k in range(3)], -1)
    gts = np.empty((n, size, size, 3), np.uint8)
    preds = np.empty_like(gts)
    masks = np.zeros((n, size, size), bool)
    for i in range(n):
        g = (base * rng.uniform(0.5, 1.0) + 1) * 127.5
        gts[i] = g.clip(0, 255).astype(np.uint8)
        preds[i] = (g + rng.normal(0, 12, g.shape)).clip(0, 255).astype(np.uint8)
        a, b = rng.integers(0, size // 2, 2)
        masks[i, a:a + size // 3, b:b + size // 3] = True
    return gts, preds, masks


def _best(fn, repeats: int) -> float:
    """Best of `repeats` wall times (the least disturbed by other processes on a shared machine)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _gemm_peak(device: torch.device, n: int = 2048, iters: int = 3) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run():
        for _ in range(iters):
            a @ b
        sync()

    run()
    return 2 * n**3 * iters / _best(run, 5) / 1e9


def _conv_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one forward pass (2 x multiply-accumulates of every Conv2d/Linear), counted with hooks."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total[0] += 2 * out.numel() * k
        elif isinstance(mod, torch.nn.Linear):
            total[0] += 2 * out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return float(total[0])


def _write_dataset(root: Path, gts: np.ndarray, preds: np.ndarray, masks: np.ndarray) -> Path:
    """A minimal built-dataset folder (all samples in the test split) and a predictions folder."""
    import csv

    rows = []
    for i, (g, p, m) in enumerate(zip(gts, preds, masks)):
        sid = f"p{i:05d}"
        occ = g.copy()
        occ[m] = 0
        m8 = m.astype(np.uint8) * 255
        for kind, arr in (("images", g), ("occluded", occ), ("masks", m8), ("segmentation", m.astype(np.uint8))):
            fileio.write_png(root / kind / f"{sid}.png", arr, durable=False)
        fileio.write_png(root / "predictions" / f"{sid}.png", p, durable=False)
        rows.append({"id": sid, "split": "test", "identity": "x", "source": "perf", "image": f"images/{sid}.png",
                     "occluded": f"occluded/{sid}.png", "mask": f"masks/{sid}.png",
                     "segmentation": f"segmentation/{sid}.png", "occlusion_ratio": float(m.mean()),
                     "severity": "all", "occluder_classes": "box", "eyes_occluded": "false"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    fileio.atomic_write_text(root / "metadata.csv", buf.getvalue())
    fileio.atomic_write_json(root / "dataset.json", {"name": "perf", "fingerprint": "perf", "synthetic": True})
    return root


@click.command("eval")
@click.option("--num-images", type=int, default=64, show_default=True)
@click.option("--size", type=int, default=256, show_default=True)
@click.option("--fid-images", type=int, default=16, show_default=True, help="Images for the Inception timing.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.option("--inception-weights", type=click.Path(path_type=Path), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--with-sqrtm", is_flag=True, help="Also time FID's 2048x2048 scipy sqrtm (tens of seconds on 2 cores).")
@click.option("--out", "out_json", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the figures as JSON.")
def perf_eval(num_images, size, fid_images, batch_size, device, inception_weights, seed, with_sqrtm, out_json):
    """Images/s of PSNR/SSIM against PNG decoding, and of FID features against a GEMM peak."""
    from PIL import Image

    from benchmark.evaluate import resolve_device
    from benchmark.metrics.inception import extract_features, load_fid_inception, random_init_inception
    from benchmark.metrics.l1 import l1_hole
    from benchmark.metrics.psnr import psnr
    from benchmark.metrics.ssim import ssim

    dev = torch.device(resolve_device(device))
    n = num_images
    gts, preds, masks = _images(n, size, seed)
    pngs = [fileio.encode_png(p) for p in preds]

    def decode():
        for b in pngs:
            with Image.open(io.BytesIO(b)) as im:
                np.asarray(im.convert("RGB"))

    decode()  # warm-up
    rows: dict[str, dict] = {}
    t = _best(decode, 3)
    rows["floor: PNG decode"] = {"seconds": t, "images_per_s": n / t}
    t_dec = t
    t = _best(lambda: (psnr(preds, gts), psnr(preds, gts, masks), l1_hole(preds, gts, masks)), 3)
    rows["psnr + psnr_hole + l1_hole"] = {"seconds": t, "images_per_s": n / t, "x_decode_time": t / t_dec}
    ssim_dev = dev if dev.type == "cuda" else torch.device("cpu")
    ssim(preds[:2], gts[:2], device=ssim_dev)
    t = _best(lambda: ssim(preds, gts, batch_size=batch_size, device=ssim_dev), 2)
    rows["ssim (float64)"] = {"seconds": t, "images_per_s": n / t, "x_decode_time": t / t_dec}

    # the whole per-image path of `score_predictions` (PNG reads of ground truth, occluded, mask and
    # prediction, composite, PSNR/SSIM/L1), Inception replaced by a trivial stub so it is timed apart
    import tempfile

    from benchmark.scoring import score_predictions
    from dataset_tools.dataset import BuiltDataset

    with tempfile.TemporaryDirectory(prefix="bench-perf-eval-") as tmp:
        root = _write_dataset(Path(tmp), gts, preds, masks)
        ds = BuiltDataset(root)
        stub = lambda imgs: imgs.reshape(len(imgs), -1, 3).mean(axis=1)  # noqa: E731
        t0 = time.perf_counter()
        score_predictions(ds, "test", root / "predictions", device=str(ssim_dev), progress=False,
                          feature_extractor=stub, kid_subsets=1)
        t = time.perf_counter() - t0
    rows["score_predictions w/o Inception"] = {"seconds": t, "images_per_s": n / t, "x_decode_time": t / t_dec,
                                               "note": "reads 4 PNGs per sample; floor decodes 1"}

    model, sha, reason = load_fid_inception(inception_weights, device=dev)
    label = "pytorch-fid InceptionV3 (FID weights)"
    if model is None:
        model = random_init_inception(seed, device=dev)
        label = "pytorch-fid InceptionV3, RANDOM-INIT (speed measurement only: no FID weights found)"
    m = min(fid_images, n)
    x = torch.from_numpy(gts[:1]).permute(0, 3, 1, 2).float().div(255).to(dev)
    flops = _conv_flops(model, x)
    extract_features(model, gts[:2], batch_size, dev)  # warm-up
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def feats():
        extract_features(model, gts[:m], batch_size, dev)
        sync()

    t = _best(feats, 2)
    peak = _gemm_peak(dev)
    achieved = flops * m / t / 1e9
    rows["fid features"] = {"seconds": t, "images_per_s": m / t, "gflop_per_image": flops / 1e9,
                            "achieved_gflops": achieved, "fraction_of_gemm_peak": achieved / peak,
                            "network": label, "inception_sha256": sha}
    rows["floor: float32 GEMM 2048^3"] = {"gflops": peak}
    if with_sqrtm:
        from benchmark.metrics.fid import fid_from_features

        feats = np.random.default_rng(seed).normal(size=(2 * max(m, 2), 2048))
        t = _best(lambda: fid_from_features(feats[::2], feats[1::2]), 1)
        rows["fid: Frechet distance (sqrtm 2048)"] = {"seconds": t}

    click.echo(f"{n} images {size}x{size}, device {dev}, torch threads {torch.get_num_threads()}")
    click.echo(f"{'':<34}{'img/s':>10}{'x decode time':>15}")
    for k in ("floor: PNG decode", "psnr + psnr_hole + l1_hole", "ssim (float64)", "score_predictions w/o Inception"):
        v = rows[k]
        click.echo(f"{k:<34}{v['images_per_s']:>10.1f}{v.get('x_decode_time', 1.0):>15.2f}")
    f = rows["fid features"]
    click.echo(f"{'fid features':<34}{f['images_per_s']:>10.1f}   {f['gflop_per_image']:.2f} GFLOP/img, "
               f"{f['achieved_gflops']:.1f} GFLOP/s = {f['fraction_of_gemm_peak']:.2f} x GEMM peak ({peak:.1f} GFLOP/s)")
    click.echo(f"network: {label}")
    if with_sqrtm:
        click.echo(f"Frechet distance of 2048-d statistics (scipy sqrtm, once per FID): "
                   f"{rows['fid: Frechet distance (sqrtm 2048)']['seconds']:.1f} s")
    if out_json:
        fileio.atomic_write_text(out_json, json.dumps({"n": n, "size": size, "device": str(dev), "results": rows},
                                                      indent=2) + "\n")
