"""Visual comparison grids in the manner of the paper's Fig. 7/8.

One row per chosen test sample: ground truth, occluded input, then each entry's (composited)
prediction from its run folder's `predictions/<id>.png`, with column labels on top and the sample id,
severity and occlusion ratio on the left. Ground truth and the occluded input come from the built
dataset (`--data`), which must be the dataset the runs were scored on (same fingerprint).

Default samples (deterministic): for each severity bin, mildest to most severe, the test sample with the
median occlusion ratio in that bin (ties broken by id), among samples every entry has a prediction for
(all test samples if there are none such; missing predictions become grey "no prediction" tiles).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dataset_tools import fileio
from dataset_tools.dataset import BuiltDataset, Sample
from dataset_tools.errors import UserError
from leaderboard.tables import GroupReport

TILE_MIN, TILE_MAX = 128, 256
PAD, HEADER, LEFT = 4, 22, 118
BACKGROUND, INK, MISSING = (255, 255, 255), (20, 20, 20), (200, 200, 200)


def _font(size: int = 12):
    return ImageFont.load_default(size=size)


def _tile(img: Image.Image) -> Image.Image:
    w, h = img.size
    side = max(w, h)
    if side < TILE_MIN:
        k = -(-TILE_MIN // side)  # integer up-scaling keeps pixels honest (nearest neighbour)
        return img.resize((w * k, h * k), Image.NEAREST)
    if side > TILE_MAX:
        s = TILE_MAX / side
        return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return img


def default_samples(gr: GroupReport, ds: BuiltDataset, limit: int = 6) -> list[Sample]:
    everything = ds.split("test")
    # prefer samples every entry has a prediction for; otherwise show gaps as "no prediction" tiles
    test = [s for s in everything if all(_prediction(e, s.id) is not None for e in gr.entries)] or everything
    if not test:
        return []
    known = ds.info.get("severity_bins") or {}
    bins = sorted({s.severity for s in test},
                  key=lambda b: (0, known[b][0], b) if b in known else
                  ((1, gr.severity_bins.index(b), b) if b in gr.severity_bins else (2, 0, b)))
    chosen = []
    for b in bins:
        members = sorted((s for s in test if s.severity == b), key=lambda s: (s.occlusion_ratio, s.id))
        chosen.append(members[(len(members) - 1) // 2])
    return chosen[:limit]


def _prediction(entry, sample_id: str) -> Path | None:
    for r in entry.runs:  # lowest seed first
        p = r.predictions_dir / f"{sample_id}.png"
        if p.is_file():
            return p
    return None


@dataclass
class Grid:
    path: Path
    sample_ids: list[str]
    columns: list[str]
    boxes: dict[tuple[int, int], tuple[int, int, int, int]]  # (row, column) -> (x, y, w, h) of the tile


def comparison_grid(gr: GroupReport, ds: BuiltDataset, out_path: Path, sample_ids: list[str] | None = None) -> Grid | None:
    """Write the grid PNG; returns its layout (None when there is nothing to show)."""
    if ds.fingerprint != gr.group.fingerprint:
        raise UserError(f"--data {ds.root} (fingerprint {ds.fingerprint[:12]}) is not the dataset these runs were "
                        f"scored on (fingerprint {gr.group.fingerprint[:12]})")
    by_id = {s.id: s for s in ds.samples}
    if sample_ids:
        unknown = [i for i in sample_ids if i not in by_id]
        if unknown:
            raise UserError(f"--samples: {', '.join(unknown)} not in {ds.root}/metadata.csv")
        samples = [by_id[i] for i in sample_ids]
    else:
        samples = default_samples(gr, ds)
    if not samples:
        return None
    # the "occluded" method's output is the input itself: shown once, as the input column
    entries = [e for e in gr.entries if e.key != "occluded"]
    columns = ["Ground truth", "Occluded input"] + [e.label for e in entries]
    rows: list[list[Image.Image | None]] = []
    for s in samples:
        row: list[Image.Image | None] = [Image.fromarray(ds.load(s, "image")), Image.fromarray(ds.load(s, "occluded"))]
        for e in entries:
            p = _prediction(e, s.id)
            if p is None:
                row.append(None)
            else:
                with Image.open(p) as im:
                    row.append(im.convert("RGB"))
        rows.append(row)
    ref = _tile(rows[0][0])
    tw, th = ref.size
    font, small = _font(12), _font(10)
    # column width grows to fit its label
    width_of = lambda text, f: int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=f))  # noqa: E731
    col_w = max(tw, max(width_of(c, font) for c in columns) + 6)
    W = LEFT + len(columns) * (col_w + PAD) + PAD
    H = HEADER + len(rows) * (th + PAD) + PAD
    canvas = Image.new("RGB", (W, H), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for j, c in enumerate(columns):
        x = LEFT + PAD + j * (col_w + PAD)
        draw.text((x + (col_w - width_of(c, font)) // 2, 4), c, fill=INK, font=font)
    for i, (s, row) in enumerate(zip(samples, rows)):
        y = HEADER + PAD + i * (th + PAD)
        draw.text((4, y + 2), s.id, fill=INK, font=small)
        draw.text((4, y + 16), f"{s.severity}", fill=INK, font=small)
        draw.text((4, y + 30), f"{100 * s.occlusion_ratio:.1f}% occluded", fill=INK, font=small)
        for j, img in enumerate(row):
            x = LEFT + PAD + j * (col_w + PAD) + (col_w - tw) // 2
            boxes[(i, j)] = (x, y, tw, th)
            if img is None:
                draw.rectangle([x, y, x + tw - 1, y + th - 1], fill=MISSING)
                draw.text((x + 6, y + th // 2 - 6), "no prediction", fill=INK, font=small)
                continue
            tile = _tile(img)
            if tile.size != (tw, th):
                tile = tile.resize((tw, th), Image.LANCZOS)
            canvas.paste(tile, (x, y))
    fileio.write_png(out_path, np.asarray(canvas))
    return Grid(out_path, [s.id for s in samples], columns, boxes)
