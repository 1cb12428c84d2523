"""pytorch-fid's InceptionV3 (the FID network), loaded from a local file only, and feature extraction.

The network is `pytorch_fid.inception.InceptionV3(use_fid_inception=True)`: torchvision's Inception3
patched with the TF-graph blocks (FIDInceptionA/C/E_1/E_2) and the 2015-12-05 TF weights ported to
PyTorch, 2048-d features after the final average pool. pytorch-fid's own constructor downloads the
weights with `load_state_dict_from_url`; we never download. Its module-level loader is swapped for the
duration of construction for one that reads a local file (so the architecture is pytorch-fid's own
code, unchanged), from, in order:

1. `--inception-weights PATH` (an explicit path that does not exist is the user's error);
2. the standard torch-hub cache, `torch.hub.get_dir()/checkpoints/pt_inception-2015-12-05-6726825d.pth`
   (`$TORCH_HOME/hub/checkpoints/`, default `~/.cache/torch/hub/checkpoints/`), where pytorch-fid
   itself caches the file.

Without a file, `load_fid_inception` returns None and the caller reports FID/KID as null with the
reason. `random_init_inception` builds the same architecture with random weights for `bench perf eval`
speed measurements only; its features must never be called FID.

Preprocessing is pytorch-fid's (inside InceptionV3.forward): input float in [0, 1], bilinear resize to
299x299 with `align_corners=False` and no antialiasing, then scaling to [-1, 1]; the network runs in
eval mode (pytorch-fid#118), float32, and features are returned as float64.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np
import torch

from dataset_tools.errors import UserError
from dataset_tools.fileio import sha256_file

__all__ = [
    "FID_WEIGHTS_FILENAME", "FeatureExtractor", "default_weights_path", "resolve_weights",
    "load_fid_inception", "random_init_inception", "extract_features",
]

FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIMS = 2048
RESIZE = "bilinear to 299x299, align_corners=False, no antialias, input [0,1] (pytorch-fid InceptionV3.forward)"


@dataclass
class FeatureExtractor:
    """A callable uint8 (N, H, W, 3) -> float64 (N, D) plus what to record about it."""

    fn: Callable[[np.ndarray], np.ndarray]
    name: str
    sha256: str | None
    path: str | None

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.fn(images)


def default_weights_path() -> Path:
    """Where pytorch-fid's `load_state_dict_from_url` caches the file: `$TORCH_HOME/hub/checkpoints/`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_FILENAME


def resolve_weights(path: str | os.PathLike | None) -> tuple[Path | None, str]:
    """(file, "") when weights are available, else (None, reason). An explicit missing path is an error."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"--inception-weights {str(p)!r} does not exist or is not a file")
        return p, ""
    p = default_weights_path()
    if p.is_file():
        return p, ""
    return None, (
        f"pytorch-fid Inception weights not found: no {FID_WEIGHTS_FILENAME} in {p.parent} and no "
        "--inception-weights PATH; FID/KID are not computed with random weights (nothing is downloaded)"
    )


@contextlib.contextmanager
def _patched_loader(state_dict_fn):
    import pytorch_fid.inception as pfi

    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state_dict_fn()):
        yield pfi


def _build(state_dict_fn, strict_load: bool = True) -> torch.nn.Module:
    with _patched_loader(state_dict_fn) as pfi:
        if strict_load:
            model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIMS]], use_fid_inception=True)
        else:
            # random init: skip the load that pytorch-fid's fid_inception_v3() performs
            import torchvision

            with mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict",
                                   lambda self, *a, **k: None):
                model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIMS]], use_fid_inception=True)
    return model.eval()


def load_fid_inception(path: str | os.PathLike | None, device: str | torch.device = "cpu"
                       ) -> tuple[torch.nn.Module | None, str | None, str]:
    """(model, sha256, "") or (None, None, reason). Loads with `weights_only=True` (no arbitrary pickle).

    An explicit `path` that is missing or not loadable raises UserError; an absent or broken file in the
    torch-hub cache gives (None, None, reason), so FID/KID are null instead of aborting a finished run.
    """
    p, reason = resolve_weights(path)
    if p is None:
        return None, None, reason
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
        model = _build(lambda: sd)
    except Exception as e:
        msg = f"could not load pytorch-fid Inception weights from {str(p)!r}: {e}".splitlines()[0]
        if path is not None:  # the file the user named is wrong: their error
            raise UserError(msg) from e
        # a broken file in the cache must not throw away a finished training run: FID/KID become null
        return None, None, msg + "; FID/KID are not computed"
    return model.to(device), sha256_file(p), ""


def random_init_inception(seed: int = 0, device: str | torch.device = "cpu") -> torch.nn.Module:
    """pytorch-fid's architecture with random weights: for speed measurements only, never for FID."""
    torch.manual_seed(seed)
    return _build(lambda: {}, strict_load=False).to(device)


@torch.no_grad()
def extract_features(model: torch.nn.Module, images: np.ndarray, batch_size: int = 50,
                     device: str | torch.device = "cpu") -> np.ndarray:
    """2048-d pool features of uint8 (N, H, W, 3) images, as pytorch-fid's `get_activations` does."""
    model.eval()
    out = np.empty((len(images), FEATURE_DIMS), dtype=np.float64)
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size])).to(device)
        x = x.permute(0, 3, 1, 2).float() / 255.0
        pred = model(x)[0]
        if pred.shape[2] != 1 or pred.shape[3] != 1:  # not reached for the 2048-d block
            pred = torch.nn.functional.adaptive_avg_pool2d(pred, (1, 1))
        out[i:i + len(x)] = pred.squeeze(3).squeeze(2).double().cpu().numpy()
    return out


def inception_extractor(model: torch.nn.Module, sha256: str | None, path: str | None,
                        batch_size: int = 50, device: str | torch.device = "cpu") -> FeatureExtractor:
    return FeatureExtractor(lambda imgs: extract_features(model, imgs, batch_size, device),
                            name="pytorch-fid InceptionV3 pool3 (2048)", sha256=sha256, path=path)
