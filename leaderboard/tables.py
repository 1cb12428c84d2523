"""Leaderboard tables, built per comparable group of runs (see `runs.group_runs`).

Table shapes follow the paper: metrics as rows, one column per method, the best measured value per row
in bold (higher is better for PSNR/SSIM, lower for L1/FID/KID):
- the ablation table (paper Table 1): occluded, model1, model2, proposed;
- the comparison table (paper Table 2): occluded, PConv, PEN-Net, GatedConv, CM-GAN, VideoWorld,
  Stable Diffusion, proposed, then every other measured method (the classical ones: Telea,
  Navier-Stokes, biharmonic) as extra columns. A method with no run yet is a "—" column, not dropped.
Plus, with one row per entry (sortable on the web page): a ranking table of every entry and metric,
breakdowns by severity bin and by occluder class, and paired tests against the best entry.

An "entry" is one (method/variant, preset) within a group; its seeds are aggregated as mean with a
95% bootstrap interval (`stats.bootstrap_ci`). The paper's own numbers live in `paper.py` and are
rendered as separate tables, never compared with ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leaderboard import paper as paper_numbers
from leaderboard.runs import METRICS, Group, Run, group_runs, validate_results
from leaderboard.stats import Estimate, bootstrap_ci, holm, paired_test

MISSING = "—"
NOT_AVAILABLE = "n/a"

DISPLAY: dict[str, str] = {
    "occluded": "Occluded images",
    "pconv": "PConv",
    "pennet": "PEN-Net",
    "gatedconv": "GatedConv",
    "cmgan": "CM-GAN",
    "edgeconnect": "EdgeConnect",
    "videoworld": "VideoWorld",
    "stable-diffusion": "Stable Diffusion",
    "proposed": "Proposed method",
    "model1": "Model1",
    "model2": "Model2",
    "telea": "Telea",
    "navier-stokes": "Navier-Stokes",
    "biharmonic": "Biharmonic",
}
ABLATION_KEYS: tuple[str, ...] = ("occluded", "model1", "model2", "proposed")
COMPARISON_KEYS: tuple[str, ...] = ("occluded", "pconv", "pennet", "gatedconv", "cmgan", "videoworld",
                                    "stable-diffusion", "proposed")
CLASSICAL_KEYS: tuple[str, ...] = ("telea", "navier-stokes", "biharmonic")
TABLE_METRICS: tuple[str, ...] = ("psnr", "psnr_hole", "ssim", "l1_hole", "fid", "kid_mean")
DECIMALS: dict[str, int] = {"psnr": 2, "psnr_hole": 2, "ssim": 3, "l1_hole": 4, "fid": 2, "kid_mean": 4, "kid_std": 4}


def fmt(metric: str, value: float) -> str:
    return f"{value:.{DECIMALS.get(metric, 3)}f}"


def display_name(key: str) -> str:
    return DISPLAY.get(key, key)


@dataclass
class Cell:
    text: str
    value: float | None = None  # used for bold and sorting
    bold: bool = False
    missing: bool = False  # the method has no run (—)
    title: str | None = None  # tooltip on the web page (e.g. why FID is n/a)


@dataclass
class Table:
    title: str
    corner: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]]
    notes: list[str] = field(default_factory=list)
    sortable: bool = False  # rows are entries (sortable on the web page)
    slug: str = "table"


@dataclass
class Entry:
    """All runs (seeds) of one method/variant with one preset in one group."""

    key: str
    preset: str
    runs: list[Run]

    @property
    def label(self) -> str:
        name = display_name(self.key)
        return name if self.preset == "default" else f"{name} [{self.preset}]"

    @property
    def seeds(self) -> list[int | None]:
        return [r.seed for r in self.runs]

    def estimate(self, metric: str) -> Estimate | None:
        values = [v for v in (r.metric(metric) for r in self.runs) if v is not None]
        return bootstrap_ci(values) if values else None

    def null_reason(self, metric: str) -> str | None:
        for r in self.runs:
            notes = r.results.get("metric_notes") or {}
            base = metric.split("_")[0] if metric.startswith("kid") else metric
            if notes.get(metric) or notes.get(base):
                return str(notes.get(metric) or notes.get(base))
        return None

    def per_image(self, metric: str) -> dict[str, float] | None:
        """Image id -> value averaged over this entry's seeds (images every seed scored), or None."""
        tables = [r.per_image for r in self.runs]
        if not tables or any(t is None for t in tables):
            return None
        acc: dict[str, list[float]] = {}
        for t in tables:
            for row in t:
                if row.get(metric) is not None:
                    acc.setdefault(row["id"], []).append(row[metric])
        return {i: sum(v) / len(v) for i, v in acc.items() if len(v) == len(tables)}

    def breakdown(self, kind: str) -> dict[str, dict[str, float]]:
        """bin -> {metric: mean over seeds, "n": n} from results.json's breakdown block."""
        out: dict[str, dict[str, list[float]]] = {}
        for r in self.runs:
            for name, vals in ((r.results.get("breakdown") or {}).get(kind) or {}).items():
                if not isinstance(vals, dict):
                    continue
                slot = out.setdefault(str(name), {})
                for m, v in vals.items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        slot.setdefault(m, []).append(float(v))
        return {b: {m: sum(v) / len(v) for m, v in ms.items()} for b, ms in out.items()}


