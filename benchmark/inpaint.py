"""`bench inpaint`: inpaint one photo with a trained run.

    bench inpaint --checkpoint RUN_DIR --image PHOTO --mask MASK --out OUT.png [--device cpu|cuda|auto]

The run's method is rebuilt with `benchmark.engine.load_run` (weights of its latest checkpoint). The photo may have
any size: the method gets it at the run's `image_size` (the image, hole zeroed, area-resized; the mask so that every
low-resolution pixel touching a hole pixel is a hole) and its prediction is resized back to the photo's size; the output is
then composited at the original resolution, `out = pred where mask else photo`, in 8 bits, so every pixel outside the
mask is the photo's own value byte for byte. Resizing (not tiling) is the choice: the model is trained on whole
panda photos at one scale, and tiles would cut the context that contextual attention copies from.

Input checks (each a one-line error, exit 2, unless marked warning):
- image and mask must have the same width and height (error; no silent resizing of a mask drawn for another image);
- the mask is read as 8-bit grey (RGB/RGBA masks are converted to luminance); hole = value >= 128 (255 = hole, the
  dataset's convention). Values other than 0 and 255 (an anti-aliased or JPEG mask) give a **warning** and are
  binarised at 128;
- an empty mask (no hole pixel) is an error: there is nothing to inpaint;
- a mask that is all hole gives a warning (no visible context; the output is the model's guess);
- the output must be a .png file (lossless, so the unchanged pixels stay unchanged).
The photo is read as RGB (an alpha channel is dropped; EXIF orientation is not applied, so a mask drawn on the file's
stored pixel grid matches).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from dataset_tools.errors import UserError


def _read_image(path: Path) -> np.ndarray:
    """The photo as the builder reads its sources (`load_rgb`: EXIF rotation applied, CMYK/16-bit/palette/alpha
    converted), so a phone photo is inpainted the way it is displayed, where its mask was drawn."""
    from dataset_tools.sources.base import SourceImageError
    from dataset_tools.sources.imageio import load_rgb

    if not Path(path).is_file():
        raise UserError(f"image file {str(path)!r} does not exist")
    try:
        return load_rgb(path)
    except SourceImageError as e:
        raise UserError(f"cannot read image {str(path)!r}: {e}") from None


def _read_mask(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except FileNotFoundError:
        raise UserError(f"mask file {str(path)!r} does not exist") from None
    except Exception as e:  # noqa: BLE001
        raise UserError(f"cannot read mask {str(path)!r}: {e}") from None


def prepare_mask(mask: np.ndarray, image_shape: tuple[int, int], warn=lambda msg: None) -> np.ndarray:
    """Check a uint8 HxW mask against the image and return it as bool (True = hole)."""
    if mask.shape != tuple(image_shape):
        raise UserError(
            f"mask size {mask.shape[1]}x{mask.shape[0]} differs from image size {image_shape[1]}x{image_shape[0]}"
        )
    if not np.isin(mask, (0, 255)).all():
        warn("mask is not binary (values other than 0 and 255); pixels >= 128 are treated as hole")
    hole = mask >= 128
    if not hole.any():
        raise UserError("mask has no hole pixel (no value >= 128): nothing to inpaint")
    if hole.all():
        warn("mask covers the whole image: there is no visible context, the output is the model's guess")
    return hole


def inpaint_array(method, image: np.ndarray, hole: np.ndarray, device, image_size: int | None = None) -> np.ndarray:
    """uint8 HxWx3 photo + bool HxW hole -> uint8 HxWx3, composited so pixels outside the hole are unchanged.

    With `image_size`, the method sees a square image_size input (photo with its hole zeroed, area-resized; mask:
    area > 0, so every low-resolution pixel touching a hole pixel is a hole) and its prediction is resized back
    (antialiased bilinear)."""
    import torch
    import torch.nn.functional as F

    img_t = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float().div(255.0).to(device)
    hole_t = torch.from_numpy(hole)[None, None].float().to(device)
    h, w = hole.shape
    x, m = img_t * (1 - hole_t), hole_t  # hole pixels zeroed first: no resize filter can spread them
    if image_size and (h, w) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="area")
        m = (F.interpolate(m, size=(image_size, image_size), mode="area") > 0).float()
    with torch.no_grad():
        pred = method.inpaint(x * (1 - m), m).float()
    if pred.shape[-2:] != x.shape[-2:]:
        raise RuntimeError(f"method returned {tuple(pred.shape)} for an input of {tuple(x.shape)}")
    if pred.shape[-2:] != (h, w):
        pred = F.interpolate(pred, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    pred8 = (pred[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return np.where(hole[..., None], pred8, image)


@click.command()
@click.option("--checkpoint", "run_dir", required=True, type=click.Path(path_type=Path),
              help="Run folder of a trained run (runs/NNNNN-...).")
@click.option("--image", "image_path", required=True, type=click.Path(path_type=Path), help="Photo to inpaint (any size).")
@click.option("--mask", "mask_path", required=True, type=click.Path(path_type=Path),
              help="Mask PNG of the same size, 255 = hole (values >= 128 count as hole).")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path), help="Output .png file.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
def inpaint(run_dir: Path, image_path: Path, mask_path: Path, out_path: Path, device: str) -> None:
    """Inpaint one photo with a trained run, keeping every pixel outside the mask unchanged."""
    import torch

    from benchmark.engine import load_run
    from dataset_tools.fileio import write_png

    if out_path.suffix.lower() != ".png":
        raise UserError(f"--out must be a .png file (lossless), got {str(out_path)!r}")
    image = _read_image(image_path)
    hole = prepare_mask(_read_mask(mask_path), image.shape[:2], warn=lambda m: click.echo(f"Warning: {m}", err=True))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"--device: unknown device {device!r}") from None
    method, config = load_run(run_dir, dev)
    image_size = (config.get("method_config") or {}).get("image_size")
    out = inpaint_array(method, image, hole, dev, int(image_size) if image_size else None)
    write_png(out_path, out)
    click.echo(
        f"inpainted {int(hole.sum())} pixels ({hole.mean():.1%}) of {image.shape[1]}x{image.shape[0]} with "
        f"{config.get('method')} ({config.get('variant')}, preset {config.get('preset')}) -> {out_path}",
        err=True,
    )
