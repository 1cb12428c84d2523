"""`bench perf build`: the dataset builder's throughput against a floor measured in the same run.

Inputs: JPEG files written once from the synthetic source into a temporary `folder` source (so the
builder pays real JPEG decoding, like iPanda-50). Floor: for the same files, decode + centre-crop/resize
+ PNG-encode and atomically write the same four files per sample (ground truth, a copy as "occluded",
an empty mask and an empty segmentation map): everything the builder does except the occlusion work.

The procedural occluder bank is generated once per (generator version, seed, size) and kept in a disk
cache (see `dataset_tools.occluders.LazyCutouts`); the run uses a fresh private cache, times filling it
("bank, one-off"), and then times the builds with it warm, so the builder rows measure the per-image
work a build pays every time. Wall-clock figures: on a shared machine run it when the machine is idle.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from dataset_tools import fileio


def _write_jpeg_inputs(folder: Path, n: int, size: int, seed: int) -> list[Path]:
    from PIL import Image

    from dataset_tools.sources import make_source

    src = make_source("synthetic", None, num_images=n, size=size, seed=seed)
    paths = []
    for item in src.items()[:n]:
        arr = src.load(item)
        p = folder / item.identity / (Path(item.key).stem + ".jpg")
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(p, quality=92)
        paths.append(p)
    return paths


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (build workers): robust to other jobs on a
    shared machine, where wall-clock figures are not."""
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _floor(paths: list[Path], out: Path, size: int) -> float:
    from dataset_tools.build import crop_and_resize
    from dataset_tools.sources.imageio import load_rgb

    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        img, _ = crop_and_resize(load_rgb(p), (), size)
        empty = np.zeros(img.shape[:2], np.uint8)
        for kind, arr in (("images", img), ("occluded", img), ("masks", empty), ("segmentation", empty)):
            fileio.write_png(out / kind / f"s{i:05d}.png", arr, durable=False)
    return time.perf_counter() - t0


def _build(inputs: Path, out: Path, n: int, size: int, workers: int, seed: int) -> float:
    from dataset_tools.build import BuildConfig, build_dataset

    cfg = BuildConfig(source="folder", root=str(inputs), num_images=n, size=size, seed=seed)
    t0 = time.perf_counter()
    build_dataset(cfg, out, workers=workers, progress=False)
    return time.perf_counter() - t0


@click.command("build")
@click.option("--num-images", type=int, default=200, show_default=True)
@click.option("--size", type=int, default=256, show_default=True)
@click.option("--workers", "workers_list", default="1,2", show_default=True, help="Comma-separated worker counts to measure.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_json", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the figures as JSON.")
def perf_build(num_images, size, workers_list, seed, out_json):
    """Builder images/s at each worker count, against the decode/resize/encode floor on the same JPEGs."""
    import os

    workers = [int(w) for w in workers_list.split(",") if w.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-perf-build-") as tmp:
        tmp = Path(tmp)
        old_cache = os.environ.get("BENCH_CACHE_DIR")
        os.environ["BENCH_CACHE_DIR"] = str(tmp / "cache")
        # source images are larger than --size, as iPanda-50 frames are, so resizing is real work
        paths = _write_jpeg_inputs(tmp / "inputs", num_images, int(size * 1.5), seed)
        n = len(paths)
        _floor(paths[: min(8, n)], tmp / "warm", size)  # warm the page cache and imports
        c0 = _cpu()
        floor_s = _floor(paths, tmp / "floor", size)
        rows = {"floor": {"seconds": floor_s, "images_per_s": n / floor_s, "cpu_seconds": _cpu() - c0}}
        from dataset_tools.build import BuildConfig
        from dataset_tools.occluders import OccluderBank

        t0 = time.perf_counter()
        bank = OccluderBank.build(seed, size, per_class=BuildConfig().bank_size)
        n_cut = sum(len(list(v)) for v in bank.by_class.values())
        bank_s = time.perf_counter() - t0
        try:
            for w in workers:
                c0 = _cpu()
                s = _build(tmp / "inputs", tmp / f"build-w{w}", n, size, w, seed)
                rows[f"builder_w{w}"] = {"seconds": s, "images_per_s": n / s, "workers": w, "cpu_seconds": _cpu() - c0}
        finally:
            if old_cache is None:
                os.environ.pop("BENCH_CACHE_DIR", None)
            else:
                os.environ["BENCH_CACHE_DIR"] = old_cache
    base = rows.get("builder_w1", next(iter(v for k, v in rows.items() if k != "floor")))
    click.echo(f"{n} JPEG inputs -> {size}px samples; occluder bank, one-off (cached afterwards): "
               f"{n_cut} cut-outs in {bank_s:.1f} s")
    floor_cpu = rows["floor"]["cpu_seconds"]
    click.echo(f"{'':<14}{'img/s':>9}{'x floor time':>14}{'speed-up vs 1 worker':>22}{'CPU s':>8}{'x floor CPU':>13}")
    for k, v in rows.items():
        ratio = v["seconds"] / floor_s
        speed = (v["images_per_s"] / base["images_per_s"]) if k != "floor" else float("nan")
        click.echo(f"{k:<14}{v['images_per_s']:>9.1f}{ratio:>14.2f}{speed:>22.2f}{v['cpu_seconds']:>8.2f}"
                   f"{v['cpu_seconds'] / floor_cpu:>13.2f}")
    click.echo("CPU s: this process plus its build workers. On a busy machine trust 'x floor CPU' and the speed-up "
               "only when the cores were free (compare `uptime`).")
    if out_json:
        fileio.atomic_write_text(out_json, json.dumps({"n": n, "size": size, "bank_one_off_seconds": bank_s,
                                                       "bank_cutouts": n_cut, "results": rows}, indent=2) + "\n")
