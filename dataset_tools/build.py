"""The dataset build pipeline behind `bench build-dataset`.

source images -> sample (stratified by identity) -> crop/resize -> composite occluders -> write files
-> split 2:1 -> metadata.csv, dataset.json, rejected.csv.

Guarantees (each has a test):
- Determinism: every random draw of a sample comes from (seed, the sample's source key), never from the
  order in which workers run, so any `--workers` gives byte-identical output.
- Resumable: each sample writes its four PNGs atomically, then a record under `OUT/.build/records/`.
  A rerun with the same options skips samples whose record and files are intact; the manifests are
  written last. A build killed at any moment (SIGKILL included) and run again ends with exactly the
  output of an uninterrupted build.
- Bad source files are skipped into `rejected.csv` with the reason and replaced by the next candidate
  in the sampling order, so the dataset still has `--num-images` samples when the source has enough.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from dataset_tools import fileio
from dataset_tools.compositing import CompositeConfig, composite
from dataset_tools.dataset import METADATA_COLUMNS
from dataset_tools.errors import UserError
from dataset_tools.occluders import OccluderBank
from dataset_tools.occluders.base import class_legend
from dataset_tools.sources import make_source
from dataset_tools.sources.base import Source, SourceImageError, SourceItem
from dataset_tools.split import parse_ratio, split_samples

BUILDER_VERSION = "1.0.0"
WORK_DIR = ".build"  # resume state; removed when the build completes
FOLDERS = {"image": "images", "occluded": "occluded", "mask": "masks", "segmentation": "segmentation"}


@dataclass
class BuildConfig:
    """Everything that determines the bytes of a build (`out` and `workers` do not, so they are not
    recorded in dataset.json)."""

    source: str = "synthetic"
    root: str | None = None
    num_images: int = 1000  # the paper's iPanda-50-occlusion has 1000 images
    size: int = 256
    seed: int = 0
    split_ratio: str = "2:1"  # train:test, as in the paper
    split_by: str = "stratified"
    occluders: str | None = None  # extra user RGBA cut-outs, class = sub-folder
    bank_size: int = 32  # procedural cut-outs generated per class
    identities: int = 10  # synthetic source only
    composite: CompositeConfig = field(default_factory=CompositeConfig)

    def recorded(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.source != "synthetic":
            d.pop("identities")
        return d


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def sampling_order(items: list[SourceItem], seed: int) -> list[SourceItem]:
    """Candidates in priority order: identities interleaved round-robin (sorted names), each identity's
    images in a seeded order. Taking a prefix of this list samples the source stratified by identity."""
    by_ident: dict[str, list[SourceItem]] = {}
    for it in sorted(items, key=lambda i: i.key):
        by_ident.setdefault(it.identity, []).append(it)
    queues = []
    for ident in sorted(by_ident):
        group = by_ident[ident]
        rng = np.random.default_rng([seed, _stable_int("order:" + ident)])
        queues.append([group[j] for j in rng.permutation(len(group))])
    order: list[SourceItem] = []
    depth = 0
    while any(depth < len(q) for q in queues):
        order.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return order


def crop_and_resize(image: np.ndarray, eyes: tuple, size: int) -> tuple[np.ndarray, list[tuple[float, ...]]]:
    """Centre square crop, then area-resample to size x size; eye boxes follow the same transform.
    iPanda-50 frames are already cropped to the panda, so the centre square keeps the animal."""
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = image[y0 : y0 + side, x0 : x0 + side]
    s = size / side
    out = crop if side == size else cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    boxes = []
    for x1, y1, x2, y2 in eyes:
        bx1, by1 = max(0.0, (x1 - x0) * s), max(0.0, (y1 - y0) * s)
        bx2, by2 = min(float(size), (x2 - x0) * s), min(float(size), (y2 - y0) * s)
        if bx2 > bx1 and by2 > by1:
            boxes.append((bx1, by1, bx2, by2))
    return np.ascontiguousarray(out), boxes


def severity_of(ratio: float, bins: dict[str, tuple[float, float]]) -> str:
    """The bin whose (lo, hi] holds the measured ratio; below the first bin -> first, above -> last."""
    names = list(bins)
    for name in names:
        lo, hi = bins[name]
        if lo < ratio <= hi:
            return name
    return names[0] if ratio <= bins[names[0]][0] else names[-1]


# ----------------------------------------------------------------------------------------------
# Per-sample work (runs in worker processes)

_STATE: dict[str, Any] = {}


def _init_worker(source: Source, cfg: BuildConfig, out: str) -> None:
    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads would oversubscribe
    _STATE.clear()
    _STATE.update(_make_state(source, cfg, out))


def _make_state(source: Source, cfg: BuildConfig, out: str) -> dict[str, Any]:
    bank = OccluderBank.build(cfg.seed, cfg.size, per_class=cfg.bank_size, user_dir=cfg.occluders)
    return {
        "source": source,
        "cfg": cfg,
        "out": Path(out),
        "bank": bank,
        "legend": class_legend(tuple(bank.classes)),
    }


def _record_path(out: Path, sample_id: str) -> Path:
    return out / WORK_DIR / "records" / f"{sample_id}.json"


def _write_record(out: Path, sample_id: str, record: dict[str, Any]) -> None:
    """A sample's resume record: compact JSON, atomic; not fsync'ed, like the images (the rename alone
    survives SIGKILL, and after a power loss a resume re-checks every recorded file's sha256 anyway)."""
    data = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    fileio.atomic_write_bytes(_record_path(out, sample_id), data, durable=False)


def _process(task: tuple[str, SourceItem]) -> dict[str, Any]:
    sample_id, item = task
    st = _STATE
    cfg: BuildConfig = st["cfg"]
    out: Path = st["out"]
    try:
        image = st["source"].load(item)
        h, w = image.shape[:2]
        if min(h, w) < cfg.size:
            raise SourceImageError(f"image smaller than --size ({w}x{h} < {cfg.size}x{cfg.size})")
    except SourceImageError as e:
        record = {"id": sample_id, "source": item.key, "rejected": str(e)}
        _write_record(out, sample_id, record)
        return record

    image, eyes = crop_and_resize(image, item.eyes, cfg.size)
    rng = np.random.default_rng([cfg.seed, _stable_int("sample:" + item.key)])
    res = composite(image, eyes, st["bank"], rng, cfg.composite, st["legend"])
    arrays = {"image": image, "occluded": res.occluded, "mask": res.mask, "segmentation": res.segmentation}
    files: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for kind, array in arrays.items():
        rel = f"{FOLDERS[kind]}/{sample_id}.png"
        data = fileio.write_png(out / rel, array, durable=False)
        files[kind] = rel
        hashes[rel] = fileio.sha256_bytes(data)
    ratio = float((res.mask > 0).mean())
    record = {
        "id": sample_id,
        "identity": item.identity,
        "source": item.key,
        **files,
        "occlusion_ratio": round(ratio, 6),
        "severity": severity_of(ratio, cfg.composite.severity_bins),
        "occluder_classes": ";".join(res.classes),
        "eyes_occluded": "true" if res.eyes_occluded else "false",
        "has_eyes": bool(eyes),
        "target_severity": res.target_severity,
        "target_ratio": round(float(res.target_ratio), 6),
        "sha256": hashes,
    }
    # written last: marks the sample done
    _write_record(out, sample_id, record)
    return record


def _load_done_record(out: Path, sample_id: str, key: str) -> dict[str, Any] | None:
    """A finished sample's record when it and its files are intact, else None (redo the sample)."""
    path = _record_path(out, sample_id)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if record.get("source") != key:
        return None
    for rel, digest in record.get("sha256", {}).items():
        try:
            if fileio.sha256_file(out / rel) != digest:
                return None
        except FileNotFoundError:
            return None
    return record


# ----------------------------------------------------------------------------------------------
# The build


@dataclass
class BuildSummary:
    out: Path
    n: int
    counts: dict[str, Any]
    rejected: int
    seconds: float
    resumed: int


def _check_out_dir(out: Path, recorded: dict[str, Any]) -> None:
    """Refuse to mix builds: an --out that holds another build (other options) is an error."""
    cfg_path = out / WORK_DIR / "config.json"
    if cfg_path.is_file():
        previous = json.loads(cfg_path.read_text(encoding="utf-8"))
        if previous != recorded:
            raise UserError(
                f"{out} holds an unfinished build with other options; rerun with the same options to "
                "resume it, or choose another --out"
            )
        return
    if (out / "dataset.json").is_file():
        previous = json.loads((out / "dataset.json").read_text(encoding="utf-8")).get("config")
        if previous != recorded:
            raise UserError(f"{out} already holds a dataset built with other options; choose another --out")
        return
    if out.exists() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise UserError(f"--out {out} exists and is not empty; choose a new or empty folder")


def build_dataset(
    cfg: BuildConfig, out: str | Path, workers: int = 1, progress: bool = True, download: bool = False
) -> BuildSummary:
    t0 = time.perf_counter()
    out = Path(out)
    if cfg.num_images < 1:
        raise UserError("--num-images must be at least 1")
    if cfg.size < 32:
        raise UserError("--size must be at least 32 pixels")
    if workers < 1:
        raise UserError("--workers must be at least 1")
    parse_ratio(cfg.split_ratio)
    if cfg.split_by not in ("stratified", "identity"):
        raise UserError(f"--split-by must be 'stratified' or 'identity' (got {cfg.split_by!r})")
    if cfg.occluders is not None and not Path(cfg.occluders).is_dir():
        raise UserError(f"--occluders folder {cfg.occluders!r} does not exist")
    if download:
        if cfg.source != "ipanda50":
            raise UserError("--download only applies to --source ipanda50")
        if not cfg.root:
            raise UserError("--download needs --root, the folder to download iPanda-50 into")
        from dataset_tools.sources.download import download_ipanda50

        download_ipanda50(Path(cfg.root), progress=progress)

    recorded = cfg.recorded()
    source = make_source(
        cfg.source, cfg.root, num_images=cfg.num_images, size=cfg.size, seed=cfg.seed, identities=cfg.identities
    )
    items = source.items()
    if not items:
        raise UserError(f"the {cfg.source} source at {cfg.root!r} contains no images")
    _check_out_dir(out, recorded)
    if (out / "dataset.json").is_file() and not (out / WORK_DIR).exists():
        info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
        print(f"{out} already holds this build (same options); nothing to do", file=sys.stderr)
        return BuildSummary(out, info["counts"]["total"], info["counts"], info["rejected"], time.perf_counter() - t0, info["counts"]["total"])
    (out / WORK_DIR / "records").mkdir(parents=True, exist_ok=True)
    fileio.atomic_write_json(out / WORK_DIR / "config.json", recorded)
    fileio.remove_stale_temporaries(out)

    order = sampling_order(items, cfg.seed)
    ids = [f"s{i:05d}" for i in range(len(order))]  # sample id = position in the sampling order

    state = _make_state(source, cfg, str(out))
    _STATE.clear()
    _STATE.update(state)
    records: list[dict[str, Any]] = []
    resumed = 0
    pool = None
    cv_threads = cv2.getNumThreads()
    if workers > 1:
        import multiprocessing as mp

        # Parallelism comes from the worker processes, so OpenCV's own threads would only oversubscribe
        # the cores (workers inherit this setting through _init_worker).
        cv2.setNumThreads(1)
        tqdm.monitor_interval = 0  # no new tqdm monitor thread; stop one an earlier bar started (it only sleeps)
        if tqdm.monitor is not None:
            tqdm.monitor.exit()
            tqdm.monitor = None

        # A plain fork is fastest (workers start at once, sharing the parent's pages), but forking a process that
        # has loaded torch/OpenMP or runs other threads (tqdm's monitor, a test runner) can deadlock in the child.
        # So fork only from a single-threaded process without torch (the `bench` CLI, which never imports torch
        # here); otherwise start workers from a clean forkserver (or spawn). Output bytes do not depend on it.
        methods = mp.get_all_start_methods()
        if "fork" in methods and threading.active_count() == 1 and "torch" not in sys.modules:
            start = "fork"
        else:
            start = "forkserver" if "forkserver" in methods else "spawn"
        ctx = mp.get_context(start)
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(source, cfg, str(out)))
    bar = tqdm(total=min(cfg.num_images, len(order)), desc="building", unit="img", disable=not progress, file=sys.stderr)
    try:
        next_candidate = 0
        accepted = 0
        # Rounds: process exactly as many new candidates as samples still missing, so the accepted set is
        # always the first `num_images` usable candidates of the sampling order, whatever the workers do.
        while accepted < cfg.num_images and next_candidate < len(order):
            need = cfg.num_images - accepted
            batch = list(range(next_candidate, min(len(order), next_candidate + need)))
            next_candidate = batch[-1] + 1
            todo = []
            for i in batch:
                done = _load_done_record(out, ids[i], order[i].key)
                if done is not None:
                    records.append(done)
                    resumed += 1
                    if "rejected" not in done:
                        accepted += 1
                        bar.update(1)
                else:
                    todo.append((ids[i], order[i]))
            results = pool.map(_process, todo, chunksize=4) if pool else map(_process, todo)
            for rec in results:
                records.append(rec)
                if "rejected" not in rec:
                    accepted += 1
                    bar.update(1)
                    bar.set_postfix_str(f"{rec['severity']} {rec['occlusion_ratio']:.2f}", refresh=False)
    finally:
        bar.close()
        if pool:
            pool.shutdown()
            cv2.setNumThreads(cv_threads)

    good = sorted((r for r in records if "rejected" not in r), key=lambda r: r["id"])
    rejected = sorted((r for r in records if "rejected" in r), key=lambda r: r["id"])
    if not good:
        raise UserError(f"no usable images in the {cfg.source} source ({len(rejected)} rejected; see {out / 'rejected.csv'})")
    if len(good) < cfg.num_images:
        print(
            f"warning: the source has only {len(good)} usable images; built {len(good)} of --num-images {cfg.num_images}",
            file=sys.stderr,
        )
    splits = split_samples([r["identity"] for r in good], parse_ratio(cfg.split_ratio), cfg.seed, cfg.split_by)
    for r, s in zip(good, splits):
        r["split"] = s
    for name in ("train", "test"):
        if name not in splits:
            print(f"warning: the {name} split is empty (stratified splitting needs at least 3 images per identity; "
                  "use more --num-images, fewer --identities or --split-by identity)", file=sys.stderr)

    _write_manifests(out, cfg, source, state, good, rejected)
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)
    counts = _counts(good)
    return BuildSummary(out, len(good), counts, len(rejected), time.perf_counter() - t0, resumed)


