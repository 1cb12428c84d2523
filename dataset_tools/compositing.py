"""Compositing natural occluders onto a panda image: placement, coverage control, realism, and the
mask/segmentation that describe exactly what changed.

The paper (Sect. 3.1) occludes iPanda-50 images with "trees, bamboo, flowers and grass", covering "the
giant panda's back, eyes, face and other critical and non-critical parts, ... from mild to severe", and
ships a binary mask (occluded = 1) plus an "occlusion segmentation map". It publishes neither its
occluders nor its ratio bins, so the choices below are ours (recorded in dataset.json):

Coverage. Each sample draws a severity bin uniformly, then a target ratio uniformly inside the bin's
middle 80 %; default bins are mild (0, 0.10], moderate (0.10, 0.25], severe (0.25, 0.45] of the image
area (severe stops at 0.45, about LaMa's `max_tamper_area` 0.5). It draws 1-4 occluders; each takes
an equal share of the coverage still missing, its scale set from its own alpha area; the last one's
scale is searched (Newton-like steps on coverage ~ scale^2, bisection fallback) until the measured
union (the final mask) is within 5 % of the target, and when the scale range cannot get there more
occluders are added (at most 4 extra). The reported `occlusion_ratio`
is always measured from the final mask, and the severity is the bin holding the measured ratio.

Placement is class-aware (as in the public occlusion generators, see the notes): grass and bamboo
stand on the bottom edge (bamboo culms are taller than the frame, so they cross it), tree trunks stand
on the bottom edge and branches reach in from the left, right or top, leaves and flowers are clusters
placed anywhere. Placements aim at the animal: iPanda-50 frames are crops around the panda, so the aim
point is drawn around the image centre; with probability `face_share` (and eye boxes present) the first
occluder aims at the face (the eye boxes' centre), so eyes/face occlusions are common.

Realism:
- colour and brightness matched to the scene by a partial Reinhard transfer in CIELAB (Reinhard et
  al. 2001, "Color transfer between images"): the occluder's L mean moves `match_lightness` of the
  way to the scene's and its L spread `match_contrast` of the way; a/b means move `match_chroma` of the
  way (the scene's illuminant colour cast), so bamboo stays green but takes on the scene's light;
- blur matched to the image: the image's edge blur is estimated by re-blurring (Hu & de Haan 2006,
  "Low cost robust blur estimator"): for a Gaussian-blurred edge of scale s, the gradient energy ratio
  rho = E(G_1 * I) / E(I) = s / sqrt(s^2 + 1), so s = rho / sqrt(1 - rho^2); the occluder layer gets
  the extra Gaussian blur sqrt(s_img^2 - s_occ^2) (s_occ ~ 0.5 px for our anti-aliased cut-outs);
- feathered edges: the alpha gets a Gaussian of `feather` px (x size/256) on top of its anti-aliasing;
- optional soft shadow (`shadow=True`): the occluder's alpha offset toward the lower right, blurred,
  darkening what is under it by up to `shadow_opacity`.

The invariant: `mask` is every pixel whose value changed (alpha > 0 after 8-bit quantisation, and
shadow pixels), so outside the mask `occluded` equals the ground truth byte for byte. It is enforced
at the end: mask = (occluded != gt).any(-1) | (alpha_q > 0), and the ground truth is copied back
outside it. `segmentation` holds the class index (legend) of the top-most occluder at each mask pixel
(shadow-only pixels: the caster's class), 0 outside. `classes` lists the classes visible in the final
segmentation map, unique and sorted alphabetically (an occluder hidden entirely under later ones is
not listed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from dataset_tools.occluders.base import Occluder

# scale range per class (relative to the cut-out's native size, which is set relative to the image)
SCALE_RANGE = {"bamboo": (0.45, 1.6), "tree": (0.4, 1.6), "grass": (0.5, 2.2), "leaves": (0.4, 3.2),
               "flowers": (0.4, 3.2)}
USER_SCALE_RANGE = (0.15, 1.6)
EYE_COVER = 0.25  # an eye counts as occluded when at least this share of its box is masked


def _default_bins() -> dict[str, list[float]]:
    return {"mild": [0.0, 0.10], "moderate": [0.10, 0.25], "severe": [0.25, 0.45]}


@dataclass
class CompositeConfig:
    """Every compositing choice (serialised into dataset.json; lists, not tuples, so it round-trips)."""

    face_share: float = 0.35  # share of samples whose first occluder aims at the eyes/face
    min_occluders: int = 1
    max_occluders: int = 4
    shadow: bool = False
    severity_bins: dict[str, list[float]] = field(default_factory=_default_bins)  # name -> (lo, hi]
    class_weights: dict[str, float] = field(default_factory=dict)  # class -> weight; absent = 1
    feather: float = 0.6  # extra Gaussian on alpha, px at 256 px (scaled with the image)
    match_lightness: float = 0.4
    match_contrast: float = 0.25
    match_chroma: float = 0.15
    match_blur: bool = True
    shadow_opacity: float = 0.35
    shadow_offset: float = 0.02  # of the image side
    shadow_blur: float = 0.012  # of the image side
    ratio_tolerance: float = 0.1  # relative tolerance of the coverage search
    eye_cover: float = EYE_COVER


@dataclass
class CompositeResult:
    occluded: np.ndarray  # HxWx3 uint8
    mask: np.ndarray  # HxW uint8, 255 = occluded
    segmentation: np.ndarray  # HxW uint8, legend index
    classes: list[str]
    eyes_occluded: bool
    target_severity: str
    target_ratio: float
    placements: list[dict] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Scene measurements


def estimate_blur(gray: np.ndarray) -> float:
    """Gaussian edge-blur scale of an image, in px, by re-blurring (see the module docstring)."""
    g = gray.astype(np.float32)

    def energy(x):
        gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3)
        return float((gx * gx + gy * gy).mean())

    e0 = energy(g)
    if e0 <= 1e-9:
        return 0.0
    rho = min(energy(cv2.GaussianBlur(g, (0, 0), 1.0)) / e0, 0.995)
    return rho / math.sqrt(1 - rho * rho)


def scene_stats(image: np.ndarray):
    """CIELAB mean and std of an image (uint8 RGB), measured on a ~64 px grid of its pixels (the
    statistics of a photo barely change, and the full image would cost more than the rest)."""
    step = max(1, min(image.shape[:2]) // 64)
    small = np.ascontiguousarray(image[::step, ::step])
    lab = cv2.cvtColor(small.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


def occluder_stats(rgba: np.ndarray):
    """CIELAB mean and std over a cut-out's opaque pixels (alpha > 0.5), or None when it has too few."""
    sel = rgba[rgba[:, :, 3] > 127][:, :3]
    if len(sel) < 4:
        return None
    lab = cv2.cvtColor(sel.reshape(1, -1, 3).astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


def colour_match(rgb01: np.ndarray, stats, scene_mean, scene_std, cfg: CompositeConfig) -> np.ndarray:
    """Partial Reinhard transfer of a cut-out's colours toward the scene's (float RGB in [0,1]);
    `stats` are the cut-out's own CIELAB mean/std (`occluder_stats`)."""
    if stats is None or rgb01.size == 0:
        return rgb01
    mo, so = stats
    lab = cv2.cvtColor(rgb01, cv2.COLOR_RGB2LAB)
    ratio = 1 + cfg.match_contrast * (scene_std[0] / max(so[0], 1e-3) - 1)
    lab[..., 0] = (lab[..., 0] - mo[0]) * ratio + mo[0] + cfg.match_lightness * (scene_mean[0] - mo[0])
    lab[..., 1] += cfg.match_chroma * (scene_mean[1] - mo[1])
    lab[..., 2] += cfg.match_chroma * (scene_mean[2] - mo[2])
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0, 1)