def cell_for(entry: Entry | None, metric: str) -> Cell:
    if entry is None:
        return Cell(MISSING, missing=True, title="no run of this method yet")
    est = entry.estimate(metric)
    if est is None:
        reason = entry.null_reason(metric)
        return Cell(NOT_AVAILABLE, title=reason or "not computed")
    text = fmt(metric, est.mean)
    title = None
    if est.lo is not None:
        text += f" [{fmt(metric, est.lo)}, {fmt(metric, est.hi)}]"
        title = f"mean of {est.n} runs (seeds {', '.join(str(s) for s in entry.seeds)}), 95% bootstrap interval"
    return Cell(text, value=est.mean, title=title)


def mark_best(cells: list[Cell], higher_better: bool) -> None:
    values = [c.value for c in cells if c.value is not None]
    if len(values) < 2:
        return  # a lone value is not "best" of anything
    best = max(values) if higher_better else min(values)
    for c in cells:
        if c.value is not None and c.value == best:
            c.bold = True


DISTRIBUTION_METRICS = ("fid", "kid_mean")


def comparable(entries: list[Entry], metric: str) -> bool:
    """FID/KID values are ranked only when every run that has one used the same FID/KID settings."""
    if metric not in DISTRIBUTION_METRICS:
        return True
    hashes = {r.fid_settings_hash for e in entries for r in e.runs if r.metric(metric) is not None}
    return len(hashes) <= 1


MIXED_FID_NOTE = ("FID/KID in this group were computed with different settings (Inception weights, resize, KID "
                  "subsets): they are shown but not ranked (no bold).")


def severity_order(entries: list[Entry], known: dict[str, list[float]] | None = None) -> list[str]:
    """Severity bins from mildest to most severe: by the bins' lower edges when the dataset's
    `severity_bins` are known, else by the mean occlusion ratio of their images in per_image.csv,
    else by name."""
    names: set[str] = set()
    ratios: dict[str, list[float]] = {}
    for e in entries:
        names.update(e.breakdown("severity"))
        for r in e.runs:
            for row in r.per_image or ():
                if row.get("severity") and row.get("occlusion_ratio") is not None:
                    names.add(row["severity"])
                    ratios.setdefault(row["severity"], []).append(row["occlusion_ratio"])

    def key(name: str):
        if known and name in known:
            return (0, float(known[name][0]), name)
        if name in ratios:
            return (1, sum(ratios[name]) / len(ratios[name]), name)
        return (2, 0.0, name)

    return sorted(names, key=key)


@dataclass
class GroupReport:
    group: Group
    entries: list[Entry]
    ablation: Table
    comparison: Table
    ranking: Table
    breakdowns: list[Table]
    paired: Table | None
    severity_bins: list[str]


def make_entries(group: Group) -> list[Entry]:
    by: dict[tuple[str, str], list[Run]] = {}
    for r in group.runs:
        by.setdefault((r.key, r.preset), []).append(r)
    order = {k: i for i, k in enumerate(COMPARISON_KEYS[:-1] + ("model1", "model2", "proposed") + CLASSICAL_KEYS)}
    entries = [Entry(k, p, sorted(rs, key=lambda r: (r.seed is None, r.seed or 0, str(r.path))))
               for (k, p), rs in by.items()]
    return sorted(entries, key=lambda e: (order.get(e.key, len(order)), e.key, e.preset))


