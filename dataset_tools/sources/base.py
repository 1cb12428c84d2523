"""What a source of images is, for the dataset builder.

A source lists `SourceItem`s (one per image, with its identity and optional eye boxes) and loads one
item as an RGB uint8 array. Sources never resize: the builder crops and resizes every image the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# An eye box (x1, y1, x2, y2) in the loaded image's pixel coordinates (after EXIF rotation).
Box = tuple[float, float, float, float]


class SourceImageError(Exception):
    """This one image cannot be used (corrupt, truncated, not an image, ...). The message is the reason
    written to `rejected.csv`; the build goes on."""


@dataclass(frozen=True)
class SourceItem:
    key: str  # stable, unique, POSIX-style relative path inside the source (what `metadata.csv` calls `source`)
    identity: str  # individual animal (iPanda-50: the folder name, e.g. "00_aibang")
    eyes: tuple[Box, ...] = field(default=())  # eye boxes when the source has them


class Source:
    """Base class of the builder's sources (`ipanda50`, `folder`, `synthetic`)."""

    name: str = ""
    synthetic: bool = False  # True: the images are procedural stand-ins, labelled so everywhere

    def items(self) -> list[SourceItem]:
        """All items, sorted by key. Raises `UserError` for a missing root or an empty source."""
        raise NotImplementedError

    def load(self, item: SourceItem) -> np.ndarray:
        """The item as an HxWx3 uint8 RGB array (EXIF orientation applied, any mode converted).
        Raises `SourceImageError(reason)` when the file cannot be used."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """sha256 hex over what identifies the source's content (keys, sizes, and content hashes or the
        generator version and parameters), so a built dataset names exactly what it came from."""
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-able description recorded in dataset.json (name, root, synthetic flag, counts...)."""
        raise NotImplementedError
