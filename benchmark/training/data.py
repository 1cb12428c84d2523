"""Training and evaluation data: a torch Dataset over a built dataset folder or the Hub parquet layout.

Two readers give the same records (id, split, metadata, uint8 image / occluded / mask arrays):
- a built dataset (`bench build-dataset` output, read with `dataset_tools.dataset.BuiltDataset`);
- the Hub parquet layout written by `bench publish` (`data/<split>-*.parquet`, image columns as datasets `Image()`
  structs of PNG bytes), read with pyarrow and decoded with PIL — no `datasets` import needed.

Training augmentation (the paper, Sec. 3.1: "horizontal flip plus rotation"). The paper gives no angles; we choose a
horizontal flip with probability 1/2 and a rotation by a uniform angle in [-max_rotation, +max_rotation] degrees
(default 10), with reflect-101 padding so no black corners appear, because a panda photo rotated by 90 degrees is
not a plausible photo. Image and occluded image are rotated bilinearly, the mask with nearest-neighbour so it stays
binary; for resizing to the method's input size, area for images and, for masks, 'any hole pixel in the
footprint' when shrinking (nearest when enlarging). Rotation blurs
occluder colours across the mask border, so after the geometric transforms the occluded input is re-composited
`occluded = image * (1 - mask) + occluded * mask`: the invariant "the occluded input equals the ground truth
outside the mask" holds after augmentation too, i.e. the mask covers every changed pixel. Every random draw comes
from `numpy.random.default_rng([seed, epoch, index])`, so a sample's augmentation does not depend on the data order,
the worker or whether the run was resumed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from dataset_tools.dataset import BuiltDataset
from dataset_tools.errors import UserError

DEFAULT_AUGMENT = {"hflip": True, "max_rotation": 10.0}


@dataclass
class Record:
    id: str
    severity: str
    occluder_classes: tuple[str, ...]
    occlusion_ratio: float
    loader: Any  # zero-arg callable -> (image HxWx3 u8, occluded HxWx3 u8, mask HxW u8 0/255)


class ParquetDataset(BuiltDataset):
    """The Hub parquet layout behind the interface of `dataset_tools.dataset.BuiltDataset` (whose `name`,
    `fingerprint`, `legend`, `split()` and `describe()` it inherits; it reads its own rows and decodes its own `load()`),
    so training and scoring read either alike.

    The PNG bytes of a split are read once with pyarrow (a test split of a few thousand 224 px images is a few
    hundred MB at most) and decoded on demand. The Hub layout has no dataset.json: unless the folder holds one, the
    name is the folder's and the fingerprint is a sha256 over the parquet files."""

    def __init__(self, root: str | Path):
        import json

        from dataset_tools.dataset import Sample

        self.root = Path(root)
        files = sorted((self.root / "data").glob("*.parquet"))
        if (self.root / "dataset.json").is_file():
            self.info = json.loads((self.root / "dataset.json").read_text(encoding="utf-8"))
        else:
            import hashlib

            h = hashlib.sha256()
            for p in files:
                h.update(p.name.encode())
                h.update(hashlib.sha256(p.read_bytes()).digest())
            self.info = {"name": self.root.name, "fingerprint": "parquet-sha256:" + h.hexdigest(), "synthetic": None}
        self.samples: list[Sample] = []
        self._blobs: dict[tuple[str, str], bytes] = {}
        import pyarrow.parquet as pq

        for f in files:
            split = f.name.split("-", 1)[0]
            table = pq.read_table(f)
            missing = [c for c in ("id", "image", "occluded", "mask") if c not in table.column_names]
            if missing:
                raise UserError(f"{f} lacks the columns {', '.join(missing)}")
            for row in table.to_pylist():
                sid = row["id"]
                for kind in ("image", "occluded", "mask", "segmentation"):
                    if row.get(kind) is not None:
                        self._blobs[(sid, kind)] = row[kind]["bytes"]
                classes = row.get("occluder_classes") or ""
                self.samples.append(Sample(
                    id=sid, split=row.get("split") or split, identity=str(row.get("identity", "")),
                    source=str(row.get("source", "")), image=f"{sid}.png", occluded=f"{sid}.png", mask=f"{sid}.png",
                    segmentation=f"{sid}.png", occlusion_ratio=float(row.get("occlusion_ratio") or 0.0),
                    severity=str(row.get("severity", "")),
                    occluder_classes=tuple(c for c in str(classes).split(";") if c),
                    eyes_occluded=bool(row.get("eyes_occluded", False))))
        self.samples.sort(key=lambda s: (s.split, s.id))

    @property
    def synthetic(self):
        return self.info.get("synthetic")  # None: unknown (a Hub folder without dataset.json)

    def load(self, sample, kind: str) -> np.ndarray:
        return _decode(self._blobs[(sample.id, kind)], "RGB" if kind in ("image", "occluded") else "L")


def open_dataset(root: str | Path):
    """A built dataset folder (metadata.csv) or a Hub parquet folder (data/*.parquet)."""
    root = Path(root)
    if (root / "metadata.csv").is_file() or not root.is_dir():
        return BuiltDataset(root)  # also raises the clear errors for missing folders
    if (root / "data").is_dir() and any((root / "data").glob("*.parquet")):
        return ParquetDataset(root)
    raise UserError(f"{str(root)!r} is neither a built dataset (metadata.csv) nor a Hub parquet folder "
                    "(data/*.parquet)")


