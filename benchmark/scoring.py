"""Scoring a folder of predictions: the one code path behind `bench run` and `bench evaluate`.

Protocol (issue 3, "Metrics"; choices written down in `metric_settings` of every results.json):
- a prediction is one 8-bit RGB PNG per sample id of the split, named `<id>.png`, the size of the
  ground truth (L, palette and fully opaque RGBA are converted losslessly; anything else is refused);
  any other entry in the folder is an error, except hidden names (".*", e.g. .DS_Store or a killed
  writer's temporaries);
- it is ALWAYS composited with the dataset's mask before scoring -- prediction inside the hole, the
  occluded input (equal to the ground truth outside the hole, byte for byte) elsewhere -- so a method
  cannot gain or lose anything outside the hole ("scored_on": "composite"); hole = mask value > 127;
- PSNR (whole image and hole only, capped at 100 dB), SSIM (Wang et al. settings) and L1 in the hole are
  per image and averaged over images (`benchmark.metrics.*` document each);
- FID and KID compare pytorch-fid Inception features of the composites with those of the ground
  truths of the same samples. Without the Inception weights both are null, with the reason in
  `metric_notes`, and a warning is printed; they are never computed with random weights;
- the breakdown by severity bin and by occluder class holds the per-image metrics only: FID/KID on
  bins of a few dozen images would be dominated by their small-N bias (notes §2.6), so they are left out.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from dataset_tools.dataset import BuiltDataset, Sample
from dataset_tools.errors import UserError

__all__ = ["Scores", "composite", "load_prediction", "score_predictions", "PER_IMAGE_METRICS"]

PER_IMAGE_METRICS: tuple[str, ...] = ("psnr", "psnr_hole", "ssim", "l1_hole")
MASK_THRESHOLD = 127  # hole = mask > 127 (masks on disk are 0/255)
_BATCH = 32
_LIST_FIRST = 5  # how many offending names an error message lists


@dataclass
class Scores:
    """Everything `score_predictions` measures.

    n: number of scored samples. metrics: {"psnr", "psnr_hole", "ssim", "l1_hole", "fid", "kid_mean",
    "kid_std"} (floats, or None when not computable). metric_notes: {metric: reason/remark}.
    breakdown: {"severity": {bin: {"n", "psnr", "psnr_hole", "ssim", "l1_hole"}}, "occluder_class": {...}}.
    metric_settings: the protocol (see the module docstring). per_image: one dict per sample, columns of
    `benchmark.results.PER_IMAGE_COLUMNS`. weights: {"inception": sha256} when the network was used.
    """

    n: int
    metrics: dict[str, float | None]
    metric_notes: dict[str, str]
    breakdown: dict[str, dict[str, dict[str, Any]]]
    metric_settings: dict[str, Any]
    per_image: list[dict[str, Any]]
    weights: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------

def composite(pred: np.ndarray, occluded: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 HxWx3: `pred` where the mask is a hole (mask > 127), `occluded` (= ground truth) elsewhere.

    Equal to the engine's float composite `pred * m + occluded * (1 - m)` for a binary mask m.
    """
    if pred.dtype != np.uint8 or occluded.dtype != np.uint8:
        raise TypeError("composite expects uint8 images")
    if pred.shape != occluded.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"composite expects two HxWx3 images of equal shape, got {pred.shape} and {occluded.shape}")
    if mask.shape != pred.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {pred.shape[:2]}")
    return np.where((mask > MASK_THRESHOLD)[..., None], pred, occluded)