# ----------------------------------------------------------------------------------------------
# Placement


@dataclass
class Placement:
    occ: Occluder
    pivot: tuple[float, float]  # in the (possibly flipped) cut-out's pixels
    target: tuple[float, float]  # where the pivot lands in the image
    angle: float  # degrees, image coordinates (y down; positive turns +x toward +y)
    flip: bool
    scale: float
    face: bool = False
    drop: float = 0.0  # extra downward shift, in cut-out pixels (scaled): keeps tilted bases below the frame

    def matrix(self, scale: float | None = None) -> np.ndarray:
        s = self.scale if scale is None else scale
        a = math.radians(self.angle)
        c, si = math.cos(a) * s, math.sin(a) * s
        px, py = self.pivot
        tx, ty = self.target[0], self.target[1] + self.drop * s
        return np.array([[c, -si, tx - (c * px - si * py)], [si, c, ty - (si * px + c * py)]], np.float64)


def _aim(rng: np.random.Generator, size: int) -> tuple[float, float]:
    """A point on the animal: iPanda-50 frames are crops around the panda (centre-biased)."""
    x = float(np.clip(rng.normal(0.5, 0.17), 0.08, 0.92)) * size
    y = float(np.clip(rng.normal(0.55, 0.17), 0.1, 0.92)) * size
    return x, y


