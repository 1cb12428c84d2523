"""`bench occluders`: a labelled contact sheet of the procedural occluders (and the user's cut-outs),
so a person can look at what the generator makes. Each cut-out is shown over a light checkerboard (to
show its alpha) in a cell of the same size, scaled to fit; one row per class, labelled on the left."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np


def contact_sheet(bank, per_class: int, cell: int = 160) -> np.ndarray:
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    try:
        font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font only
        font = small = ImageFont.load_default()
    label_w = 90
    rows = []
    for cls in bank.classes:
        occs = list(bank.by_class[cls])[:per_class]
        row = np.full((cell, label_w + per_class * cell, 3), 255, np.uint8)
        yy, xx = np.mgrid[0:cell, 0:cell]
        checker = np.where(((yy // 10) + (xx // 10)) % 2 == 0, 236, 206).astype(np.float32)[..., None].repeat(3, 2)
        for j, o in enumerate(occs):
            rgba = o.rgba.astype(np.float32) / 255.0
            h, w = rgba.shape[:2]
            s = (cell - 8) / max(h, w)
            nh, nw = max(1, round(h * s)), max(1, round(w * s))
            pre = cv2.resize(rgba[:, :, :3] * rgba[:, :, 3:], (nw, nh), interpolation=cv2.INTER_AREA)
            a = cv2.resize(rgba[:, :, 3], (nw, nh), interpolation=cv2.INTER_AREA)[..., None]
            tile = checker.copy()
            y0, x0 = (cell - nh) // 2, (cell - nw) // 2
            if o.anchor == "bottom":
                y0 = cell - nh - 2  # standing on the cell's bottom edge
            tile[y0 : y0 + nh, x0 : x0 + nw] = tile[y0 : y0 + nh, x0 : x0 + nw] * (1 - a) + pre * 255.0
            row[:, label_w + j * cell : label_w + (j + 1) * cell] = np.clip(np.rint(tile), 0, 255).astype(np.uint8)
        im = Image.fromarray(row)
        d = ImageDraw.Draw(im)
        d.text((6, cell // 2 - 14), cls, fill=(0, 0, 0), font=font)
        d.text((6, cell // 2 + 6), f"{len(bank.by_class[cls])} cut-outs", fill=(90, 90, 90), font=small)
        for j, o in enumerate(occs):
            d.text((label_w + j * cell + 3, 2), o.anchor, fill=(60, 60, 60), font=small)
        rows.append(np.asarray(im))
    sheet = np.concatenate(rows, 0)
    sheet[::cell, :] = 160  # thin separators between rows
    return sheet


@click.command("occluders")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Contact sheet PNG to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bank (as in bench build-dataset).")
@click.option("--size", type=click.IntRange(32, 2048), default=256, show_default=True, help="Image side the cut-outs are drawn for.")
@click.option("--per-class", type=click.IntRange(1, 64), default=8, show_default=True, help="Cut-outs shown per class.")
@click.option("--occluders", "user_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also show user RGBA cut-outs (class = sub-folder name).")
def occluders(out, seed, size, per_class, user_dir):
    """Render a labelled contact sheet of the occluder bank: bamboo, tree, grass, leaves, flowers
    (procedural, deterministic from --seed) plus any user cut-outs."""
    from dataset_tools import fileio
    from dataset_tools.occluders import OccluderBank

    bank = OccluderBank.build(seed, size, per_class=per_class, user_dir=user_dir)
    sheet = contact_sheet(bank, per_class)
    fileio.write_png(out, sheet)
    click.echo(f"Wrote {out} ({len(bank.classes)} classes x up to {per_class} cut-outs, seed {seed}, size {size})")