def load_prediction(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Read one prediction PNG strictly as uint8 HxWx3; raise ValueError(reason) when it is not usable.

    Accepted: RGB; L and P (palette) without transparency, converted losslessly to RGB; RGBA/LA only when
    fully opaque (the alpha is dropped). Rejected: anything else (16-bit, float, CMYK...), a non-PNG file,
    transparency, or a size other than the ground truth's (W, H) = `size`.
    """
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise ValueError(f"is not a PNG ({im.format})")
            im.load()
            mode = im.mode
            if im.size != size:
                raise ValueError(f"is {im.size[0]}x{im.size[1]}, the ground truth is {size[0]}x{size[1]}")
            if mode == "P":
                if "transparency" in im.info:
                    raise ValueError("is a palette image with transparency")
                im = im.convert("RGB")
            elif mode in ("RGBA", "LA"):
                alpha = np.asarray(im.getchannel("A"))
                if alpha.min() != 255:
                    raise ValueError(f"is {mode} with transparent pixels (alpha cannot be dropped losslessly)")
                im = im.convert("RGB")
            elif mode in ("L", "1"):
                im = im.convert("RGB")
            elif mode != "RGB":
                raise ValueError(f"has mode {mode}; expected 8-bit RGB (or L/P/opaque RGBA)")
            arr = np.asarray(im, dtype=np.uint8)
    except ValueError:
        raise
    except Exception as e:  # PIL's UnidentifiedImageError, truncated files, OSError...
        raise ValueError(f"is unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
    return np.ascontiguousarray(arr)


def _name_list(names: list[str]) -> str:
    shown = ", ".join(names[:_LIST_FIRST])
    return shown + (f" and {len(names) - _LIST_FIRST} more" if len(names) > _LIST_FIRST else "")


def _check_listing(samples: list[Sample], folder: Path) -> None:
    if not folder.is_dir():
        raise UserError(f"predictions folder {str(folder)!r} does not exist")
    expected = {f"{s.id}.png" for s in samples}
    present = {e.name for e in os.scandir(folder) if not e.name.startswith(".")}
    missing = sorted(expected - present)
    extra = sorted(present - expected)
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({_name_list(missing)})")
    if extra:
        parts.append(f"{len(extra)} unexpected ({_name_list(extra)})")
    if parts:
        raise UserError(
            f"predictions folder {str(folder)!r} must hold exactly one <id>.png per {samples[0].split if samples else ''} "
            f"sample ({len(expected)} files): " + "; ".join(parts)
        )


def _mean(values: list[float] | np.ndarray) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else None


def _bin_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for k in PER_IMAGE_METRICS:
        out[k] = _mean([np.nan if r[k] is None else r[k] for r in rows])
    return out


def _breakdown(dataset: BuiltDataset, rows: list[dict[str, Any]], samples: list[Sample]) -> dict[str, Any]:
    # by lower edge: dataset.json's keys are sorted alphabetically on disk, which is not the severity order
    edges = dataset.info.get("severity_bins") or {}
    bins = sorted(edges, key=lambda b: (float(edges[b][0]) if edges[b] else 0.0, b))
    for s in samples:
        if s.severity not in bins:
            bins.append(s.severity)
    severity = {b: _bin_stats([r for r, s in zip(rows, samples) if s.severity == b]) for b in bins}
    legend = dataset.legend
    classes = sorted({c for s in samples for c in s.occluder_classes}, key=lambda c: (legend.get(c, 1 << 30), c))
    # a sample with several occluder classes counts in each of them
    occl = {c: _bin_stats([r for r, s in zip(rows, samples) if c in s.occluder_classes]) for c in classes}
    return {"severity": severity, "occluder_class": occl}


def _fid_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("pytorch-fid")
    except Exception:
        return None


def score_predictions(
    dataset: BuiltDataset,
    split: str,
    predictions_dir: str | os.PathLike,
    *,
    inception_weights: str | os.PathLike | None = None,
    device: str = "cpu",
    kid_subset_size: int | None = None,
    progress: bool = True,
    kid_seed: int = 0,
    kid_subsets: int | None = None,
    feature_extractor: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Scores:
    """Score `predictions_dir/<id>.png` for every sample of `split` of `dataset` (see the module docstring).

    Raises one UserError naming the missing, extra, unreadable or wrongly-sized files (first few and a
    count) before any result exists. `feature_extractor` replaces the Inception network (uint8
    (N, H, W, 3) -> (N, D) features); it exists for tests with stubbed features, as pytorch-fid's own
    tests do, and its name is recorded in `metric_settings`.
    """
    from tqdm import tqdm

    from benchmark.metrics import fid as fid_mod
    from benchmark.metrics import kid as kid_mod
    from benchmark.metrics.inception import FEATURE_DIMS, FID_WEIGHTS_FILENAME, RESIZE
    from benchmark.metrics.l1 import l1_hole
    from benchmark.metrics.psnr import PSNR_CAP_DB, count_capped, psnr
    from benchmark.metrics.ssim import SSIM_SETTINGS, ssim

    samples = dataset.split(split)
    if not samples:
        raise UserError(f"the {split} split of {str(dataset.root)!r} is empty: nothing to score")
    folder = Path(predictions_dir)
    _check_listing(samples, folder)

    notes: dict[str, str] = {}
    weights: dict[str, str] = {}
    extractor = feature_extractor
    inception_sha = None
    if extractor is None:
        from benchmark.metrics.inception import inception_extractor, load_fid_inception

        model, inception_sha, reason = load_fid_inception(inception_weights, device=device)
        if model is None:
            notes["fid"] = notes["kid_mean"] = notes["kid_std"] = reason
        else:
            extractor = inception_extractor(model, inception_sha, None, device=device)
            weights["inception"] = inception_sha
    extractor_name = getattr(extractor, "name", None) or (
        getattr(extractor, "__name__", type(extractor).__name__) if extractor is not None else None)

    # SSIM runs in float64, which MPS lacks: CUDA or CPU only
    ssim_device = device if str(device).startswith("cuda") else "cpu"
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    feats_pred: list[np.ndarray] = []
    feats_gt: list[np.ndarray] = []
    bar = tqdm(total=len(samples), desc=f"scoring {split}", unit="img", disable=not progress, file=sys.stderr)
    for start in range(0, len(samples), _BATCH):
        batch = samples[start:start + _BATCH]
        gts, comps, masks = [], [], []
        for s in batch:
            gt = dataset.load(s, "image")
            try:
                pred = load_prediction(folder / f"{s.id}.png", (gt.shape[1], gt.shape[0]))
            except ValueError as e:
                problems.append(f"{s.id}.png {e}")
                continue
            if problems:
                continue  # keep checking the remaining files, but compute nothing more
            mask = dataset.load(s, "mask") > MASK_THRESHOLD
            occluded = dataset.load(s, "occluded")
            gts.append(gt)
            comps.append(composite(pred, occluded, mask.astype(np.uint8) * 255))
            masks.append(mask)
        bar.update(len(batch))
        if problems:
            continue
        # images of one batch may differ in size across datasets; group only equal shapes
        for i, (g, c, m) in enumerate(zip(gts, comps, masks)):
            s = batch[i]
            rows.append({
                "id": s.id, "severity": s.severity, "occluder_classes": ";".join(s.occluder_classes),
                "occlusion_ratio": s.occlusion_ratio,
                "psnr": float(psnr(c, g)), "psnr_hole": _none(psnr(c, g, m)),
                "ssim": None, "l1_hole": _none(l1_hole(c, g, m)),
            })
        shapes = {g.shape for g in gts}
        small = [s.id for s, g in zip(batch, gts) if min(g.shape[:2]) < 11]
        if small:
            raise UserError(f"SSIM's 11x11 window needs images of at least 11x11 pixels; {_name_list(small)} are smaller")
        if len(shapes) == 1:
            vals = ssim(np.stack(comps), np.stack(gts), device=ssim_device)
        else:
            vals = np.array([ssim(c, g, device=ssim_device) for c, g in zip(comps, gts)])
        for r, v in zip(rows[len(rows) - len(gts):], vals):
            r["ssim"] = float(v)
        if extractor is not None:
            if len(shapes) == 1:
                feats_pred.append(np.asarray(extractor(np.stack(comps)), np.float64))
                feats_gt.append(np.asarray(extractor(np.stack(gts)), np.float64))
            else:
                feats_pred += [np.asarray(extractor(c[None]), np.float64) for c in comps]
                feats_gt += [np.asarray(extractor(g[None]), np.float64) for g in gts]
    bar.close()
    if problems:
        raise UserError(
            f"{len(problems)} unusable prediction file(s) in {str(folder)!r}: " + "; ".join(problems[:_LIST_FIRST])
            + (f"; and {len(problems) - _LIST_FIRST} more" if len(problems) > _LIST_FIRST else "")
        )

    if extractor is None:
        # the one warning a user sees on the terminal (tqdm-style line on stderr, not a Python warning)
        print(f"warning: FID and KID are null: {notes['fid']}", file=sys.stderr)
    n = len(rows)
    metrics: dict[str, float | None] = {k: _mean([np.nan if r[k] is None else r[k] for r in rows]) for k in PER_IMAGE_METRICS}
    capped = count_capped([r["psnr"] for r in rows])
    capped_hole = count_capped([np.nan if r["psnr_hole"] is None else r["psnr_hole"] for r in rows])
    if capped:
        notes["psnr"] = f"{capped} of {n} images reached the {PSNR_CAP_DB:g} dB cap (MSE <= 1e-10: identical to the ground truth)"
    if capped_hole:
        notes["psnr_hole"] = f"{capped_hole} of {n} holes reached the {PSNR_CAP_DB:g} dB cap (MSE <= 1e-10: identical to the ground truth)"
    empty = sum(r["psnr_hole"] is None for r in rows)
    if empty:
        msg = f"{empty} of {n} samples have an empty hole and are left out of the hole metrics"
        notes["psnr_hole"] = (notes["psnr_hole"] + "; " + msg) if "psnr_hole" in notes else msg
        notes["l1_hole"] = msg

    metrics.update({"fid": None, "kid_mean": None, "kid_std": None})
    kid_m = None
    n_subsets = kid_mod.KID_DEFAULT_SUBSETS if kid_subsets is None else int(kid_subsets)
    if extractor is not None:
        fp, fg = np.concatenate(feats_pred), np.concatenate(feats_gt)
        if n < 2:
            notes["fid"] = notes["kid_mean"] = notes["kid_std"] = f"FID/KID need at least 2 images, the split has {n}"
        else:
            try:
                metrics["fid"] = fid_mod.fid_from_features(fp, fg)
            except ValueError as e:
                notes["fid"] = f"not computable: {e}"
            metrics["kid_mean"], metrics["kid_std"], kid_m = kid_mod.kid(fp, fg, kid_subset_size, n_subsets, kid_seed)
            if n < fp.shape[1]:
                notes["fid"] = notes.get("fid", "") or (
                    f"N = {n} < {fp.shape[1]} feature dimensions: the covariances are rank-deficient and FID is "
                    "biased upwards; compare only at equal N, and prefer KID")
            if kid_m == n:
                notes["kid_std"] = (f"subset size = n = {n}: every subset is the whole set, so kid_std is 0 "
                                    "and carries no information")

    fid_backend = "pytorch-fid" if feature_extractor is None else f"custom extractor: {extractor_name}"
    settings = {
        "composite": True,
        "scored_on": "composite",
        "split": split,
        "hole": f"mask > {MASK_THRESHOLD} (masks are 0/255, 255 = hole)",
        "aggregate": "per image, then mean over images",
        "psnr": {"data_range": 1.0, "input": "8-bit RGB / 255, float64", "per_image": True,
                 "aggregate": "mean over images of per-image dB", "cap_db": PSNR_CAP_DB,
                 "hole": "MSE over hole pixels and 3 channels"},
        "ssim": dict(SSIM_SETTINGS),
        "l1_hole": {"units": "[0,1]", "over": "hole pixels and 3 channels", "aggregate": "mean over images"},
        "fid": {"backend": fid_backend, "version": _fid_version(), "dims": FEATURE_DIMS,
                "weights_file": FID_WEIGHTS_FILENAME, "inception_sha256": inception_sha,
                "resize": RESIZE, "reference": f"ground truth of the same {split} samples (paired)",
                "covariance": "sample (N-1), float64", "sqrtm": "scipy.linalg.sqrtm; eps=1e-6 on the diagonals when not finite",
                "per_bin": "not computed (bins are far below the 2048 feature dimensions)"},
        "kid": {"subset_size": kid_m if kid_m is not None else (kid_subset_size or f"min({kid_mod.KID_DEFAULT_SUBSET_SIZE}, n)"),
                "subsets": n_subsets, "degree": kid_mod.DEGREE, "kernel": "(x.y/d + 1)^3",
                "estimator": "unbiased MMD^2", "std": "population std over subsets", "scale": 1, "seed": kid_seed},
    }
    return Scores(n=n, metrics=metrics, metric_notes=notes, breakdown=_breakdown(dataset, rows, samples),
                  metric_settings=settings, per_image=rows, weights=weights)


def _none(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x