def metric_table(title: str, keys: list[str], entries: list[Entry], slug: str, notes: list[str]) -> Table:
    """Paper-shaped table: metric rows, one column per entry of each key ("—" for keys never run)."""
    columns: list[tuple[str, Entry | None]] = []
    for k in keys:
        es = [e for e in entries if e.key == k]
        if es:
            columns.extend((e.label, e) for e in es)
        else:
            columns.append((display_name(k), None))
    rows = []
    notes = list(notes)
    reasons: dict[str, set[str]] = {}
    for m in TABLE_METRICS:
        cells = [cell_for(e, m) for _, e in columns]
        for c in cells:
            if c.text == NOT_AVAILABLE and c.title:
                reasons.setdefault(METRICS[m][0], set()).add(c.title)
        if comparable([e for _, e in columns if e is not None], m):
            mark_best(cells, METRICS[m][1])
        elif MIXED_FID_NOTE not in notes:
            notes.append(MIXED_FID_NOTE)
        rows.append((METRICS[m][0], cells))
    by_reason: dict[str, list[str]] = {}
    for name, texts in reasons.items():
        by_reason.setdefault(" / ".join(sorted(texts)), []).append(name)
    for text, names in by_reason.items():
        notes.append(f"{', '.join(names)} n/a: {text}")
    return Table(title, "Metric", [c for c, _ in columns], rows, notes, sortable=False, slug=slug)


def ranking_table(entries: list[Entry], slug: str) -> Table:
    columns = [METRICS[m][0] for m in TABLE_METRICS] + ["Runs (seeds)"]
    per_metric = {m: [cell_for(e, m) for e in entries] for m in TABLE_METRICS}
    notes = ["Bold: best value in the column. Several runs: mean [95% bootstrap interval over seeds]."]
    for m, cells in per_metric.items():
        if comparable(entries, m):
            mark_best(cells, METRICS[m][1])
        elif MIXED_FID_NOTE not in notes:
            notes.append(MIXED_FID_NOTE)
    rows = []
    for i, e in enumerate(entries):
        seeds = ", ".join(str(s) for s in e.seeds)
        rows.append((e.label, [per_metric[m][i] for m in TABLE_METRICS] + [Cell(f"{len(e.runs)} ({seeds})",
                                                                                  value=float(len(e.runs)))]))
    return Table("Every measured entry (click a header to sort)", "Method", columns, rows, notes,
                 sortable=True, slug=slug)


def breakdown_tables(entries: list[Entry], kind: str, bins: list[str], slug: str) -> list[Table]:
    if not bins:
        return []
    what = "severity bin" if kind == "severity" else "occluder class"
    tables = []
    for m in ("psnr", "psnr_hole", "ssim"):
        name, higher = METRICS[m]
        cols: list[list[Cell]] = []
        for b in bins:
            cells = []
            for e in entries:
                v = e.breakdown(kind).get(b, {}).get(m)
                cells.append(Cell(fmt(m, v), value=v) if v is not None else Cell(NOT_AVAILABLE))
            mark_best(cells, higher)
            cols.append(cells)
        counts = []
        for b in bins:
            ns = [e.breakdown(kind).get(b, {}).get("n") for e in entries]
            ns = [int(n) for n in ns if n is not None]
            counts.append(f"{b} (n={max(ns)})" if ns else b)
        rows = [(e.label, [cols[j][i] for j in range(len(bins))]) for i, e in enumerate(entries)]
        tables.append(Table(f"{name} by {what}", "Method", counts, rows,
                            [f"Bold: best value in the column. n = test images in the {what}"
                             + (" (an image with several occluder classes counts in each)." if kind != "severity"
                                else ".")],
                            sortable=True, slug=f"{slug}-{kind}-{m}"))
    return tables


def paired_table(entries: list[Entry], slug: str) -> Table | None:
    """Each entry against the best entry by mean PSNR, on the test images both scored."""
    with_images = [e for e in entries if e.per_image("psnr")]
    if len(with_images) < 2:
        return None
    best = max(with_images, key=lambda e: e.estimate("psnr").mean if e.estimate("psnr") else float("-inf"))
    others = [e for e in with_images if e is not best]
    metrics = ("psnr", "ssim")
    results = {m: [paired_test(e.per_image(m) or {}, best.per_image(m) or {}, m, (e.label, best.label))
                   for e in others] for m in metrics}
    adjusted = {m: holm([r.p_value if r else 1.0 for r in results[m]]) for m in metrics}
    columns = ["Images"]
    for m in metrics:
        columns += [f"Δ{METRICS[m][0]} [95% CI]", f"p ({METRICS[m][0].split(' ')[0]}, Holm)"]
    rows = []
    for i, e in enumerate(others):
        cells = [Cell(str(results["psnr"][i].n) if results["psnr"][i] else "0")]
        for m in metrics:
            r = results[m][i]
            if r is None:
                cells += [Cell(NOT_AVAILABLE), Cell(NOT_AVAILABLE)]
                continue
            cells.append(Cell(f"{r.mean_diff:+.{DECIMALS[m]}f} [{r.lo:+.{DECIMALS[m]}f}, {r.hi:+.{DECIMALS[m]}f}]",
                              value=r.mean_diff))
            p = adjusted[m][i]
            cells.append(Cell(f"{p:.2g}" + (" *" if p < 0.05 else ""), value=p,
                              title=f"unadjusted p = {r.p_value:.3g}"))
        rows.append((e.label, cells))
    note = (f"Each entry minus the best entry by PSNR ({best.label}), image by image on the same test images "
            "(seeds averaged per image first). Test: Wilcoxon signed-rank, two-sided (scipy.stats.wilcoxon); "
            "p-values Holm-adjusted over the rows; * = significant at 0.05. Interval: 95% paired bootstrap "
            "(10,000 resamples of images) of the mean difference.")
    return Table(f"Paired comparison with {best.label}", "Method", columns, rows, [note], sortable=True,
                 slug=f"{slug}-paired")


