"""`ipanda50`: an extracted iPanda-50 (Wang et al., "Giant Panda Identification", IEEE TIP 30, 2021).

Layout of the three-ZIP release (see ../shared/notes/ipanda50-and-occlusion.md):

    ROOT/iPanda50-images/NN_name/*.jpg         50 identity folders, 00_aibang ... 49_yuanrun
    ROOT/iPanda50-eyes-labels/NN_name/<stem>.json   LabelMe-style eye boxes (also `iPanda-50-eyes-labels`)
    ROOT/iPanda50-split/split{0..4}_{train,test}.txt

- Identity = the image's folder name (e.g. "00_aibang"); the two-digit prefix is the official label.
- Eye boxes come from the label JSON with the same stem when present: its `shapes` list holds
  `right_eye`/`left_eye` entries whose `points` are two corners [[x1, y1], [x2, y2]] (any order; more
  points are reduced to their bounding box). Boxes are returned right eye first. Unreadable label
  files are counted in `describe()` and the image is used without eye boxes.
- Non-ASCII file names (the README warns some contain UTF-8 characters) are kept as they are: keys are
  UTF-8 text, files are opened by their real paths (nothing is renamed on disk, unlike
  wildlife-datasets, which strips them).
- An archive extracted into a folder of its own name (`iPanda50-images/iPanda50-images/...`) is found.
- The official split files are recorded in `describe()` but not used: the paper splits its 1000
  occluded images 2:1, which matches none of the five official 3:2 splits, so the builder makes its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dataset_tools.errors import UserError
from dataset_tools.sources.base import SourceItem
from dataset_tools.sources.folder import FolderSource, _walk_files, fingerprint_files, safe_key
from dataset_tools.sources.imageio import is_image_name

IMAGES = "iPanda50-images"
LABELS = ("iPanda50-eyes-labels", "iPanda-50-eyes-labels")
SPLIT = "iPanda50-split"
EYE_ORDER = ("right_eye", "left_eye")


def _descend(folder: Path, name: str) -> Path:
    """`X/` or, when an archive was extracted into a folder of its own name, `X/X/`."""
    inner = folder / name
    if inner.is_dir() and not any(p.is_file() for p in folder.iterdir()):
        return inner
    return folder


def read_eye_label(path: Path) -> tuple[tuple[float, float, float, float], ...]:
    """Eye boxes (x1, y1, x2, y2) from one LabelMe-style JSON, right eye first. Raises ValueError."""
    data = json.loads(path.read_bytes().decode("utf-8-sig"))
    shapes = data.get("shapes") if isinstance(data, dict) else None
    if not isinstance(shapes, list):
        raise ValueError("no 'shapes' list")
    boxes: list[tuple[int, tuple[float, float, float, float]]] = []
    for sh in shapes:
        pts = np.asarray(sh.get("points", []), dtype=np.float64).reshape(-1, 2)
        if len(pts) < 2 or not np.isfinite(pts).all():
            continue
        x1, y1 = pts.min(0)
        x2, y2 = pts.max(0)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        label = str(sh.get("label", "")).strip().lower()
        rank = EYE_ORDER.index(label) if label in EYE_ORDER else len(EYE_ORDER)
        boxes.append((rank, (float(x1), float(y1), float(x2), float(y2))))
    boxes.sort(key=lambda b: b[0])  # stable: unlabelled shapes keep file order after the eyes
    return tuple(b for _, b in boxes)


class IPanda50Source(FolderSource):
    """iPanda-50's layout; file loading and the key -> path map are `FolderSource`'s."""

    name = "ipanda50"
    synthetic = False

    def __init__(self, root):
        if root is None:
            raise UserError("--root is required for --source ipanda50")
        self.root = Path(root)
        self._items: list[SourceItem] | None = None
        self._paths: dict[str, Path] = {}
        self.bad_labels = 0
        self.labels_dir: Path | None = None

    def _images_dir(self) -> Path:
        if not self.root.is_dir():
            raise UserError(f"--root {str(self.root)!r} does not exist; download iPanda-50 there with --download "
                            "or extract its three archives into it")
        images = self.root / IMAGES
        if not images.is_dir():
            raise UserError(f"{str(self.root)!r} has no {IMAGES}/ folder; extract iPanda50-images.zip there "
                            "(or use --download)")
        return _descend(images, IMAGES)

    def items(self) -> list[SourceItem]:
        if self._items is not None:
            return list(self._items)
        images = self._images_dir()
        labels = None
        for name in LABELS:
            if (self.root / name).is_dir():
                labels = _descend(self.root / name, name)
                break
        self.labels_dir = labels
        label_index: dict[tuple[str, str], Path] = {}
        if labels is not None:
            for f in _walk_files(labels):
                if f.suffix.lower() == ".json":
                    label_index[(f.parent.name, f.stem)] = f
        items = []
        for sub in sorted(p for p in images.iterdir() if p.is_dir() and not p.name.startswith(".")):
            ident = safe_key(sub, images)
            for f in _walk_files(sub):
                key = IMAGES + "/" + safe_key(f, images)
                if key in self._paths:
                    continue
                self._paths[key] = f
                eyes: tuple = ()
                lab = label_index.get((sub.name, f.stem))
                if lab is not None and is_image_name(f.name):
                    try:
                        eyes = read_eye_label(lab)
                    except (ValueError, OSError, UnicodeDecodeError, TypeError, AttributeError):
                        self.bad_labels += 1
                items.append(SourceItem(key=key, identity=ident, eyes=eyes))
        if not any(is_image_name(i.key) for i in items):
            raise UserError(f"{str(images)!r} contains no images (expected {IMAGES}/NN_name/*.jpg)")
        self._items = sorted(items, key=lambda i: i.key)
        return list(self._items)

    def _label_and_split_files(self) -> dict[str, Path]:
        out = {}
        for folder in [self.labels_dir, self.root / SPLIT]:
            if folder is not None and folder.is_dir():
                for f in _walk_files(folder):
                    out[safe_key(f, self.root)] = f
        return out

    def fingerprint(self) -> str:
        self.items()
        return fingerprint_files({**self._paths, **self._label_and_split_files()})

    def describe(self) -> dict:
        items = self.items()
        split_files = sorted(k for k in self._label_and_split_files() if k.startswith(SPLIT))
        return {
            "name": self.name, "synthetic": False, "root": str(self.root.resolve()),
            "citation": "Wang et al., Giant Panda Identification, IEEE TIP 30:2837-2849, 2021",
            "files": len(items), "identities": len({i.identity for i in items}),
            "with_eye_labels": sum(bool(i.eyes) for i in items), "unreadable_eye_labels": self.bad_labels,
            "labels_folder": self.labels_dir.name if self.labels_dir else None,
            "official_split_files": split_files,
        }
