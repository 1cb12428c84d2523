"""One benchmark run end to end: config -> run folder -> (training) -> test-split inpainting -> composite -> scores.

`run(RunOptions)` is what `bench run` and `bench ablation` call; `load_run(run_dir, device)` rebuilds a trained
method from a run folder (for `bench inpaint`). The run folder layout and `results.json` fields are the team contract
(see the README): `runs/NNNNN-<method>[-<variant>]-<preset>-s<seed>/` with `config.json`, `log.txt`, `metrics.jsonl`,
`checkpoints/`, `samples/`, `predictions/<id>.png`, `per_image.csv`, `results.json` (written last).

Inference protocol: the test split is inpainted in batches with every network in eval mode. A method with an
`image_size` sees the occluded input resized to that size (area) and the mask resized so that a low-resolution pixel
is a hole when any pixel of its footprint is (`benchmark.training.data.resize_mask`; no occluder colour is passed off
as known context, and the ground truth is never read); its prediction is resized back to the dataset's
size (area when shrinking, bicubic when enlarging), rounded to 8 bits and composited with the occluded input
(`pred * mask + occluded * (1 - mask)`), so pixels outside the mask are the input's, byte for byte. Scores are always
computed on these composited 8-bit outputs against the original ground truth.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from benchmark.methods import (LearnableMethod, Method, deviations_from_paper, get_method_class,
                               method_display_name, resolve_config, unwrap)
from benchmark.training import distributed as D
from benchmark.training.data import DEFAULT_AUGMENT, InpaintingDataset, Record, open_dataset, records, resize_input
from benchmark.training.trainer import EngineSettings, Trainer, TrainState, latest_checkpoint, load_weights
from dataset_tools.errors import UserError
from dataset_tools.fileio import atomic_write_json, atomic_write_text, sha256_file, write_png

RUN_RE = re.compile(r"^(\d{5})-")


@dataclass
class RunOptions:
    method: str | None = None
    data: str | None = None
    out: str = "runs"
    preset: str | None = None
    seed: int = 0
    device: str = "auto"
    epochs: int | None = None
    max_steps: int | None = None
    checkpoint_every: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    amp: str = "none"
    inception_weights: str | None = None
    vgg_weights: str | None = None
    split: str = "test"
    resume: str | None = None
    workers: int = 0
    quiet: bool = False
    command: list[str] = field(default_factory=lambda: list(sys.argv))


# ------------------------------------------------------------------------------------------------ small helpers

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", str(text)).strip("-") or "x"


def run_folder_name(number: int, method: str, variant: str, preset: str, seed: int) -> str:
    parts = [f"{number:05d}", _slug(method)]
    if variant and variant != method:
        parts.append(_slug(variant))
    parts += [_slug(preset), f"s{seed}"]
    return "-".join(parts)


def create_run_dir(out: Path, method: str, variant: str, preset: str, seed: int) -> Path:
    """Next free number; `os.mkdir` is atomic, so two concurrent runs never share a folder."""
    out.mkdir(parents=True, exist_ok=True)
    used = [int(m.group(1)) for p in out.iterdir() if (m := RUN_RE.match(p.name))]
    number = max(used, default=-1) + 1
    while True:
        path = out / run_folder_name(number, method, variant, preset, seed)
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            number += 1


class RunLog:
    """`log.txt` (rank 0 only): timestamped lines, also echoed to stderr unless quiet."""

    def __init__(self, path: Path | None, quiet: bool):
        self.path, self.quiet = path, quiet

    def __call__(self, msg: str) -> None:
        line = f"{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} {msg}"
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        if not self.quiet:
            print(msg, file=sys.stderr)


# ------------------------------------------------------------------------------------------------ config

def build_config(opts: RunOptions, source, device: torch.device, world_size: int) -> dict[str, Any]:
    cls = get_method_class(opts.method)
    name = method_display_name(opts.method, cls)
    config = resolve_config(cls, opts.preset, opts.overrides)
    preset = config.pop("preset")
    if opts.vgg_weights is not None:
        if "vgg_weights" not in config:
            raise UserError(f"method {name!r} uses no VGG network, so --vgg-weights does not apply")
        if not Path(opts.vgg_weights).is_file():
            raise UserError(f"--vgg-weights: no such file {opts.vgg_weights!r}")
        config["vgg_weights"] = str(Path(opts.vgg_weights).resolve())
    if opts.inception_weights is not None and not Path(opts.inception_weights).is_file():
        raise UserError(f"--inception-weights: no such file {opts.inception_weights!r}")
    learnable = issubclass(cls, LearnableMethod)
    engine = {
        "epochs": opts.epochs, "max_steps": opts.max_steps,
        "checkpoint_every": opts.checkpoint_every or int(config.get("checkpoint_every", 500)),
        "batch_size": opts.batch_size or int(config.get("batch_size", 8)), "amp": opts.amp,
        "log_every": int(config.get("log_every", 10)), "workers": opts.workers,
        "image_size": config.get("image_size"),
        "augment": dict(config.get("augment", DEFAULT_AUGMENT)) if learnable else None,
        "world_size": world_size, "split": opts.split,
    }
    for key, value in (("epochs", opts.epochs), ("max_steps", opts.max_steps), ("batch_size", opts.batch_size),
                       ("checkpoint_every", opts.checkpoint_every)):
        if value is not None and value < 1:
            raise UserError(f"--{key.replace('_', '-')} must be at least 1 (got {value})")
    if learnable and opts.epochs is not None:  # fail before a run folder exists
        from benchmark.training.trainer import scale_phases

        scale_phases(cls(dict(config, preset=preset), "cpu").phases(), opts.epochs)
    deviations = deviations_from_paper(cls, config)
    if learnable and "paper" in cls.presets:
        paper = cls.presets["paper"]
        if opts.batch_size and opts.batch_size != paper.get("batch_size", opts.batch_size):
            deviations["engine.batch_size"] = {"paper": paper.get("batch_size"), "used": opts.batch_size}
        if opts.epochs is not None:
            deviations["engine.epochs"] = {"paper": "per phases()", "used": opts.epochs}
        if opts.max_steps is not None:
            deviations["engine.max_steps"] = {"paper": None, "used": opts.max_steps}
        if opts.amp != "none":
            deviations["engine.amp"] = {"paper": "none", "used": opts.amp}
    return {
        "method": name, "method_spec": opts.method, "variant": config.get("variant", name), "preset": preset,
        "seed": int(opts.seed), "data": str(Path(opts.data).resolve()),
        "dataset": {k: v for k, v in source.describe().items() if k in ("name", "fingerprint", "synthetic")},
        "device": str(device), "learnable": learnable, "engine": engine, "method_config": config,
        "overrides": dict(opts.overrides),
        "notes": {"deviations_from_paper": deviations, "inception_weights": opts.inception_weights and
                  str(Path(opts.inception_weights).resolve()), "vgg_weights": config.get("vgg_weights")},
        "command": list(opts.command),
    }


def settings_from(config: dict[str, Any], quiet: bool) -> EngineSettings:
    e = config["engine"]
    return EngineSettings(epochs=e["epochs"], max_steps=e["max_steps"], checkpoint_every=e["checkpoint_every"],
                          batch_size=e["batch_size"], amp=e["amp"], log_every=e["log_every"], workers=e["workers"],
                          quiet=quiet)


def instantiate(config: dict[str, Any], device: torch.device) -> Method:
    cls = get_method_class(config["method_spec"])
    method = cls(dict(config["method_config"], preset=config["preset"]), device)
    if isinstance(method, LearnableMethod):
        torch.manual_seed(int(config["seed"]))  # same initial weights on every rank and on resume
        method.build()
    return method


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[Method, dict[str, Any]]:
    """The trained method of a run folder (weights of its latest checkpoint), in eval mode, and its config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise UserError(f"{str(run_dir)!r} is not a run folder (no config.json)")
    config = json.loads(cfg_path.read_text(encoding="utf-8"))
    device = torch.device(device) if not isinstance(device, torch.device) else device
    method = instantiate(config, device)
    if isinstance(method, LearnableMethod):
        ckpt = latest_checkpoint(run_dir)
        if ckpt is None:
            raise UserError(f"run {str(run_dir)!r} has no checkpoint to load")
        load_weights(method, ckpt, device)
        for net in method.networks.values():
            net.eval()
    return method, config


