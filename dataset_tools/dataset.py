"""Reading a built iPanda-50-occlusion folder (the output of `bench build-dataset`).

This is the one reader every later stage uses (engine, scoring, stats, publishing), so the on-disk
format has exactly one interpretation. A built dataset is plain files: anyone can read it with pandas
and PIL without this package.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dataset_tools.errors import UserError

METADATA_COLUMNS: tuple[str, ...] = (
    "id", "split", "identity", "source", "image", "occluded", "mask", "segmentation",
    "occlusion_ratio", "severity", "occluder_classes", "eyes_occluded",
)
FILE_COLUMNS: tuple[str, ...] = ("image", "occluded", "mask", "segmentation")
SPLITS: tuple[str, ...] = ("train", "test")


@dataclass(frozen=True)
class Sample:
    id: str
    split: str
    identity: str
    source: str
    image: str  # paths relative to the dataset root
    occluded: str
    mask: str
    segmentation: str
    occlusion_ratio: float
    severity: str
    occluder_classes: tuple[str, ...]
    eyes_occluded: bool

    @classmethod
    def from_row(cls, row: dict[str, str]) -> "Sample":
        return cls(
            id=row["id"], split=row["split"], identity=row["identity"], source=row["source"],
            image=row["image"], occluded=row["occluded"], mask=row["mask"], segmentation=row["segmentation"],
            occlusion_ratio=float(row["occlusion_ratio"]), severity=row["severity"],
            occluder_classes=tuple(c for c in row["occluder_classes"].split(";") if c),
            eyes_occluded=row["eyes_occluded"].strip().lower() == "true",
        )


class BuiltDataset:
    """A built dataset folder: `metadata.csv`, `dataset.json` and the image files they name."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta, info = self.root / "metadata.csv", self.root / "dataset.json"
        if not self.root.is_dir():
            raise UserError(f"dataset folder {str(self.root)!r} does not exist")
        if not meta.is_file() or not info.is_file():
            raise UserError(
                f"{str(self.root)!r} is not a built dataset (no metadata.csv/dataset.json); "
                "build one with 'bench build-dataset'"
            )
        self.info: dict = json.loads(info.read_text(encoding="utf-8"))
        with open(meta, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in METADATA_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{meta} lacks the columns {', '.join(missing)}")
            self.samples: list[Sample] = [Sample.from_row(r) for r in reader]

    @property
    def name(self) -> str:
        return self.info.get("name", self.root.name)

    @property
    def fingerprint(self) -> str:
        return self.info["fingerprint"]

    @property
    def synthetic(self) -> bool:
        return bool(self.info.get("synthetic", False))

    @property
    def legend(self) -> dict[str, int]:
        return dict(self.info.get("legend", {}))

    def split(self, name: str) -> list[Sample]:
        if name not in SPLITS:
            raise UserError(f"unknown split {name!r}; splits are {', '.join(SPLITS)}")
        return [s for s in self.samples if s.split == name]

    def path(self, sample: Sample, kind: str) -> Path:
        return self.root / getattr(sample, kind)

    def load(self, sample: Sample, kind: str) -> np.ndarray:
        """uint8 array: HxWx3 for "image"/"occluded", HxW for "mask" (0/255) and "segmentation"."""
        if kind not in FILE_COLUMNS:
            raise ValueError(f"kind must be one of {FILE_COLUMNS}")
        with Image.open(self.path(sample, kind)) as im:
            im = im.convert("RGB" if kind in ("image", "occluded") else "L")
            return np.asarray(im).copy()

    def describe(self) -> dict:
        """The `dataset` block of results.json."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "synthetic": self.synthetic,
            "path": str(self.root.resolve()),
        }
