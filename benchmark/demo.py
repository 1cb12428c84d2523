"""`bench demo`: the README's main job — the whole benchmark end to end on CPU in minutes.

It runs, in order, exactly the commands a user would type (each is printed first), so the demo doubles
as a tour: build a synthetic iPanda-50-occlusion, run the classical methods and the paper's model
(smoke preset), then render the leaderboard (markdown to stdout, and the web page).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

CLASSICAL = ("occluded", "telea", "navier-stokes", "biharmonic")


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"), show_default=True)
@click.option("--num-images", type=int, default=90, show_default=True)
@click.option("--size", type=int, default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--skip-proposed", is_flag=True, help="Only the classical methods (seconds instead of minutes).")
def demo(out: Path, num_images: int, size: int, seed: int, skip_proposed: bool) -> None:
    """Build a synthetic dataset, run every CPU-friendly method, render the leaderboard."""
    from benchmark.cli import cli

    data, runs, site = out / "data", out / "runs", out / "site"
    steps: list[list[str]] = [
        ["build-dataset", "--source", "synthetic", "--num-images", str(num_images), "--size", str(size),
         "--seed", str(seed), "--out", str(data)],
    ]
    # a rerun of the demo skips methods whose run already finished (same method and seed)
    done = set()
    for p in runs.glob("*/results.json") if runs.exists() else ():
        r = json.loads(p.read_text(encoding="utf-8"))
        done.add((r.get("method"), (r.get("provenance") or {}).get("seed")))
    for m in CLASSICAL:
        if (m, seed) not in done:
            steps.append(["run", "--method", m, "--data", str(data), "--out", str(runs), "--seed", str(seed)])
    if not skip_proposed and ("proposed", seed) not in done:
        steps.append(["run", "--method", "proposed", "--preset", "smoke", "--data", str(data), "--out", str(runs),
                      "--seed", str(seed)])
    steps.append(["leaderboard", "--runs", str(runs), "--data", str(data), "--format", "html", "--out", str(site)])
    steps.append(["leaderboard", "--runs", str(runs), "--format", "markdown", "--out", str(out / "leaderboard.md")])
    for args in steps:
        click.secho("$ bench " + " ".join(shlex.quote(a) for a in args), fg="cyan", err=True)
        code = cli.main(args, prog_name="bench", standalone_mode=False)
        if isinstance(code, int) and code != 0:
            raise SystemExit(code)  # the step printed its own one-line error
    click.echo((out / "leaderboard.md").read_text(encoding="utf-8"))
    click.echo(f"Web page: {site / 'index.html'}")