def build_group_report(group: Group, severity_bins: dict[str, list[float]] | None = None) -> GroupReport:
    entries = make_entries(group)
    slug = group.slug
    present = {e.key for e in entries}
    extras = [k for k in CLASSICAL_KEYS if k in present]
    extras += sorted(k for k in present if k not in COMPARISON_KEYS + CLASSICAL_KEYS + ABLATION_KEYS)
    seeds_note = "Several runs (seeds): mean [95% bootstrap interval]. — = not run yet; n/a = not computed."
    ablation = metric_table(
        "Ablation (shape of the paper's Table 1)", list(ABLATION_KEYS), entries, f"{slug}-ablation",
        ["Model1: without the multi-scale contextual-attention fusion; Model2: without the dual PatchGAN "
         "discriminators. Bold: best measured value in the row.", seeds_note])
    comparison = metric_table(
        "Comparison (shape of the paper's Table 2, plus the classical methods)", list(COMPARISON_KEYS) + extras,
        entries, f"{slug}-comparison",
        ["CM-GAN: the paper's column is labelled \"CM-GAN [20] 2021\" but its text cites EdgeConnect (Nazeri et "
         "al.); see the paper's numbers below. Bold: best measured value in the row.", seeds_note])
    bins = severity_order(entries, severity_bins)
    classes = sorted({c for e in entries for c in e.breakdown("occluder_class")})
    breakdowns = (breakdown_tables(entries, "severity", bins, slug)
                  + breakdown_tables(entries, "occluder_class", classes, slug))
    return GroupReport(group, entries, ablation, comparison, ranking_table(entries, f"{slug}-ranking"),
                       breakdowns, paired_table(entries, slug), bins)


def paper_tables() -> list[Table]:
    out = []
    for t in paper_numbers.TABLES:
        rows = [(metric, [Cell(v, value=float(v)) for v in values]) for metric, values in t.rows]
        slug = "paper-table1" if t is paper_numbers.TABLE1 else "paper-table2"
        out.append(Table(t.title, "", list(t.columns), rows, [paper_numbers.LABEL[0].upper() + paper_numbers.LABEL[1:] + ".", *t.notes],
                         sortable=False, slug=slug))
    return out


@dataclass
class Report:
    runs: list[Run]
    groups: list[GroupReport]
    paper: list[Table]
    warnings: list[str]


def build_report(runs: list[Run], warnings: list[str] | None = None,
                 severity_bins: dict[str, list[float]] | None = None) -> Report:
    groups = [build_group_report(g, severity_bins) for g in group_runs(runs)]
    return Report(runs, groups, paper_tables(), list(warnings or []))


def ablation_markdown(results: list[dict[str, Any]], run_dirs: list[str | Path] | None = None) -> str:
    """The ablation table (paper Table 1 shape) for `bench ablation --all`, next to the paper's Table 1.

    `results`: parsed results.json dicts; `run_dirs` (optional, same order): their run folders, which
    enables per-image paired tests. Invalid results are listed, not fatal. Runs on different datasets or
    metric settings get one table each (never ranked together)."""
    from leaderboard.render import markdown_table

    runs, lines = [], []
    for i, res in enumerate(results):
        problems = validate_results(res)
        if problems:
            lines.append(f"> skipped result {i + 1}: " + "; ".join(problems))
            continue
        path = Path(run_dirs[i]) if run_dirs else Path(f"<result {i + 1}>")
        runs.append(Run(path, res))
    groups = group_runs(runs)
    parts = []
    for g in groups:
        rep = build_group_report(g)
        if len(groups) > 1:
            parts.append(f"### {g.heading}\n")
        parts.append(markdown_table(rep.ablation))
        if rep.paired is not None:
            parts.append(markdown_table(rep.paired))
    if not groups:
        parts.append("_No valid ablation results._\n")
    parts.append(markdown_table(paper_tables()[0]))
    return "\n".join(lines + ([""] if lines else []) + parts)
