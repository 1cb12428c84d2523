"""What an occluder is, for the compositor.

Occluder classes and their segmentation-map indices are fixed here: the legend in `dataset.json` comes
from this table, so index 0 is always "visible" (no occluder) and built-in classes keep their numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BUILTIN_CLASSES: tuple[str, ...] = ("bamboo", "tree", "grass", "leaves", "flowers")
BACKGROUND_INDEX = 0  # segmentation value of pixels no occluder touched


def class_legend(extra_classes: tuple[str, ...] = ()) -> dict[str, int]:
    """Segmentation legend: "visible" -> 0, built-in classes 1..5, then user classes (sorted) from 6."""
    legend = {"visible": BACKGROUND_INDEX}
    for i, c in enumerate(BUILTIN_CLASSES, start=1):
        legend[c] = i
    for c in sorted(set(extra_classes) - set(BUILTIN_CLASSES)):
        legend[c] = len(legend)
    return legend


@dataclass(frozen=True)
class Occluder:
    """An RGBA cut-out: `rgba` is HxWx4 uint8 with a soft, anti-aliased alpha (0 = transparent).

    `anchor` tells the compositor how the object meets the frame: "bottom" (grass rises from the bottom
    edge, bamboo culms and tree trunks stand on the ground), "top"/"side" (branches reaching in), or
    "free" (leaf and flower clusters placed anywhere). The anchored edge of the cut-out is its bottom
    row for "bottom" and its left column for "side"/"top" (the compositor rotates it into place).
    """

    rgba: np.ndarray
    cls: str
    anchor: str  # "bottom" | "side" | "top" | "free"
    name: str  # e.g. "bamboo-0007" or the user file's relative path
