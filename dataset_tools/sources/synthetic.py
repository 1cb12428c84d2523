"""`synthetic`: a procedural stand-in for iPanda-50, for the demo and the tests. Labelled synthetic
everywhere (`synthetic = True` -> dataset.json "synthetic": true and a "(synthetic)" dataset name).

Each image shows one panda-like figure: a white body with the black shoulder band and black limbs of a
giant panda, a white head with black ears, black eye patches with a small white-and-dark eye inside,
and a black nose, on a natural-looking background (grass, foliage, bare ground or a mix, built from
multi-octave value noise and gradients). Like iPanda-50's individuals, identities differ in the
features the paper names for individual identification (Sect. 1, Fig. 1): eye-patch shape, tilt and
size, ear size, the band's width and the fur tone. Each image draws its own pose (sitting or walking,
facing left or right, head offset), scale, position, lighting, slight defocus and sensor noise.

Eye boxes are returned like iPanda-50's LabelMe labels: one box per eye around the dark eye patch,
ordered right eye then left eye (of the animal), in image pixel coordinates.

Determinism: an image depends only on (generator version, seed, identity index, image index) and the
size; rendering is done at 2x and area-downsampled, with numpy's PCG64 streams seeded by those
integers, so every platform produces the same bytes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import cv2
import numpy as np

from dataset_tools.errors import UserError
from dataset_tools.sources.base import Source, SourceItem

GENERATOR_VERSION = "2"
_NAMES = (
    "aibang", "baobao", "chengcheng", "dandan", "erxi", "fufu", "gonggong", "huanhuan", "jiajia", "kele",
    "lele", "meimei", "niuniu", "pingping", "qingqing", "ruirui", "shuangshuang", "tiantian", "wenwen", "xiaoxiao",
)


def identity_name(i: int) -> str:
    base = _NAMES[i % len(_NAMES)]
    suffix = "" if i < len(_NAMES) else str(i // len(_NAMES) + 1)
    return f"{i:02d}_synthetic-{base}{suffix}"


@dataclass(frozen=True)
class Traits:
    """Identity-specific markings (what an identification model would key on)."""

    patch_w: float  # eye-patch half-width, in head radii
    patch_h: float  # eye-patch half-height, in head radii
    patch_tilt: float  # degrees the patch's outer end droops (the classic slanted "teardrop" look)
    patch_gap: float  # half distance between patch centres, in head radii
    ear_r: float  # ear radius, in head radii
    band: float  # shoulder band width, in body lengths
    fur: tuple[float, float, float]  # white-fur RGB
    dark: tuple[float, float, float]  # black-fur RGB
    head_r: float  # head radius relative to body half-length


def _traits(seed: int, ident: int) -> Traits:
    r = np.random.default_rng([seed, ident, 0x1D])
    warm = r.uniform(0.0, 1.0)
    fur = (232 - 8 * r.random(), 226 - 14 * warm, 212 - 34 * warm)
    d = 22 + 18 * r.random()
    return Traits(
        patch_w=r.uniform(0.25, 0.34), patch_h=r.uniform(0.15, 0.24), patch_tilt=r.uniform(15, 45),
        patch_gap=r.uniform(0.33, 0.42), ear_r=r.uniform(0.20, 0.32), band=r.uniform(0.16, 0.30),
        fur=fur, dark=(d, d * 0.95, d * 1.02), head_r=r.uniform(0.48, 0.60),
    )


def value_noise(rng: np.random.Generator, h: int, w: int, octaves: tuple[int, ...], weights=None) -> np.ndarray:
    """Multi-octave value noise in about [0, 1]: random grids of `cells` per side, bicubically upsampled."""
    weights = weights or [1.0 / (k + 1) for k in range(len(octaves))]
    acc = np.zeros((h, w), np.float32)
    for cells, wgt in zip(octaves, weights):
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        acc += wgt * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    acc /= sum(weights)
    return np.clip(acc, 0, 1)


def _background(rng: np.random.Generator, n: int) -> np.ndarray:
    """Natural-looking backdrop: ground gradient, grass streaks, foliage blotches, in a seeded mix."""
    kind = rng.choice(["grass", "foliage", "ground", "mixed"], p=[0.3, 0.25, 0.2, 0.25])
    y = np.linspace(0, 1, n, dtype=np.float32)[:, None] * np.ones((1, n), np.float32)
    low = value_noise(rng, n, n, (3, 7, 15))
    fine = value_noise(rng, n, n, (31, 63))
    grass_col = np.array([rng.uniform(70, 110), rng.uniform(110, 150), rng.uniform(40, 70)], np.float32)
    dark_leaf = np.array([rng.uniform(25, 50), rng.uniform(55, 85), rng.uniform(25, 45)], np.float32)
    soil = np.array([rng.uniform(105, 140), rng.uniform(85, 110), rng.uniform(60, 80)], np.float32)
    if kind == "grass":
        w_grass = np.clip(0.4 + 0.8 * y, 0, 1)
        w_leaf = 1 - w_grass
        w_soil = 0.3 * low
    elif kind == "foliage":
        w_leaf = 0.6 + 0.4 * np.clip((low - 0.42) / 0.16, 0, 1)  # soft-edged foliage masses
        w_grass = 1 - w_leaf
        w_soil = 0.1 * y
    elif kind == "ground":
        w_soil = np.clip(0.5 + 0.6 * y, 0, 1)
        w_grass = 0.4 * low
        w_leaf = np.clip(1 - w_soil - w_grass, 0, 1)
    else:
        w_leaf = np.clip(1.2 - 1.6 * y, 0, 1) * (0.5 + low)
        w_soil = np.clip(1.6 * y - 0.6, 0, 1)
        w_grass = np.clip(1 - w_leaf - w_soil, 0, 1) + 0.2
    tot = w_grass + w_leaf + w_soil + 1e-6
    img = (w_grass[..., None] * grass_col + w_leaf[..., None] * dark_leaf + w_soil[..., None] * soil) / tot[..., None]
    # vertical grass streaks: anisotropic noise stretched along y
    streak = cv2.resize(rng.random((max(4, n // 24), max(8, n // 2))).astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
    img *= (0.75 + 0.5 * low)[..., None] * (0.85 + 0.3 * fine)[..., None] * (0.9 + 0.2 * streak)[..., None]
    return img


def _ellipse(canvas: np.ndarray, c, axes, angle: float, color) -> None:
    cv2.ellipse(canvas, (int(round(c[0] * 16)), int(round(c[1] * 16))),
                (max(1, int(round(axes[0] * 16))), max(1, int(round(axes[1] * 16)))),
                angle, 0, 360, color, -1, cv2.LINE_8, 4)


@dataclass(frozen=True)
class Pose:
    body_l: float  # body half-length, px at the 2x render scale
    cx: float
    cy: float
    facing: int  # +1 faces right, -1 faces left
    sitting: bool
    tilt: float  # degrees


def _pose(seed: int, ident: int, index: int, n: int) -> Pose:
    r = np.random.default_rng([seed, ident, index, 0x1A])
    return Pose(body_l=n * r.uniform(0.22, 0.32), cx=n * r.uniform(0.40, 0.60), cy=n * r.uniform(0.52, 0.66),
                facing=1 if r.random() < 0.5 else -1, sitting=bool(r.random() < 0.45), tilt=r.uniform(-12, 12))


def _head(t: Traits, p: Pose) -> tuple[tuple[float, float], float]:
    if p.sitting:
        c = (p.cx + p.facing * 0.15 * p.body_l, p.cy - 0.95 * p.body_l)
    else:
        rad = math.radians(p.tilt)
        c = (p.cx + p.facing * 1.05 * p.body_l * math.cos(rad), p.cy - 0.25 * p.body_l + p.facing * p.body_l * math.sin(rad))
    return c, t.head_r * p.body_l


def _patches(t: Traits, p: Pose):
    """(centre, half-axes, angle) of the right then left eye patch (the animal's right eye is on the
    image's left when it faces the camera)."""
    head_c, hr = _head(t, p)
    ex, ey = head_c[0] + p.facing * 0.06 * hr, head_c[1] - 0.06 * hr
    out = []
    for sx in (-1, 1):
        # image y points down: on the image-left patch (sx = -1) a drooping outer end is a negative angle
        out.append(((ex + sx * t.patch_gap * hr, ey + 0.05 * hr), (t.patch_w * hr, t.patch_h * hr), sx * t.patch_tilt))
    return out


def eye_boxes(seed: int, ident: int, index: int, size: int) -> tuple:
    """The eye boxes of an image without rendering it (geometry only)."""
    ss = 2
    t, p = _traits(seed, ident), _pose(seed, ident, index, size * ss)
    boxes = []
    for (cx, cy), (pw, ph), ang in _patches(t, p):
        # bounding box of the rotated ellipse, padded like a hand-drawn label
        a = math.radians(ang)
        bw = math.sqrt((pw * math.cos(a)) ** 2 + (ph * math.sin(a)) ** 2) * 1.15
        bh = math.sqrt((pw * math.sin(a)) ** 2 + (ph * math.cos(a)) ** 2) * 1.15
        b = tuple(round(float(np.clip(v / ss, 0, size)), 2) for v in (cx - bw, cy - bh, cx + bw, cy + bh))
        if b[2] - b[0] > 1 and b[3] - b[1] > 1:
            boxes.append(b)
    return tuple(boxes)


def render(seed: int, ident: int, index: int, size: int) -> np.ndarray:
    """One synthetic panda photo (size x size uint8 RGB); its eye boxes are `eye_boxes(...)`."""
    t = _traits(seed, ident)
    ss = 2
    n = size * ss
    p = _pose(seed, ident, index, n)
    r = np.random.default_rng([seed, ident, index, 0x1B])
    img = _background(r, n)
    body_l, cx, cy, facing, tilt = p.body_l, p.cx, p.cy, p.facing, p.tilt
    white = tuple(float(v) for v in t.fur)
    dark = tuple(float(v) for v in t.dark)

    layer = np.zeros((n, n, 3), np.float32)
    cover = np.zeros((n, n), np.float32)

    def part(c, axes, angle, color):
        _ellipse(layer, c, axes, angle, color)
        _ellipse(cover, c, axes, angle, 1.0)

    if p.sitting:
        # hind feet (in front of the sitting body), body, shoulder band, front arms
        part((cx - 0.55 * body_l, cy + 0.8 * body_l), (0.38 * body_l, 0.26 * body_l), 10, dark)
        part((cx + 0.55 * body_l, cy + 0.8 * body_l), (0.38 * body_l, 0.26 * body_l), -10, dark)
        part((cx, cy + 0.1 * body_l), (0.72 * body_l, 0.95 * body_l), tilt * 0.3, white)
        part((cx, cy - 0.45 * body_l), (0.75 * body_l, t.band * body_l * 1.6), tilt * 0.3, dark)
        part((cx - 0.45 * body_l, cy + 0.05 * body_l), (0.16 * body_l, 0.52 * body_l), 12, dark)
        part((cx + 0.45 * body_l, cy + 0.05 * body_l), (0.16 * body_l, 0.52 * body_l), -12, dark)
    else:
        for dx in (-0.6, 0.55):  # far legs (darker), drawn first
            lx = cx + facing * dx * body_l
            part((lx + 0.08 * body_l, cy + 0.62 * body_l), (0.17 * body_l, 0.42 * body_l), 0, tuple(0.8 * v for v in dark))
        part((cx, cy), (body_l, 0.62 * body_l), tilt, white)
        part((cx + facing * 0.45 * body_l, cy - 0.05 * body_l), (t.band * body_l * 1.4, 0.64 * body_l), tilt, dark)
        for dx in (-0.7, 0.45):  # near legs
            part((cx + facing * dx * body_l, cy + 0.7 * body_l), (0.2 * body_l, 0.45 * body_l), 0, dark)
    head_c, hr = _head(t, p)
    for sx in (-1, 1):  # ears behind the head
        part((head_c[0] + sx * 0.72 * hr, head_c[1] - 0.78 * hr), (t.ear_r * hr, t.ear_r * hr * 0.92), 0, dark)
    part(head_c, (hr, 0.88 * hr), 0, white)
    for (pcx, pcy), (pw, ph), ang in _patches(t, p):
        part((pcx, pcy), (pw, ph), ang, dark)
        # eye: a dark-brown iris nearer the nose with a small catch-light
        sx = -1 if pcx < head_c[0] + facing * 0.06 * hr else 1
        eye_c = (pcx - sx * 0.25 * pw, pcy - 0.1 * ph)
        part(eye_c, (0.34 * ph, 0.34 * ph), 0, (70.0, 55.0, 40.0))
        part((eye_c[0] + 0.1 * ph, eye_c[1] - 0.1 * ph), (0.09 * ph, 0.09 * ph), 0, (230.0, 230.0, 230.0))
    part((head_c[0] + facing * 0.06 * hr, head_c[1] + 0.33 * hr), (0.13 * hr, 0.09 * hr), 0, dark)  # nose

    # fur texture and soft directional light on the animal
    fur = value_noise(r, n, n, (max(8, n // 12), max(16, n // 5)))
    light = r.uniform(-1, 1, size=2)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    shade = 1.0 + 0.18 * ((xx - 0.5) * light[0] + (yy - 0.5) * light[1])
    layer *= ((0.88 + 0.2 * fur) * shade)[..., None]
    cover = cv2.GaussianBlur(cover, (0, 0), 0.6 * ss)[..., None]  # soft fur edge
    img = img * (1 - cover) + layer * cover
    # ambient light of the scene (brightness and white balance), slight defocus, sensor noise
    gain = r.uniform(0.75, 1.1) * np.array([r.uniform(0.95, 1.05), 1.0, r.uniform(0.92, 1.05)], np.float32)
    img = cv2.resize(img * gain, (size, size), interpolation=cv2.INTER_AREA)
    sigma = r.uniform(0.0, 1.0) * size / 256
    if sigma > 0.15:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + r.normal(0, r.uniform(1.0, 3.5), img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


class SyntheticSource(Source):
    name = "synthetic"
    synthetic = True

    def __init__(self, *, num_images: int, size: int, seed: int, identities: int = 10):
        if identities < 1:
            raise UserError("--identities must be at least 1")
        self.num_images, self.size, self.seed, self.identities = num_images, size, seed, identities
        self._items: list[SourceItem] | None = None

    def items(self) -> list[SourceItem]:
        """`num_images` items, identities round-robin, with eye boxes from the geometry alone."""
        if self._items is None:
            items = []
            for k in range(self.num_images):
                ident, index = k % self.identities, k // self.identities
                items.append(SourceItem(key=f"{identity_name(ident)}/{index:05d}.png", identity=identity_name(ident),
                                        eyes=eye_boxes(self.seed, ident, index, self.size)))
            self._items = sorted(items, key=lambda i: i.key)
        return list(self._items)

    def load(self, item: SourceItem) -> np.ndarray:
        ident, index = _parse_key(item.key)
        return render(self.seed, ident, index, self.size)

    def fingerprint(self) -> str:
        text = f"synthetic:v{GENERATOR_VERSION}:seed={self.seed}:n={self.num_images}:size={self.size}:ids={self.identities}"
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "synthetic": True, "generator_version": GENERATOR_VERSION,
                "root": None, "images": self.num_images, "identities": self.identities, "size": self.size,
                "note": "procedural stand-in for iPanda-50 (not real photos)"}


def _parse_key(key: str) -> tuple[int, int]:
    folder, file = key.split("/")
    return int(folder.split("_")[0]), int(file.split(".")[0])
