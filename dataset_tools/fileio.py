"""Atomic, deterministic file writing shared by every stage (builder, engine, leaderboard, publisher).

Every file the project writes goes through here: data is written to a temporary name in the same
folder, flushed and fsync'ed, then renamed over the final name, so a kill at any moment (SIGKILL
included) never leaves a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

_TMP_PREFIX = ".tmp-"


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` atomically. `durable=False` skips fsync: the rename still guarantees a
    killed process never leaves a partial file (the page cache outlives the process); fsync only adds
    protection against power loss, which bulk per-sample images can afford to lose (a resumed build
    re-checks their hashes) and manifests cannot."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def json_dumps(obj: Any) -> str:
    """Stable JSON: sorted keys, two-space indent, trailing newline (same input, same bytes)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any, durable: bool = True) -> None:
    atomic_write_text(path, json_dumps(obj), durable=durable)


def encode_png(array: np.ndarray) -> bytes:
    """Encode a uint8 HxW (L) or HxWx3 (RGB) array as PNG. Deterministic: no timestamps, fixed level."""
    if array.dtype != np.uint8:
        raise TypeError(f"encode_png expects uint8, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"encode_png expects HxW, HxWx3 or HxWx4, got {array.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_png(path: str | os.PathLike, array: np.ndarray, durable: bool = True) -> bytes:
    """Atomically write `array` as PNG and return the bytes written (for hashing)."""
    data = encode_png(array)
    atomic_write_bytes(path, data, durable=durable)
    return data


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete temporaries left by a killed writer below `folder`; returns how many were removed."""
    n = 0
    for p in Path(folder).rglob(_TMP_PREFIX + "*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n
