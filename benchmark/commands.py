"""`bench methods`, `bench run` and `bench ablation`: the engine's command-line surface (the work is in
`benchmark.engine`). Option names are the contract of issue 3; every user mistake is one line and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dataset_tools.errors import UserError

ABLATION_VARIANTS = ("proposed", "model1", "model2")


def parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    """`--set key=value` pairs; values are JSON when they parse as JSON (numbers, true/false/null, lists, quoted
    strings), else plain strings."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def run_options(func):
    """The options shared by `bench run` and `bench ablation`."""
    opts = [
        click.option("--data", type=click.Path(path_type=Path), help="Built dataset folder or Hub parquet folder."),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
                     show_default=True, help="Folder that receives the run folders."),
        click.option("--preset", default=None, help="Named configuration of the method (learnable: paper, smoke)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True),
        click.option("--epochs", type=int, default=None, help="Total epochs (the method's phases rescaled to it)."),
        click.option("--max-steps", type=int, default=None, help="Stop training after this many steps."),
        click.option("--checkpoint-every", type=int, default=None, help="Checkpoint (and sample) every N steps."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a config field (repeatable; dotted keys reach nested fields; JSON values)."),
        click.option("--batch-size", type=int, default=None, help="Per-process training and inference batch."),
        click.option("--amp", type=click.Choice(["none", "bf16"]), default="none", show_default=True,
                     help="bf16 autocast (CUDA only)."),
        click.option("--inception-weights", type=click.Path(path_type=Path), default=None,
                     help="pytorch-fid Inception weights (pt_inception-2015-12-05-*.pth) for FID/KID."),
        click.option("--vgg-weights", type=click.Path(path_type=Path), default=None,
                     help="VGG16 ImageNet weights for perceptual/style losses (methods that use VGG)."),
        click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True,
                     help="Split to inpaint and score."),
        click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes."),
        click.option("--quiet", is_flag=True, help="No progress bars or log lines on stderr."),
    ]
    for o in reversed(opts):
        func = o(func)
    return func


def _options(method: str | None, kw: dict[str, Any], overrides: dict[str, Any] | None = None):
    from benchmark.engine import RunOptions

    sets = parse_set(kw["sets"])
    if overrides:
        sets.update(overrides)
    return RunOptions(
        method=method, data=str(kw["data"]) if kw["data"] else None, out=str(kw["out"]), preset=kw["preset"],
        seed=kw["seed"], device=kw["device"], epochs=kw["epochs"], max_steps=kw["max_steps"],
        checkpoint_every=kw["checkpoint_every"], overrides=sets, batch_size=kw["batch_size"], amp=kw["amp"],
        inception_weights=str(kw["inception_weights"]) if kw["inception_weights"] else None,
        vgg_weights=str(kw["vgg_weights"]) if kw["vgg_weights"] else None, split=kw["split"],
        workers=kw["workers"], quiet=kw["quiet"], command=["bench"] + sys.argv[1:],
    )


def _execute(opts) -> Path | None:
    from benchmark.engine import run
    from benchmark.training.trainer import TrainingDiverged

    try:
        return run(opts)
    except TrainingDiverged as e:
        click.echo(f"Error: {e}", err=True)
        raise SystemExit(3)


@click.command("methods")
def methods() -> None:
    """List the inpainting methods and what they are (any `package.module:Class` also works as --method)."""
    from benchmark.methods import REGISTRY

    width = max(len(n) for n in REGISTRY)
    for name, (_, description) in REGISTRY.items():
        click.echo(f"{name:<{width}}  {description}")


@click.command("run")
@click.option("--method", default=None, help="Registry name (see 'bench methods') or package.module:ClassName.")
@click.option("--resume", type=click.Path(path_type=Path), default=None,
              help="Continue a run folder from its last checkpoint (its own config is used; no other option needed).")
