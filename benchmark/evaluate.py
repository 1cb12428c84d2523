"""`bench evaluate`: score any method's predictions with the benchmark's metrics.

Authors of new methods inpaint the test split themselves, save one 8-bit RGB PNG per sample id
(`<id>.png`, the size of the ground truth) and run

    bench evaluate --data DIR --predictions DIR --name NAME --out DIR

which writes `results.json` and `per_image.csv` in the same format as `bench run` (method = variant =
NAME, preset = "external", no training block), through the same code (`benchmark.scoring`), so the
leaderboard treats both alike and `bench evaluate` on a run's `predictions/` reproduces its metrics.
A bad predictions folder (missing, extra, unreadable or wrongly-sized files) is one error naming the
files, exit 2, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import click

from dataset_tools.errors import UserError


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but CUDA is not available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise UserError("--device mps was requested but MPS is not available")
    return name


@click.command("evaluate")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Built dataset folder.")
@click.option("--predictions", "pred_dir", required=True, type=click.Path(path_type=Path),
              help="Folder with one <id>.png per sample of the split.")
@click.option("--name", required=True, help="Method name recorded as method and variant.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write results.json and per_image.csv into.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--inception-weights", type=click.Path(path_type=Path), default=None,
              help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (default: $TORCH_HOME/hub/checkpoints/). "
                   "Without it FID/KID are null.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of KID's random subsets (bench run uses 0).")
@click.option("--kid-subset-size", default=None, type=int, help="KID subset size (default min(1000, n)).")
@click.option("--overwrite", is_flag=True, help="Replace an existing results.json in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(data_dir, pred_dir, name, out_dir, split, inception_weights, device, seed, kid_subset_size, overwrite, quiet):
    """Score a folder of predictions (composited with the dataset's masks) and write results.json."""
    from dataset_tools.dataset import BuiltDataset

    from benchmark.results import build_results, provenance, write_per_image_csv, write_results
    from benchmark.scoring import score_predictions

    if not name.strip() or any(c in name for c in "/\\"):
        raise UserError(f"--name {name!r} must be a non-empty name without slashes")
    if kid_subset_size is not None and kid_subset_size < 2:
        raise UserError("--kid-subset-size must be at least 2")
    if (out_dir / "results.json").exists() and not overwrite:
        raise UserError(f"{str(out_dir / 'results.json')!r} exists; pass --overwrite to replace it")
    dataset = BuiltDataset(data_dir)
    dev = resolve_device(device)
    scores = score_predictions(dataset, split, pred_dir, inception_weights=inception_weights, device=dev,
                               kid_subset_size=kid_subset_size, progress=not quiet, kid_seed=seed)
    results = build_results(
        method=name, variant=name, preset="external", seed=seed, dataset=dataset, split=split, scores=scores,
        training={"epochs": None, "steps": None, "wall_seconds": None, "device": dev, "world_size": None,
                  "external": True},
        provenance=provenance(seed),
        config_notes={"source": "bench evaluate (external predictions)", "predictions": str(Path(pred_dir).resolve())},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_per_image_csv(out_dir / "per_image.csv", scores.per_image)
    write_results(out_dir, results)  # last: its presence means the folder is complete
    m = scores.metrics
    fmt = lambda v, f: "null" if v is None else format(v, f)  # noqa: E731
    click.echo(f"{name}: n={scores.n} psnr={fmt(m['psnr'], '.3f')} psnr_hole={fmt(m['psnr_hole'], '.3f')} "
               f"ssim={fmt(m['ssim'], '.4f')} l1_hole={fmt(m['l1_hole'], '.4f')} fid={fmt(m['fid'], '.3f')} "
               f"kid={fmt(m['kid_mean'], '.5f')} -> {out_dir / 'results.json'}")
