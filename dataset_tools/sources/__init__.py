"""The builder's image sources: `ipanda50`, `folder` and `synthetic` (see each module)."""

from __future__ import annotations

from dataset_tools.errors import UserError
from dataset_tools.sources.base import Source, SourceImageError, SourceItem

SOURCES = ("ipanda50", "folder", "synthetic")


def make_source(name: str, root, *, num_images: int, size: int, seed: int, identities: int = 10) -> Source:
    """The source called `name` at `root` (None for synthetic). `num_images`, `size`, `seed` and
    `identities` only shape the synthetic source (it makes exactly what the build needs)."""
    if name == "synthetic":
        from dataset_tools.sources.synthetic import SyntheticSource

        return SyntheticSource(num_images=num_images, size=size, seed=seed, identities=identities)
    if name == "folder":
        from dataset_tools.sources.folder import FolderSource

        return FolderSource(root)
    if name == "ipanda50":
        from dataset_tools.sources.ipanda50 import IPanda50Source

        return IPanda50Source(root)
    raise UserError(f"unknown --source {name!r}; choose one of {', '.join(SOURCES)}")


__all__ = ["Source", "SourceImageError", "SourceItem", "make_source", "SOURCES"]