# ------------------------------------------------------------------------------------------------ inference

def _to_batch(arrays: list[np.ndarray], mask: bool, device: torch.device) -> torch.Tensor:
    if mask:
        return torch.from_numpy(np.stack(arrays) > 127).float()[:, None].to(device)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(255.0).to(device)


def _resize_back(pred: np.ndarray, h: int, w: int) -> np.ndarray:
    if pred.shape[:2] == (h, w):
        return pred
    interp = cv2.INTER_AREA if pred.shape[0] > h else cv2.INTER_CUBIC
    return np.clip(cv2.resize(pred, (w, h), interpolation=interp), 0.0, 1.0)


def composite_u8(pred: np.ndarray, occluded: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The engine's composite, through the scoring module's (one definition for `bench run` and `bench evaluate`)."""
    from benchmark.scoring import composite

    return composite(pred, occluded, mask)


def pred_to_u8(pred: np.ndarray) -> np.ndarray:
    """HxWx3 float in [0, 1] -> uint8 by rounding (not truncation)."""
    return np.clip(np.rint(pred * 255.0), 0, 255).astype(np.uint8)


class eval_networks:
    """Context: networks in eval mode (and, on demand, without their DDP wrappers), restored afterwards."""

    def __init__(self, method: Method, unwrap_ddp: bool = True):
        self.method, self.unwrap_ddp = method, unwrap_ddp

    def __enter__(self):
        nets = getattr(self.method, "networks", None)
        self.saved = dict(nets) if nets else None
        if nets:
            if self.unwrap_ddp:
                self.method.networks = D.unwrap_networks(nets)
            self.modes = {k: n.training for k, n in self.method.networks.items()}
            for n in self.method.networks.values():
                n.eval()
        return self.method

    def __exit__(self, *exc):
        if self.saved is not None:
            for k, n in self.method.networks.items():
                n.train(self.modes[k])
            self.method.networks = self.saved


def inpaint_records(method: Method, records: list[Record], image_size: int | None, batch_size: int,
                    device: torch.device, progress: bool = False):
    """Yield (record, gt u8, occluded u8, mask u8, composited prediction u8) for each record, in order."""
    from tqdm import tqdm

    bar = tqdm(total=len(records), desc=f"inpaint {method.name or 'method'}", unit="img", disable=not progress)
    i = 0
    with eval_networks(method), torch.no_grad():
        while i < len(records):
            group = [records[i]]
            first = records[i].loader()
            loaded = [first]
            j = i + 1
            # batch consecutive samples of the same size (a built dataset has one size; parquet may not)
            while j < len(records) and len(group) < batch_size:
                nxt = records[j].loader()
                if nxt[0].shape != first[0].shape:
                    break
                group.append(records[j])
                loaded.append(nxt)
                j += 1
            resized = [resize_input(o, m, image_size) for _, o, m in loaded]  # the ground truth is never shown
            occ = _to_batch([r[0] for r in resized], False, device)
            msk = _to_batch([r[1] for r in resized], True, device)
            pred = method.inpaint(occ, msk)
            if pred.shape != occ.shape:
                raise RuntimeError(f"{method.name}.inpaint returned shape {tuple(pred.shape)} for input "
                                   f"{tuple(occ.shape)}")
            pred_np = pred.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
            for rec, (gt, o, m), p in zip(group, loaded, pred_np):
                p = _resize_back(p, gt.shape[0], gt.shape[1])
                yield rec, gt, o, m, composite_u8(pred_to_u8(p), o, m)
            bar.update(len(group))
            i = j
    bar.close()


def sample_grid(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], gap: int = 2) -> np.ndarray:
    """Rows of occluded | mask | inpainted | ground truth (uint8 RGB), separated by white gaps."""
    out_rows = []
    for gt, occ, mask, pred in rows:
        m3 = np.repeat(mask[..., None], 3, axis=2)
        h = gt.shape[0]
        sep = np.full((h, gap, 3), 255, np.uint8)
        out_rows.append(np.concatenate([occ, sep, m3, sep, pred, sep, gt], axis=1))
    width = max(r.shape[1] for r in out_rows)
    padded = []
    for r in out_rows:
        if r.shape[1] < width:
            r = np.concatenate([r, np.full((r.shape[0], width - r.shape[1], 3), 255, np.uint8)], axis=1)
        padded += [r, np.full((gap, width, 3), 255, np.uint8)]
    return np.concatenate(padded[:-1], axis=0)


# ------------------------------------------------------------------------------------------------ the run

def _provenance(config: dict[str, Any], run_dir: Path, command: list[str], provenance) -> dict[str, Any]:
    weights = {}
    ckpt = latest_checkpoint(run_dir)
    if ckpt is not None:  # sha256 of the trained weights scored here (one file per network)
        weights = {p.stem: sha256_file(p) for p in sorted(ckpt.glob("*.safetensors"))}
    if config["method_config"].get("vgg_weights"):
        weights["vgg16"] = sha256_file(config["method_config"]["vgg_weights"])
    prov = provenance(config["seed"], command, weights)
    prov.update({"run_dir": run_dir.name, "method_spec": config["method_spec"]})
    return prov


def _config_notes(config: dict[str, Any], method: Method) -> dict[str, Any]:
    notes = dict(method.config_notes() or {})
    notes["deviations_from_paper"] = config["notes"]["deviations_from_paper"]
    notes["method_config"] = config["method_config"]
    if config.get("learnable"):
        notes["augmentation"] = config["engine"]["augment"]
        notes["image_size"] = config["engine"]["image_size"]
        notes["engine"] = {k: config["engine"][k] for k in ("epochs", "max_steps", "batch_size", "amp")}
    return notes


def run(opts: RunOptions) -> Path | None:
    """Execute one run; returns the run folder (on rank 0; None on other ranks)."""
    dist_info, device = D.init(opts.device)
    try:
        return _run(opts, dist_info, device)
    finally:
        D.cleanup(dist_info)


def _run(opts: RunOptions, dist_info: D.DistInfo, device: torch.device) -> Path | None:
    if opts.amp not in ("none", "bf16"):
        raise UserError(f"--amp must be none or bf16 (got {opts.amp!r})")
    if opts.amp == "bf16" and device.type != "cuda":
        raise UserError(f"--amp bf16 needs a CUDA device; this run uses {device.type}")
    if opts.resume:
        run_dir = Path(opts.resume)
        cfg_path = run_dir / "config.json"
        if not cfg_path.is_file():
            raise UserError(f"--resume: {str(run_dir)!r} is not a run folder (no config.json)")
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
        if (run_dir / "results.json").is_file():
            raise UserError(f"run {str(run_dir)!r} is already complete (results.json exists)")
        if config["engine"].get("world_size", 1) != dist_info.world_size and config.get("learnable"):
            print(f"warning: the run was started with {config['engine'].get('world_size', 1)} process(es) and is "
                  f"resumed with {dist_info.world_size}; the data order changes", file=sys.stderr)
        source = open_dataset(config["data"])
        if source.describe()["fingerprint"] != config["dataset"]["fingerprint"]:
            raise UserError(f"the dataset at {config['data']} changed since the run started (fingerprint differs)")
    else:
        if not opts.method or not opts.data:
            raise UserError("bench run needs --method and --data (or --resume RUN_DIR)")
        source = open_dataset(opts.data)
        config = build_config(opts, source, device, dist_info.world_size)
        run_dir = None
    # Everything a user can get wrong (missing weights, an empty split) fails here, before a run folder exists.
    torch.manual_seed(int(config["seed"]))
    method = instantiate(config, device)
    e = config["engine"]
    split = e.get("split", "test")
    test_records = records(source, split)
    if not test_records:
        raise UserError(f"the {split} split of {config['data']} is empty")
    if isinstance(method, LearnableMethod) and not records(source, "train"):
        raise UserError(f"the train split of {config['data']} is empty; a learnable method needs training data")
    if run_dir is None:
        if dist_info.is_main:
            run_dir = create_run_dir(Path(opts.out), config["method"], config["variant"], config["preset"],
                                     config["seed"])
            atomic_write_json(run_dir / "config.json", config)
        run_dir = Path(D.broadcast_object(str(run_dir) if run_dir else None, dist_info))
    log = RunLog(run_dir / "log.txt" if dist_info.is_main else None, quiet=opts.quiet or not dist_info.is_main)
    log(f"{'resume' if opts.resume else 'run'} {config['method']} ({config['variant']}, preset {config['preset']}, "
        f"seed {config['seed']}) on {device} x{dist_info.world_size} -> {run_dir}")
    training = {"epochs": 0, "steps": 0, "wall_seconds": 0.0, "device": str(device),
                "world_size": dist_info.world_size}

    if isinstance(method, LearnableMethod):
        train_records = records(source, "train")
        settings = settings_from(config, opts.quiet)
        dataset = InpaintingDataset(train_records, size=e["image_size"], augment=e["augment"], seed=config["seed"])
        method.networks = D.wrap_networks(method.networks, dist_info, device,
                                          bool(getattr(method, "ddp_find_unused_parameters", False)))
        sample_recs = test_records[:4]

        def on_sample(step: int) -> None:
            write_samples(method, sample_recs, e["image_size"], device, run_dir / "samples" / f"step-{step:08d}.png")

        trainer = Trainer(method, dataset, run_dir, settings, config["seed"], device, dist_info, on_sample, log)
        state = trainer.restore() if opts.resume else TrainState()
        D.barrier(dist_info)
        state = trainer.train(state)
        consistency = D.check_consistency(method.networks, dist_info)
        epochs_done = state.epoch + state.batch / max(1, trainer.batches_per_epoch)
        training.update({"epochs": round(epochs_done, 4), "steps": state.step,
                         "wall_seconds": round(state.wall_seconds, 3), "phases": trainer.phases,
                         "weights_sha256_per_rank": consistency["parameters"]})
        if consistency["buffers_differ"]:
            training["buffers_differ_across_ranks"] = consistency["buffers_differ"]
            log(f"note: {len(consistency['buffers_differ'])} buffers (e.g. BatchNorm statistics) differ across ranks; "
                "the checkpoint keeps rank 0's")
        log(f"training done: {state.step} steps, {training['epochs']} epochs, {state.wall_seconds:.1f} s")
    D.barrier(dist_info)  # every rank has finished training before rank 0 scores
    if not dist_info.is_main:
        return None

    t0 = time.perf_counter()
    pred_dir = run_dir / "predictions"
    pred_dir.mkdir(exist_ok=True)
    grid_rows = []
    for rec, gt, occ, mask, out in inpaint_records(method, test_records, e["image_size"], e["batch_size"], device,
                                                   progress=not opts.quiet):
        write_png(pred_dir / f"{rec.id}.png", out, durable=False)
        if len(grid_rows) < 8:
            grid_rows.append((gt, occ, mask, out))
    write_png(run_dir / "samples" / "final.png", sample_grid(grid_rows))
    if not isinstance(method, LearnableMethod):
        training["wall_seconds"] = round(time.perf_counter() - t0, 3)
    log(f"inpainted {len(test_records)} {split} images in {time.perf_counter() - t0:.1f} s")

    from benchmark.results import build_results, provenance, write_per_image_csv, write_results
    from benchmark.scoring import score_predictions

    scores = score_predictions(source, split, pred_dir, inception_weights=config["notes"].get("inception_weights"),
                               device=str(device) if device.type != "mps" else "cpu", progress=not opts.quiet)
    write_per_image_csv(run_dir / "per_image.csv", scores.per_image)
    results = build_results(method=config["method"], variant=config["variant"], preset=config["preset"],
                            seed=config["seed"], dataset=source, split=split, scores=scores, training=training,
                            provenance=_provenance(config, run_dir, opts.command, provenance),
                            config_notes=_config_notes(config, method))
    write_results(run_dir, results)  # last: its presence means the run is complete
    m = results["metrics"]
    log(f"psnr {m['psnr']:.3f} dB, psnr_hole {m['psnr_hole']:.3f} dB, ssim {m['ssim']:.4f}, "
        f"l1_hole {m['l1_hole']:.4f}, fid {m['fid'] if m.get('fid') is not None else 'n/a'}")
    return run_dir


def write_samples(method: Method, records: list[Record], image_size: int | None, device: torch.device,
                  path: Path) -> None:
    rows = [(gt, occ, mask, out) for _, gt, occ, mask, out in
            inpaint_records(method, records, image_size, len(records), device)]
    write_png(path, sample_grid(rows))