@run_options
def run(method: str | None, resume: Path | None, **kw: Any) -> None:
    """Train (if learnable), inpaint the test split, composite and score one method; writes one run folder."""
    if resume is not None:
        ctx = click.get_current_context()
        given = [p.name for p in ctx.command.params
                 if p.name not in ("resume", "quiet", "device")
                 and ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT]
        if given or method:
            raise UserError("--resume uses the run's own config; drop the other options "
                            f"({', '.join('--' + g.replace('_', '-') for g in (given or ['method']))})")
        from benchmark.engine import RunOptions

        opts = RunOptions(resume=str(resume), device=kw["device"], quiet=kw["quiet"],
                          command=["bench"] + sys.argv[1:])
    else:
        if not method:
            raise UserError("bench run needs --method NAME (see 'bench methods') or --resume RUN_DIR")
        if kw["data"] is None:
            raise UserError("bench run needs --data DIR (a built dataset or a Hub parquet folder)")
        opts = _options(method, kw)
    run_dir = _execute(opts)
    if run_dir is not None:
        click.echo(str(run_dir))


def _find_run(out: Path, method: str, variant: str, seed: int, fingerprint: str) -> Path | None:
    """The newest finished run of (method, variant, seed) on this dataset in `out`."""
    best = None
    for p in sorted(out.glob("*/results.json")) if out.is_dir() else ():
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if (r.get("method") == method and r.get("variant") == variant and r.get("seed") == seed
                and (r.get("dataset") or {}).get("fingerprint") == fingerprint):
            best = p.parent
    return best


@click.command("ablation")
@click.option("--variant", type=click.Choice(["proposed", "model1", "model2"]), default=None,
              help="One variant of the paper's model (model1: no multi-scale attention fusion; model2: one ordinary "
                   "discriminator instead of the dual PatchGAN critics).")
@click.option("--all", "all_", is_flag=True, help="Train and score proposed, model1 and model2, then print Table 1.")
@click.option("--method", default="proposed", show_default=True, help="The method whose `variant` field is ablated.")
@run_options
def ablation(variant: str | None, all_: bool, method: str, **kw: Any) -> None:
    """Train and score the paper's ablations (Table 1) on the same data and seed."""
    if (variant is None) == (not all_):
        raise UserError("bench ablation needs exactly one of --variant model1|model2|proposed or --all")
    if kw["data"] is None:
        raise UserError("bench ablation needs --data DIR")
    if any(s.split("=", 1)[0].strip() == "variant" for s in kw["sets"]):
        raise UserError("use --variant, not --set variant=...")
    from benchmark.engine import RunOptions  # noqa: F401  (import errors surface before training starts)
    from benchmark.training.data import open_dataset

    variants = list(ABLATION_VARIANTS) if all_ else [variant]
    fingerprint = open_dataset(kw["data"]).describe()["fingerprint"]
    # looked up before training, on every rank alike (under torchrun every rank must take part in the same runs)
    occluded = _find_run(kw["out"], "occluded", "occluded", kw["seed"], fingerprint) if all_ else None
    results_dirs: list[Path] = []
    for v in variants:
        run_dir = _execute(_options(method, kw, {"variant": v}))
        if run_dir is not None:
            click.echo(str(run_dir))
            results_dirs.append(run_dir)
    if not all_:
        return
    if occluded is None:
        occluded = _execute(_options("occluded", {**kw, "sets": (), "preset": None}))
    if not results_dirs or occluded is None:
        return  # not rank 0
    rows = [json.loads((p / "results.json").read_text(encoding="utf-8")) for p in [occluded, *results_dirs]]
    click.echo(ablation_table(rows))


def ablation_table(results: list[dict[str, Any]]) -> str:
    """Table 1 of the paper (PSNR, SSIM, FID per variant), via the leaderboard's renderer when it exists."""
    try:
        from leaderboard.tables import ablation_markdown
    except ImportError:
        ablation_markdown = None
    if ablation_markdown is not None:
        return ablation_markdown(results)
    # plain table (leaderboard.tables.ablation_markdown not available in this version)
    fmt = lambda v, d: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = ["| Model | PSNR (dB) | PSNR hole (dB) | SSIM | L1 hole | FID |", "|---|---|---|---|---|---|"]
    names = {"occluded": "Occluded images", "model1": "Model1", "model2": "Model2", "proposed": "Proposed"}
    for r in results:
        m = r["metrics"]
        lines.append(f"| {names.get(r['variant'], r['variant'])} | {fmt(m['psnr'], 2)} | {fmt(m['psnr_hole'], 2)} | "
                     f"{fmt(m['ssim'], 4)} | {fmt(m['l1_hole'], 4)} | {fmt(m.get('fid'), 2)} |")
    return "\n".join(lines)