def records(dataset, split: str) -> list[Record]:
    """The samples of `split` as `Record`s whose loader returns (image, occluded, mask) uint8 arrays."""

    def make(s):
        return lambda: (dataset.load(s, "image"), dataset.load(s, "occluded"), dataset.load(s, "mask"))

    return [Record(s.id, s.severity, s.occluder_classes, s.occlusion_ratio, make(s)) for s in dataset.split(split)]


def _decode(data: bytes, mode: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert(mode)).copy()


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A 0/255 mask at size x size. Shrinking: a pixel is a hole when any part of its footprint is (area
    interpolation > 0), so every low-resolution pixel that saw an occluder is filled and no occluder colour is ever
    given to the method as known context. Enlarging: nearest neighbour. Either way the mask stays binary."""
    if mask.shape[0] > size or mask.shape[1] > size:
        return np.where(cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA) > 0, 255, 0).astype(np.uint8)
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)


def resize_input(occluded: np.ndarray, mask: np.ndarray, size: int | None):
    """What a method sees at inference: the occluded image (area) and the mask (`resize_mask`); no ground truth."""
    if size is None or (occluded.shape[0] == size and occluded.shape[1] == size):
        return occluded, mask
    return cv2.resize(occluded, (size, size), interpolation=cv2.INTER_AREA), resize_mask(mask, size)


def resize_triplet(image: np.ndarray, occluded: np.ndarray, mask: np.ndarray, size: int | None):
    """Resize to size x size: area for the images, `resize_mask` for the mask; then re-composite the occluded input
    (a no-op when shrinking, where the footprint of a non-hole pixel holds no hole pixel)."""
    if size is None or (image.shape[0] == size and image.shape[1] == size):
        return image, occluded, mask
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    occluded = cv2.resize(occluded, (size, size), interpolation=cv2.INTER_AREA)
    mask = resize_mask(mask, size)
    return image, _recomposite(image, occluded, mask), mask


def _recomposite(image: np.ndarray, occluded: np.ndarray, mask: np.ndarray) -> np.ndarray:
    hole = (mask > 127)[..., None]
    return np.where(hole, occluded, image)


def augment_triplet(image, occluded, mask, rng: np.random.Generator, hflip: bool = True, max_rotation: float = 10.0):
    """Horizontal flip (p = 1/2) and rotation by U(-max_rotation, max_rotation) degrees, identical for the three."""
    do_flip = bool(rng.random() < 0.5)  # always drawn, so the angle's draw does not depend on the hflip setting
    angle = float(rng.uniform(-max_rotation, max_rotation)) if max_rotation > 0 else 0.0
    if hflip and do_flip:
        image, occluded, mask = image[:, ::-1], occluded[:, ::-1], mask[:, ::-1]
    if angle != 0.0:
        h, w = mask.shape
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
        rot = lambda a, interp: cv2.warpAffine(np.ascontiguousarray(a), m, (w, h), flags=interp,  # noqa: E731
                                               borderMode=cv2.BORDER_REFLECT_101)
        image, occluded = rot(image, cv2.INTER_LINEAR), rot(occluded, cv2.INTER_LINEAR)
        mask = rot(mask, cv2.INTER_NEAREST)
        occluded = _recomposite(image, occluded, mask)
    return np.ascontiguousarray(image), np.ascontiguousarray(occluded), np.ascontiguousarray(mask)


def to_tensors(image: np.ndarray, occluded: np.ndarray, mask: np.ndarray) -> dict[str, torch.Tensor]:
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0,
        "occluded": torch.from_numpy(np.ascontiguousarray(occluded)).permute(2, 0, 1).float() / 255.0,
        "mask": (torch.from_numpy(np.ascontiguousarray(mask)) > 127).float()[None],
    }


class InpaintingDataset(torch.utils.data.Dataset):
    """Records of one split as tensors ("image", "occluded", "mask" (1 = hole), "index").

    With `augment` set, sample `index` of epoch `epoch` (set with `set_epoch`) is augmented with
    `default_rng([seed, epoch, index])`. `size` resizes to the method's input size.
    """

    def __init__(self, records: list[Record], size: int | None = None, augment: dict | None = None, seed: int = 0):
        self.records, self.size, self.augment, self.seed = records, size, augment, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image, occluded, mask = self.records[index].loader()
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image, occluded, mask = augment_triplet(image, occluded, mask, rng,
                                                    hflip=bool(self.augment.get("hflip", True)),
                                                    max_rotation=float(self.augment.get("max_rotation", 10.0)))
        image, occluded, mask = resize_triplet(image, occluded, mask, self.size)
        out: dict[str, Any] = to_tensors(image, occluded, mask)
        out["index"] = index
        return out


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> list[int]:
    """This rank's sample order for one epoch: a permutation that is a function of (seed, epoch) only, padded by
    wrapping around to a multiple of world_size and sharded rank::world_size (as torch's DistributedSampler), so every
    rank gets the same number of samples and a resumed run sees the same order."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    perm = torch.randperm(n, generator=g).tolist()
    total = -(-n // world_size) * world_size
    while len(perm) < total:
        perm += perm[: total - len(perm)]
    return perm[rank:total:world_size]


def batches(order: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive batches of `order`; the last one may be smaller (no sample is dropped)."""
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