def plan(occ: Occluder, rng: np.random.Generator, size: int, aim: tuple[float, float], face: bool) -> Placement:
    h, w = occ.rgba.shape[:2]
    flip = bool(rng.random() < 0.5)
    if occ.anchor == "bottom":
        # stands on the bottom edge, under the aim point, with a small lean
        lean = rng.normal(0, 6 if occ.cls != "grass" else 3)
        # tilting about the bottom centre lifts one bottom corner by (w/2) sin(lean): drop it back
        return Placement(occ, (w / 2, h), (aim[0] + rng.normal(0, size * 0.03), size + size * rng.uniform(0, 0.03)),
                         lean, flip, 1.0, face, drop=w / 2 * abs(math.sin(math.radians(lean))))
    if occ.anchor in ("side", "top"):
        # the cut-out grows from its left column: enter from the left, the right (mirrored) or the top
        side = rng.choice(["left", "right", "top"], p=[0.35, 0.35, 0.3]) if occ.anchor == "side" else "top"
        inset = size * rng.uniform(0.0, 0.04)
        if side == "left":
            return Placement(occ, (0, h / 2), (-inset, aim[1]), rng.normal(0, 12), False, 1.0, face)
        if side == "right":
            return Placement(occ, (w, h / 2), (size + inset, aim[1]), rng.normal(0, 12), True, 1.0, face)
        return Placement(occ, (0, h / 2), (aim[0], -inset), 90 + rng.normal(0, 15), bool(rng.random() < 0.5), 1.0, face)
    # free clusters: centred near the aim point, any rotation
    jitter = 0.03 if face else 0.08
    return Placement(occ, (w / 2, h / 2), (aim[0] + rng.normal(0, size * jitter), aim[1] + rng.normal(0, size * jitter)),
                     rng.uniform(0, 360), flip, 1.0, face)


def _src(occ: Occluder, flip: bool, cache: dict, channel: int | None = None) -> np.ndarray:
    """The cut-out (or one channel), mirrored when `flip`, contiguous; memoised per process."""
    key = ("src", id(occ), flip, channel)
    hit = cache.get(key)
    if hit is None:
        arr = occ.rgba[:, ::-1] if flip else occ.rgba
        arr = arr if channel is None else arr[:, :, channel]
        hit = cache[key] = (occ, np.ascontiguousarray(arr))
    return hit[1]


def _bbox(M: np.ndarray, w: int, h: int, size: int, margin: int):
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ M.T
    x0 = max(int(math.floor(corners[:, 0].min())) - margin, 0)
    y0 = max(int(math.floor(corners[:, 1].min())) - margin, 0)
    x1 = min(int(math.ceil(corners[:, 0].max())) + margin + 1, size)
    y1 = min(int(math.ceil(corners[:, 1].max())) + margin + 1, size)
    return x0, y0, x1, y1


