"""`bench build-dataset`: the command-line face of `dataset_tools.build`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dataset_tools.errors import UserError


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@click.command("build-dataset")
@click.option("--source", type=click.Choice(["ipanda50", "folder", "synthetic"]), default="synthetic", show_default=True,
              help="ipanda50: an extracted iPanda-50; folder: one sub-folder per identity; synthetic: procedural stand-in (labelled synthetic).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the source images are (ipanda50, folder). With --download: where to put iPanda-50.")
@click.option("--download", is_flag=True, help="Download iPanda-50's three archives into --root first (MD5-checked, resumable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder (new or empty; or an interrupted build to resume).")
@click.option("--num-images", type=int, default=1000, show_default=True, help="Samples to build (the paper: 1000), drawn stratified by identity.")
@click.option("--size", type=int, default=256, show_default=True, help="Side of the square output images, in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice (same seed, same bytes).")
@click.option("--workers", type=int, default=_default_workers, show_default="CPU count, at most 8", help="Worker processes (output does not depend on it).")
@click.option("--split-ratio", default="2:1", show_default=True, help="TRAIN:TEST ratio.")
@click.option("--split-by", type=click.Choice(["stratified", "identity"]), default="stratified", show_default=True,
              help="stratified: every identity in both splits (>= 3 images); identity: identity-disjoint splits.")
@click.option("--occluders", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Extra RGBA PNG cut-outs; the class is the sub-folder name.")
@click.option("--face-share", type=click.FloatRange(0, 1), default=None, help="Share of samples aiming an occluder at the eyes/face [default: 0.35].")
@click.option("--min-occluders", type=click.IntRange(1, 16), default=None, help="Fewest occluders per image [default: 1].")
@click.option("--max-occluders", type=click.IntRange(1, 16), default=None, help="Most occluders per image [default: 4].")
@click.option("--shadow/--no-shadow", default=None, help="Cast a soft shadow under occluders (shadow pixels are part of the mask) [default: off].")
@click.option("--identities", type=click.IntRange(1, 1000), default=10, show_default=True, help="Identities of the synthetic source.")
@click.option("--bank-size", type=click.IntRange(1, 1000), default=32, show_default=True, help="Procedural cut-outs generated per occluder class.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build_dataset(source, root, download, out, num_images, size, seed, workers, split_ratio, split_by, occluders,
                  face_share, min_occluders, max_occluders, shadow, identities, bank_size, quiet):
    """Build iPanda-50-occlusion: natural occluders (bamboo, tree, grass, leaves, flowers) composited onto
    source images, with masks (255 = occluded), segmentation maps and metadata, split 2:1 train/test.

    \b
    Examples:
      bench build-dataset --source synthetic --num-images 60 --size 128 --out data/demo
      bench build-dataset --source ipanda50 --root ~/data/iPanda-50 --download --out data/ipanda50-occlusion
      bench build-dataset --source folder --root ~/photos/snow-leopards --out data/leopards-occlusion
    """
    from dataset_tools.build import BuildConfig, build_dataset as run_build
    from dataset_tools.compositing import CompositeConfig

    if source in ("ipanda50", "folder") and root is None:
        raise UserError(f"--root is required for --source {source}")
    comp = CompositeConfig()
    overrides = {"face_share": face_share, "min_occluders": min_occluders, "max_occluders": max_occluders, "shadow": shadow}
    for k, v in overrides.items():
        if v is not None:
            setattr(comp, k, v)
    if comp.min_occluders > comp.max_occluders:
        raise UserError("--min-occluders cannot exceed --max-occluders")
    cfg = BuildConfig(
        source=source, root=str(root) if root else None, num_images=num_images, size=size, seed=seed,
        split_ratio=split_ratio, split_by=split_by, occluders=str(occluders) if occluders else None,
        bank_size=bank_size, identities=identities, composite=comp,
    )
    summary = run_build(cfg, out, workers=workers, progress=not quiet, download=download)
    c = summary.counts
    click.echo(f"Built {summary.n} samples in {summary.out} ({summary.seconds:.1f} s, {summary.n / max(summary.seconds, 1e-9):.1f} img/s"
               + (f", {summary.resumed} resumed" if summary.resumed else "") + ")")
    click.echo(f"  split:     {', '.join(f'{k} {v}' for k, v in c['split'].items())}")
    click.echo(f"  severity:  {', '.join(f'{k} {v}' for k, v in c['severity'].items())}")
    click.echo(f"  occluders: {', '.join(f'{k} {v}' for k, v in c['occluder_class'].items())}")
    click.echo(f"  eyes occluded: {c['eyes_occluded']} of {c['with_eye_boxes']} samples with eye boxes")
    click.echo(f"  rejected source files: {summary.rejected}" + (" (see rejected.csv)" if summary.rejected else ""))
