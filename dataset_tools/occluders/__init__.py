"""The occluder bank: procedural natural occluders (bamboo, tree, grass, leaves, flowers) plus the
user's own RGBA cut-outs (`--occluders DIR`, class = sub-folder name).

The paper occludes pandas with "trees, bamboo, flowers and grass etc." (Sect. 3.1) without publishing
its cut-outs, so the bank is generated: licence-clean, offline, with an exact alpha by construction.
Each procedural cut-out depends only on (seed, class, index) and `size` (the output image side, which
sets the drawing scale), so the same build options always give the same bank.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dataset_tools.errors import UserError
from dataset_tools.occluders import bamboo, flowers, grass, leaves, tree
from dataset_tools.occluders.base import BUILTIN_CLASSES, Occluder
from dataset_tools.occluders.draw import crop_to_content

GENERATORS = {"bamboo": bamboo, "tree": tree, "grass": grass, "leaves": leaves, "flowers": flowers}
# Anchor of user cut-outs: a built-in class keeps its placement, any other class is placed freely.
USER_ANCHORS = {"bamboo": "bottom", "tree": "side", "grass": "bottom", "leaves": "free", "flowers": "free"}


def generate(cls: str, seed: int, index: int, size: int) -> Occluder:
    """One procedural cut-out of class `cls`."""
    mod = GENERATORS[cls]
    rng = np.random.default_rng([seed, BUILTIN_CLASSES.index(cls), index, 0x0CC])
    made = mod.make(rng, size)
    rgba, anchor = made if isinstance(made, tuple) else (made, mod.ANCHOR)
    if anchor == "free":  # free cut-outs carry no anchored edge: trim empty margins
        rgba = crop_to_content(rgba)
    return Occluder(rgba=rgba, cls=cls, anchor=anchor, name=f"{cls}-{index:04d}")


def load_user_cutout(path: Path, cls: str, rel: str, size: int) -> Occluder:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P" and "transparency" in im.info:
                im = im.convert("RGBA")
            if im.mode not in ("RGBA", "LA", "PA"):
                raise UserError(f"occluder {rel} has no alpha channel (mode {im.mode}); cut-outs must be RGBA PNGs")
            rgba = np.asarray(im.convert("RGBA")).copy()
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"occluder {rel} is not a readable PNG ({e})") from None
    if not (rgba[:, :, 3] > 0).any():
        raise UserError(f"occluder {rel} is fully transparent")
    rgba = crop_to_content(rgba)
    # normalise to the procedural scale: the longer side becomes `size` (the compositor rescales)
    h, w = rgba.shape[:2]
    s = size / max(h, w)
    if abs(s - 1) > 1e-6:
        pre = rgba[:, :, :3].astype(np.float32) * (rgba[:, :, 3:4] / 255.0)
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        pre = cv2.resize(pre, (nw, nh), interpolation=interp)
        a = cv2.resize(rgba[:, :, 3].astype(np.float32), (nw, nh), interpolation=interp)
        rgb = pre / np.maximum(a / 255.0, 1e-6)[..., None]
        rgba = np.clip(np.rint(np.dstack([rgb, a])), 0, 255).astype(np.uint8)
    return Occluder(rgba=np.ascontiguousarray(rgba), cls=cls, anchor=USER_ANCHORS.get(cls, "free"), name=rel)


def user_cutouts(user_dir: str | Path, size: int) -> list[Occluder]:
    root = Path(user_dir)
    if not root.is_dir():
        raise UserError(f"--occluders folder {str(root)!r} does not exist")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        cls = sub.name.strip().lower()
        if not cls or cls == "visible" or any(c in cls for c in ";,\n"):
            raise UserError(f"occluder class folder {sub.name!r} is not a usable class name")
        for f in sorted(sub.rglob("*")):
            if f.is_file() and not f.name.startswith("."):
                if f.suffix.lower() != ".png":
                    raise UserError(f"occluder {f.relative_to(root).as_posix()} is not a PNG; cut-outs must be RGBA PNGs")
                out.append(load_user_cutout(f, cls, f.relative_to(root).as_posix(), size))
    if not out:
        raise UserError(f"--occluders folder {str(root)!r} holds no PNG cut-outs in class sub-folders")
    return out


@dataclass
class OccluderBank:
    """All occluders of a build, by class. `classes` lists class names: built-ins first (fixed
    order), then user classes sorted."""

    classes: list[str]
    by_class: dict[str, list[Occluder]] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def build(cls, seed: int, size: int, per_class: int = 32, user_dir: str | Path | None = None) -> "OccluderBank":
        by_class: dict[str, list[Occluder]] = {c: [generate(c, seed, i, size) for i in range(per_class)]
                                              for c in BUILTIN_CLASSES}
        if user_dir is not None:
            for occ in user_cutouts(user_dir, size):
                by_class.setdefault(occ.cls, []).append(occ)
        names = list(BUILTIN_CLASSES) + sorted(set(by_class) - set(BUILTIN_CLASSES))
        h = hashlib.sha256()
        for c in names:
            for o in by_class[c]:
                h.update(o.name.encode() + o.anchor.encode() + str(o.rgba.shape).encode() + o.rgba.tobytes())
        return cls(classes=names, by_class={c: by_class[c] for c in names}, digest=h.hexdigest())
