"""Loading one source image as HxWx3 uint8 RGB, whatever the file holds.

Conversions (each has a test in tests/test_sources.py):
- EXIF orientation is applied (`ImageOps.exif_transpose`), so a phone photo stored sideways is loaded
  upright and eye boxes (which annotation tools give in the displayed orientation) line up.
- Grayscale (L, 1), CMYK, YCbCr, LAB, HSV and palette (P) images become RGB through PIL's conversions.
- 16-bit images (I;16*, I) are scaled to 8 bits by the file's nominal range (value / 257 for 16-bit
  data, i.e. 65535 -> 255), not clipped; 32-bit float images (F) are taken as [0, 1] when their maximum
  is at most 1, else as 0..255.
- Alpha (RGBA, LA, PA, palette with transparency) is composited over a **white** background. Choice:
  transparent pixels of a cut-out photo are "nothing", and white is what every viewer shows for them;
  a neutral grey would tint bright animals' outlines. The compositing is done in 8-bit with rounding
  (out = rgb * a + 255 * (1 - a)).
- Corrupt, truncated, zero-byte and non-image files raise `SourceImageError(reason)`; the reason is one
  short phrase written to `rejected.csv`. `ImageFile.LOAD_TRUNCATED_IMAGES` stays False and
  `Image.MAX_IMAGE_PIXELS` keeps PIL's decompression-bomb limit; `im.load()` forces the full decode so a
  truncated file fails here, not later.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from dataset_tools.sources.base import SourceImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False

# Extensions the folder-based sources treat as images (compared lower-case).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm"})


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im).astype(np.float64)
        # 16-bit PNG/TIFF data open as I;16 or I (32-bit int holding 0..65535): scale 65535 -> 255
        scale = 257.0 if mode.startswith("I;16") or a.max(initial=0) > 255 else 1.0
        g = np.clip(np.rint(a / scale), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im).astype(np.float64)
        a = a * 255.0 if np.nanmax(a, initial=0) <= 1.0 else a
        g = np.clip(np.rint(np.nan_to_num(a)), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = np.asarray(im.convert("RGBA")).astype(np.uint16)
        alpha = rgba[:, :, 3:4]
        # composite over white in integer arithmetic with rounding: (c*a + 255*(255-a) + 127) // 255
        out = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
        return out.astype(np.uint8)
    if mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """The image file at `path` as a contiguous HxWx3 uint8 RGB array (see the module docstring)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SourceImageError(f"cannot read file ({e.strerror or e})") from None
    if size == 0:
        raise SourceImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()  # full decode now: truncated data raises here
                if getattr(im, "n_frames", 1) > 1:
                    im.seek(0)
                im = ImageOps.exif_transpose(im)
                arr = _to_rgb(im)
    except UnidentifiedImageError:
        raise SourceImageError("not an image file, or a corrupt one (PIL cannot identify it)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise SourceImageError(f"image too large ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg.lower() or isinstance(e, EOFError):
            raise SourceImageError(f"truncated or corrupt image ({msg})") from None
        raise SourceImageError(f"corrupt image ({msg})") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise SourceImageError(f"unsupported image layout {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)