def warp(src: np.ndarray, pl: Placement, size: int, sigma: float, scale: float | None = None):
    """Warp `src` (a uint8 RGBA cut-out with bled colours, or its alpha channel) into the image frame,
    then blur it by `sigma` (feather + defocus). Every channel goes through the same uint8 operations,
    so the alpha of the full warp equals the alpha-only warp used by the coverage search, exactly.
    Returns (layer, (x0, y0)) for the layer's bounding box, or None when it misses the image."""
    s = pl.scale if scale is None else scale
    h, w = src.shape[:2]
    M = pl.matrix(s)
    if s < 0.7:  # downscale with area averaging first; linear warping alone would alias thin blades
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        M = M @ np.array([[w / nw, 0, 0], [0, h / nh, 0], [0, 0, 1]])
    margin = int(math.ceil(3 * sigma)) + 1
    x0, y0, x1, y1 = _bbox(M, src.shape[1], src.shape[0], size, margin)
    if x1 <= x0 or y1 <= y0:
        return None
    M = M.copy()
    M[0, 2] -= x0
    M[1, 2] -= y0
    layer = cv2.warpAffine(src, M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if sigma > 0.05:
        layer = cv2.GaussianBlur(layer, (0, 0), sigma)
    return layer, (x0, y0)


def _coverage(union: np.ndarray, covered: int, layer) -> int:
    """Pixels of the union (now `covered`) after adding `layer` (any nonzero 8-bit alpha)."""
    if layer is None:
        return covered
    a, (x0, y0) = layer
    h, w = a.shape
    sub = union[y0 : y0 + h, x0 : x0 + w]
    return covered - int(np.count_nonzero(sub)) + int(np.count_nonzero(sub | (a > 0)))


def _pick_class(rng: np.random.Generator, classes: list[str], cfg: CompositeConfig, face: bool) -> str:
    cands = classes
    if face:  # things that plausibly hang in front of a face
        pref = [c for c in classes if c in ("leaves", "flowers", "tree", "bamboo")] or classes
        cands = pref
    w = np.array([float(cfg.class_weights.get(c, 1.0)) for c in cands])
    w = w / w.sum()
    return cands[int(rng.choice(len(cands), p=w))]


def composite(image: np.ndarray, eyes, bank, rng: np.random.Generator, cfg: CompositeConfig,
              legend: dict[str, int]) -> CompositeResult:
    """Occlude `image` (HxWx3 uint8, square) with occluders from `bank`; see the module docstring."""
    size = image.shape[0]
    if image.shape[1] != size:
        raise ValueError("composite expects a square image")
    gt = image
    bins = cfg.severity_bins
    names = list(bins)
    sev = names[int(rng.integers(len(names)))]
    lo, hi = bins[sev]
    width = hi - lo
    target = float(rng.uniform(lo + 0.1 * width, hi - 0.1 * width))
    n_occ = int(rng.integers(cfg.min_occluders, cfg.max_occluders + 1))
    face = bool(eyes) and rng.random() < cfg.face_share
    classes = [c for c in bank.classes if bank.by_class.get(c)]
    k_size = size / 256.0
    img01 = gt.astype(np.float32) * (1.0 / 255.0)
    scene_mean, scene_std = scene_stats(gt)
    cache = getattr(bank, "cache", None)
    cache = cache if isinstance(cache, dict) else {}
    sigma_img = estimate_blur(cv2.cvtColor(gt, cv2.COLOR_RGB2GRAY)) if cfg.match_blur else 0.0
    feather = cfg.feather * k_size

    def sigma_for(scale: float) -> float:
        s_occ = 0.5 * max(1.0, scale)  # anti-aliased cut-out edge; linear upscaling widens it
        extra = math.sqrt(max(sigma_img**2 - s_occ**2, 0.0)) if cfg.match_blur else 0.0
        return math.sqrt(feather**2 + min(extra, 3.0 * k_size) ** 2)

    total = size * size
    goal = target * total
    union = np.zeros((size, size), bool)
    covered = 0
    placed: list[tuple[Placement, float]] = []  # (placement, blur sigma)
    max_total = n_occ + 4
    k = 0
    while k < max_total:
        if covered >= goal * (1 - cfg.ratio_tolerance / 2) and k >= n_occ:
            break
        if covered >= goal * (1 - cfg.ratio_tolerance / 2) and k >= cfg.min_occluders:
            break
        is_face = face and k == 0
        cls = _pick_class(rng, classes, cfg, is_face)
        occ = bank.by_class[cls][int(rng.integers(len(bank.by_class[cls])))]
        if is_face:
            aim = (float(np.mean([(b[0] + b[2]) / 2 for b in eyes])), float(np.mean([(b[1] + b[3]) / 2 for b in eyes])))
        else:
            aim = _aim(rng, size)
        pl = plan(occ, rng, size, aim, is_face)
        smin, smax = SCALE_RANGE.get(occ.cls, USER_SCALE_RANGE) if occ.name.startswith(occ.cls + "-") else USER_SCALE_RANGE
        alpha_src = _src(occ, pl.flip, cache, 3)
        remaining = max(goal - covered, 0.0)
        slots = max(n_occ - k, 1)
        share = remaining / slots
        akey = ("area", id(occ))
        if akey not in cache:
            cache[akey] = (occ, float(np.count_nonzero(alpha_src)))
        native_area = cache[akey][1]
        s = float(np.clip(math.sqrt(share / max(native_area, 1.0)), smin, smax))
        if slots == 1 or k >= n_occ:
            # last planned occluder (or an extra one): search the scale so the union meets the goal.
            # Added coverage grows about as scale^2 (until the frame clips it), so Newton-like steps
            # s *= sqrt(need / added) converge in 2-3 warps; a bracket falls back to bisection.
            need = goal - covered
            tol = cfg.ratio_tolerance * goal / 2
            lo_s, hi_s = smin, smax
            for _ in range(6):
                added = _coverage(union, covered, warp(alpha_src, pl, size, sigma_for(s), s)) - covered
                if abs(added - need) <= tol:
                    break
                if added < need:
                    lo_s = max(lo_s, s)
                else:
                    hi_s = min(hi_s, s)
                nxt = s * 2.0 if added <= 0 else s * math.sqrt(need / added)
                if not lo_s < nxt < hi_s:
                    nxt = math.sqrt(lo_s * hi_s) if lo_s < hi_s else lo_s
                    if added < need and s >= smax:
                        break  # already at the largest scale: extra occluders take the rest
                if abs(nxt - s) < 1e-4 * s:
                    break
                s = nxt
        pl.scale = s
        sig = sigma_for(s)
        layer = warp(_src(occ, pl.flip, cache), pl, size, sig)  # RGBA, kept for painting
        k += 1
        if layer is None:
            continue
        lay, (x0, y0) = layer
        sub = union[y0 : y0 + lay.shape[0], x0 : x0 + lay.shape[1]]
        covered -= int(np.count_nonzero(sub))
        sub |= lay[:, :, 3] > 0
        covered += int(np.count_nonzero(sub))
        placed.append((pl, sig, layer))

    # ------------------------------------------------------------------ paint, back to front
    out = img01.copy()
    seg = np.zeros((size, size), np.uint8)
    shadow_seg = np.zeros((size, size), np.uint8)
    alpha_any = np.zeros((size, size), bool)
    records = []
    for pl, sig, layer in placed:
        occ = pl.occ
        lay, (x0, y0) = layer
        h, w = lay.shape[:2]
        sl = (slice(y0, y0 + h), slice(x0, x0 + w))
        a8 = lay[:, :, 3]
        aq = a8.astype(np.float32) * (1.0 / 255.0)  # already 8-bit: 0 means untouched
        key = ("lab", id(occ))
        if key not in cache:
            cache[key] = (occ, occluder_stats(occ.rgba))  # holds occ so its id stays unique
        hit = a8 > 0
        # colour transfer on the covered pixels only (thin blades and twigs fill a fraction of their box)
        px = lay[:, :, :3][hit].astype(np.float32).reshape(1, -1, 3) * (1.0 / 255.0)
        px = colour_match(px, cache[key][1], scene_mean, scene_std, cfg).reshape(-1, 3)
        idx = legend[occ.cls]
        if cfg.shadow:
            off = cfg.shadow_offset * size
            M = np.float32([[1, 0, x0 + off], [0, 1, y0 + off * 1.5]])
            sh = cv2.warpAffine(aq, M, (size, size), flags=cv2.INTER_LINEAR)
            sh = cv2.GaussianBlur(sh, (0, 0), max(cfg.shadow_blur * size, 0.5))
            shq = np.rint(sh * cfg.shadow_opacity * 255.0) * (1.0 / 255.0)
            out *= (1.0 - shq)[..., None]
            shaded = shq > 0
            shadow_seg[shaded] = idx
            alpha_any |= shaded  # every shadow pixel is in the mask, even where rounding hides the darkening
        ys, xs = np.nonzero(hit)
        flat = (ys + y0) * size + (xs + x0)  # linear indices: take/put beat boolean masks on 3 channels
        ah = aq[ys, xs][:, None]
        out_flat = out.reshape(-1, 3)
        out_flat[flat] = out_flat[flat] * (1.0 - ah) + px * ah
        seg.reshape(-1)[flat] = idx
        alpha_any[sl] |= hit
        records.append({"class": occ.cls, "name": occ.name, "anchor": occ.anchor, "scale": round(pl.scale, 4),
                        "angle": round(pl.angle, 2), "face": pl.face})

    occluded = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
    diff = occluded != gt
    changed = diff[:, :, 0] | diff[:, :, 1] | diff[:, :, 2] | alpha_any
    # outside `changed` the occluded image equals the ground truth byte for byte by the very definition
    # of `changed` (no differing byte, no alpha): the invariant needs no copy-back
    seg[~changed] = 0
    fill = changed & (seg == 0)
    if fill.any():  # shadow-only pixels take the caster's class
        seg[fill] = shadow_seg[fill]
        left = changed & (seg == 0)
        if left.any():  # cannot happen (changed pixels have alpha or shadow); be safe
            seg[left] = legend[placed[-1][0].occ.cls]
    mask = changed.astype(np.uint8) * 255
    present = sorted({c for c in (p[0].occ.cls for p in placed) if np.count_nonzero(seg == legend[c])})
    eyes_occ = False
    for b in eyes or ():
        x1, y1 = int(math.floor(b[0])), int(math.floor(b[1]))
        x2, y2 = max(int(math.ceil(b[2])), x1 + 1), max(int(math.ceil(b[3])), y1 + 1)
        box = changed[y1:y2, x1:x2]
        if box.size and box.mean() >= cfg.eye_cover:
            eyes_occ = True
    return CompositeResult(occluded=occluded, mask=mask, segmentation=seg, classes=present, eyes_occluded=eyes_occ,
                           target_severity=sev, target_ratio=target, placements=records)