def _counts(good: list[dict[str, Any]]) -> dict[str, Any]:
    classes = Counter(c for r in good for c in r["occluder_classes"].split(";") if c)
    return {
        "total": len(good),
        "split": dict(sorted(Counter(r["split"] for r in good).items())),
        "identity": dict(sorted(Counter(r["identity"] for r in good).items())),
        "identity_split": {
            s: dict(sorted(Counter(r["identity"] for r in good if r["split"] == s).items())) for s in ("train", "test")
        },
        "occluder_class": dict(sorted(classes.items())),
        "severity": dict(sorted(Counter(r["severity"] for r in good).items())),
        "eyes_occluded": sum(r["eyes_occluded"] == "true" for r in good),
        "with_eye_boxes": sum(bool(r["has_eyes"]) for r in good),
    }


def _csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _write_manifests(out: Path, cfg: BuildConfig, source: Source, state: dict, good: list, rejected: list) -> None:
    meta = _csv_bytes(list(METADATA_COLUMNS), [[r[c] for c in METADATA_COLUMNS] for r in good])
    rej = _csv_bytes(["source", "reason"], [[r["source"], r["rejected"]] for r in rejected])
    files = {rel: digest for r in good for rel, digest in sorted(r["sha256"].items())}
    files["metadata.csv"] = fileio.sha256_bytes(meta)
    files["rejected.csv"] = fileio.sha256_bytes(rej)
    fingerprint = hashlib.sha256("".join(f"{k}\t{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()
    name = "iPanda-50-occlusion" if cfg.source == "ipanda50" else f"{cfg.source}-occlusion"
    if source.synthetic:
        name += " (synthetic)"
    info = {
        "name": name,
        "builder_version": BUILDER_VERSION,
        "synthetic": bool(source.synthetic),
        "config": cfg.recorded(),
        "seed": cfg.seed,
        "source": {**source.describe(), "fingerprint": source.fingerprint()},
        "fingerprint": fingerprint,
        "counts": _counts(good),
        "rejected": len(rejected),
        "severity_bins": {k: list(v) for k, v in cfg.composite.severity_bins.items()},
        "legend": state["legend"],
        "occluder_bank": state["bank"].provenance(),
        "mask_convention": "masks/*.png: 255 = occluded (hole), 0 = visible; segmentation/*.png: class index per pixel (legend)",
        "columns": list(METADATA_COLUMNS),
        "files": dict(sorted(files.items())),
    }
    fileio.atomic_write_bytes(out / "rejected.csv", rej)
    fileio.atomic_write_bytes(out / "metadata.csv", meta)
    fileio.atomic_write_json(out / "dataset.json", info)  # last: its presence means the build is complete
