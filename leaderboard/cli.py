"""`bench leaderboard`: tables, plots, comparison grids and a static web page from run folders."""

from __future__ import annotations

from pathlib import Path

import click

from dataset_tools.errors import UserError


@click.command("leaderboard")
@click.option("--runs", "runs_dir", required=True, type=click.Path(path_type=Path),
              help="Folder holding run folders (every results.json below it is collected).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "latex", "html", "json"]), default="markdown",
              show_default=True, help="csv/json: one row per run; markdown/latex/html: the tables.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output file (default: stdout). With --format html: a folder for the web site "
                   "(index.html, plots, grids), or a single page if it ends in .html.")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="The built dataset the runs were scored on (ground truth and occluded input for the grids).")
@click.option("--samples", default=None, help="Comma-separated test sample ids for the comparison grid "
                                               "(default: one per severity bin, the median occlusion ratio).")
@click.option("--fingerprint", default=None,
              help="Only runs on the dataset whose fingerprint starts with this prefix.")
def leaderboard(runs_dir: Path, fmt: str, out: Path | None, data: Path | None, samples: str | None,
                fingerprint: str | None) -> None:
    """Render the leaderboard from every results.json under --runs.

    Runs on different datasets (fingerprints) or with different metric settings are never ranked
    together: each such group gets its own tables. The paper's reported numbers appear in a separate,
    labelled section.
    """
    from dataset_tools import fileio
    from leaderboard.render import render
    from leaderboard.runs import collect_runs
    from leaderboard.tables import build_report

    runs, warnings = collect_runs(runs_dir)
    for w in warnings:
        click.echo(f"Warning: {w}", err=True)
    if fingerprint:
        runs = [r for r in runs if r.fingerprint.startswith(fingerprint)]
        if not runs:
            raise UserError(f"no valid run under {runs_dir} has a dataset fingerprint starting with {fingerprint!r}")
    severity_bins = None
    if data is not None:
        from dataset_tools.dataset import BuiltDataset

        severity_bins = BuiltDataset(data).info.get("severity_bins")
    report = build_report(runs, warnings, severity_bins)
    sample_ids = [s.strip() for s in samples.split(",") if s.strip()] if samples else None
    if fmt == "html" and out is not None and out.suffix.lower() not in (".html", ".htm"):
        from leaderboard.site import write_site

        for w in write_site(report, out, data, sample_ids):
            click.echo(f"Warning: {w}", err=True)
        click.echo(f"Wrote {out / 'index.html'} ({len(runs)} runs, {len(report.groups)} group(s))", err=True)
        return
    text = render(report, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        if out.is_dir():
            raise UserError(f"--out {out} is a folder; give a file name for --format {fmt}")
        fileio.atomic_write_text(out, text)
        click.echo(f"Wrote {out} ({len(runs)} runs, {len(report.groups)} group(s))", err=True)
