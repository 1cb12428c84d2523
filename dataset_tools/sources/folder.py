"""`folder`: any folder of images with one sub-folder per identity, so the same builder makes occlusion
benchmarks for other species (`ROOT/<identity>/**/<image>`).

- Identity = the first-level sub-folder's name, kept as is (non-ASCII names work: keys are str paths,
  files are opened by their real path; NFC/NFD spellings are not merged).
- Images are recognised by extension, case-insensitively (.jpg .JPG .jpeg .png .bmp .tif .tiff .webp
  ...). Every other file below an identity folder becomes an item too, and `load` rejects it with the
  reason "not an image file (...)", so it is listed in rejected.csv instead of silently ignored. Hidden
  files (".name") and files directly in ROOT are skipped without a record.
- Eye boxes: none (a folder has no labels).
- Fingerprint: sha256 over (key, size, sha256 of the content) of every file, sorted by key. Contents
  are hashed once per build and streamed, so even a large source costs one sequential read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from dataset_tools.errors import UserError
from dataset_tools.sources.base import Source, SourceImageError, SourceItem
from dataset_tools.sources.imageio import is_image_name, load_rgb


def safe_key(path: Path, root: Path) -> str:
    """POSIX relative path as clean UTF-8 text. File names that are not valid UTF-8 (undecodable bytes
    arrive as surrogates) get U+FFFD in the key; the source keeps the real path for loading."""
    key = path.relative_to(root).as_posix()
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _walk_files(folder: Path):
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith("."):
                yield Path(dirpath) / f


def fingerprint_files(paths: dict[str, Path]) -> str:
    h = hashlib.sha256()
    for key in sorted(paths):
        p = paths[key]
        try:
            size = p.stat().st_size
            content = hashlib.sha256()
            with open(p, "rb") as f:
                while block := f.read(1 << 20):
                    content.update(block)
            digest = content.hexdigest()
        except OSError:
            size, digest = -1, "unreadable"
        h.update(f"{key}\t{size}\t{digest}\n".encode("utf-8"))
    return h.hexdigest()


class FolderSource(Source):
    name = "folder"
    synthetic = False

    def __init__(self, root):
        if root is None:
            raise UserError("--root is required for --source folder")
        self.root = Path(root)
        self._items: list[SourceItem] | None = None
        self._paths: dict[str, Path] = {}

    def _check_root(self) -> None:
        if not self.root.exists():
            raise UserError(f"--root {str(self.root)!r} does not exist")
        if not self.root.is_dir():
            raise UserError(f"--root {str(self.root)!r} is not a folder")

    def items(self) -> list[SourceItem]:
        if self._items is None:
            self._check_root()
            items = []
            for sub in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
                ident = safe_key(sub, self.root)
                for f in _walk_files(sub):
                    key = safe_key(f, self.root)
                    if key in self._paths:  # two undecodable names mapped to one key: keep the first
                        continue
                    self._paths[key] = f
                    items.append(SourceItem(key=key, identity=ident))
            if not any(is_image_name(i.key) for i in items):
                loose = [p for p in self.root.iterdir() if p.is_file() and is_image_name(p.name)]
                hint = " (images must be in one sub-folder per identity)" if loose else ""
                raise UserError(f"the folder source {str(self.root)!r} contains no images{hint}")
            self._items = sorted(items, key=lambda i: i.key)
        return list(self._items)

    def load(self, item: SourceItem) -> np.ndarray:
        if not is_image_name(item.key):
            raise SourceImageError(f"not an image file (extension {Path(item.key).suffix or 'none'!r})")
        return load_rgb(self._paths.get(item.key, self.root / item.key))

    def fingerprint(self) -> str:
        self.items()
        return fingerprint_files(self._paths)

    def describe(self) -> dict:
        items = self.items()
        return {"name": self.name, "synthetic": False, "root": str(self.root.resolve()), "files": len(items),
                "identities": len({i.identity for i in items})}
