"""The occluder bank: procedural natural occluders (bamboo, tree, grass, leaves, flowers) plus the
user's own RGBA cut-outs (`--occluders DIR`, class = sub-folder name).

The paper occludes pandas with "trees, bamboo, flowers and grass etc." (Sect. 3.1) without publishing
its cut-outs, so the bank is generated: licence-clean, offline, with an exact alpha by construction.
Each procedural cut-out depends only on (seed, class, index) and `size` (the output image side, which
sets the drawing scale), so the same build options always give the same bank.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dataset_tools.errors import UserError
from dataset_tools.occluders import bamboo, flowers, grass, leaves, tree
from dataset_tools.occluders.base import BUILTIN_CLASSES, Occluder
from dataset_tools.occluders.draw import bleed, crop_to_content

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
    return Occluder(rgba=bleed(rgba), cls=cls, anchor=anchor, name=f"{cls}-{index:04d}")


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
    return Occluder(rgba=bleed(np.ascontiguousarray(rgba)), cls=cls, anchor=USER_ANCHORS.get(cls, "free"), name=rel)


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


def generator_digest() -> str:
    """sha256 of the generator's own source files: the disk cache is keyed by it, so editing a
    generator can never serve stale cut-outs."""
    global _GEN_DIGEST
    if _GEN_DIGEST is None:
        h = hashlib.sha256()
        here = Path(__file__).parent
        for name in sorted(["__init__.py", "draw.py", "base.py"] + [m.__name__.rsplit(".", 1)[1] + ".py" for m in GENERATORS.values()]):
            h.update(name.encode() + b"\0" + (here / name).read_bytes())
        _GEN_DIGEST = h.hexdigest()
    return _GEN_DIGEST


_GEN_DIGEST: str | None = None


def cache_dir() -> Path | None:
    """Where generated cut-outs are cached (`BENCH_CACHE_DIR`, else `$XDG_CACHE_HOME` or ~/.cache, under
    ipanda-occlusion-bench/occluders); None when `BENCH_CACHE_DIR` is "0"/"off"."""
    env = os.environ.get("BENCH_CACHE_DIR")
    if env is not None and env.strip().lower() in ("0", "off", "no", "false", ""):
        return None
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ipanda-occlusion-bench"
    return base / "occluders"


class LazyCutouts(Sequence):
    """The `n` procedural cut-outs of one class, generated on first use and memoised.

    Generating a cut-out costs 5-25 ms at 256 px, a whole bank (5 x 32) a few seconds, which would
    dominate small builds; so each process makes only the cut-outs its samples use, and keeps them in
    a disk cache (written atomically) keyed by the generator's source digest, class, seed,
    index, size and anchor, so later builds and other workers read them back in well under a
    millisecond each. The cache can only ever return what `generate` would: a cut-out is a pure
    function of that key."""

    def __init__(self, cls: str, seed: int, size: int, n: int):
        self.cls, self.seed, self.size, self.n = cls, seed, size, n
        self._memo: dict[int, Occluder] = {}

    def __len__(self) -> int:
        return self.n

    def _cache_path(self, i: int) -> Path | None:
        d = cache_dir()
        if d is None:
            return None
        return d / generator_digest()[:16] / f"{self.size}" / f"{self.cls}-s{self.seed}-{i:04d}.npy"

    def _load(self, i: int) -> Occluder:
        path = self._cache_path(i)
        if path is not None:
            try:
                data = np.load(path, allow_pickle=False)  # uint8 HxWx5: RGBA + anchor code in [0, 0, 4]
                if data.dtype == np.uint8 and data.ndim == 3 and data.shape[2] == 5 and data[0, 0, 4] < len(ANCHORS):
                    return Occluder(rgba=np.ascontiguousarray(data[:, :, :4]), cls=self.cls,
                                    anchor=ANCHORS[int(data[0, 0, 4])], name=f"{self.cls}-{i:04d}")
            except (OSError, ValueError):
                pass  # missing or damaged cache entry: regenerate
        occ = generate(self.cls, self.seed, i, self.size)
        if path is not None:
            _store(path, occ)
        return occ

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        occ = self._memo.get(i)
        if occ is None:
            occ = self._memo[i] = self._load(i)
        return occ


ANCHORS = ("bottom", "side", "top", "free")


def _store(path: Path, occ: Occluder) -> None:
    """Cache one cut-out as a raw .npy (loading it costs ~0.1 ms; a PNG would cost 1-2 ms)."""
    import io

    from dataset_tools import fileio

    data = np.zeros(occ.rgba.shape[:2] + (5,), np.uint8)
    data[:, :, :4] = occ.rgba
    data[0, 0, 4] = ANCHORS.index(occ.anchor)
    buf = io.BytesIO()
    np.save(buf, data, allow_pickle=False)
    try:
        fileio.atomic_write_bytes(path, buf.getvalue(), durable=False)
    except OSError:
        pass  # a read-only or full cache is not an error: the cut-out is simply regenerated next time


@dataclass
class OccluderBank:
    """All occluders of a build, by class. `classes` lists class names: built-ins first (fixed
    order), then user classes sorted. Built-in classes are `LazyCutouts` (generated on first use)."""

    classes: list[str]
    by_class: dict[str, Sequence] = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False, compare=False)  # per-process memo (colour stats)
    user_digest: str | None = None  # sha256 over the user's cut-outs (name + pixels), when any

    def provenance(self) -> dict:
        """What dataset.json records about the bank: the generator's source digest (which, with the
        seed and size, determines every procedural cut-out), counts, and the user cut-outs' digest."""
        return {"generator_sha256": generator_digest(), "per_class": {c: len(v) for c, v in self.by_class.items()},
                "user_cutouts_sha256": self.user_digest}

    @classmethod
    def build(cls, seed: int, size: int, per_class: int = 32, user_dir: str | Path | None = None) -> "OccluderBank":
        by_class: dict[str, Sequence] = {c: LazyCutouts(c, seed, size, per_class) for c in BUILTIN_CLASSES}
        user_digest = None
        if user_dir is not None:
            users = user_cutouts(user_dir, size)
            h = hashlib.sha256()
            for occ in users:
                h.update(occ.name.encode("utf-8") + b"\0" + str(occ.rgba.shape).encode() + occ.rgba.tobytes())
            user_digest = h.hexdigest()
            for occ in users:
                by_class.setdefault(occ.cls, [])
                if isinstance(by_class[occ.cls], LazyCutouts):  # user cut-outs join a built-in class
                    by_class[occ.cls] = _Joined(by_class[occ.cls], [])
                by_class[occ.cls].append(occ)
        names = list(BUILTIN_CLASSES) + sorted(set(by_class) - set(BUILTIN_CLASSES))
        return cls(classes=names, by_class={c: by_class[c] for c in names}, user_digest=user_digest)


class _Joined(Sequence):
    """A built-in class's lazy cut-outs followed by the user's cut-outs of the same class."""

    def __init__(self, lazy: LazyCutouts, extra: list[Occluder]):
        self.lazy, self.extra = lazy, extra

    def append(self, occ: Occluder) -> None:
        self.extra.append(occ)

    def __len__(self) -> int:
        return len(self.lazy) + len(self.extra)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        return self.lazy[i] if i < len(self.lazy) else self.extra[i - len(self.lazy)]
