"""`bench leaderboard`: run collection, tables in every format, bold, missing methods, the paper's numbers,
grouping by dataset/settings, bootstrap intervals and paired tests with known answers, plots, grids, site.

Two kinds of run folders are used:
- real runs: `bench run` of `occluded`, `telea` and `biharmonic` on the session's `tiny_dataset`
  (conftest.py; the classical methods run in about a second each), shared with tests/test_site_browser.py;
- hand-made runs written to the run-folder contract, where a test needs numbers with a known answer
  (several seeds, a constant per-image difference, another dataset, other metric settings).
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli
from dataset_tools import fileio
from dataset_tools.dataset import BuiltDataset
from leaderboard import paper
from leaderboard.render import render
from leaderboard.runs import collect_runs
from leaderboard.stats import bootstrap_ci, holm, paired_test
from leaderboard.tables import ablation_markdown, build_report

CLASSICAL = ("occluded", "telea", "biharmonic")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# ------------------------------------------------------------------ fixtures
def make_real_runs(tmp_path_factory, data: Path) -> tuple[Path, Path]:
    """(dataset, runs): real `bench run`s of the classical methods on `data` (the session's
    `tiny_dataset` from conftest.py). Run once per session (cached by folder name), shared with the
    browser test."""
    base = tmp_path_factory.getbasetemp() / "leaderboard-real"
    runs = base / "runs"
    if (base / "done").is_file():
        return data, runs
    for m in CLASSICAL:
        r = invoke("run", "--method", m, "--data", str(data), "--out", str(runs), "--seed", "0")
        assert r.exit_code == 0, r.output
    (base / "done").write_text("ok")
    return data, runs


@pytest.fixture(scope="module")
def real(tmp_path_factory, tiny_dataset) -> tuple[Path, Path]:
    return make_real_runs(tmp_path_factory, tiny_dataset)


SETTINGS = {"scored_on": "composite", "ssim": {"window": "gaussian", "size": 11, "sigma": 1.5},
            "fid": {"backend": "pytorch-fid", "dims": 2048, "inception_sha256": "aa"}, "kid": {"subsets": 100}}


def hand_run(runs: Path, name: str, method: str, per_image: dict[str, float], *, seed: int = 0,
             variant: str | None = None, preset: str = "default", fingerprint: str = "f" * 64,
             settings: dict | None = None, fid: float | None = None, ssim_offset: float = 0.0) -> Path:
    """A run folder written by hand to the contract: per-image PSNR given; SSIM = PSNR / 100 + offset."""
    run = runs / name
    rows = [{"id": i, "severity": "mild" if k % 2 else "severe", "occluder_classes": "bamboo",
             "occlusion_ratio": 0.05 if k % 2 else 0.4, "psnr": v, "psnr_hole": v - 10,
             "ssim": v / 100 + ssim_offset, "l1_hole": 1 / v} for k, (i, v) in enumerate(sorted(per_image.items()))]
    run.mkdir(parents=True)
    with open(run / "per_image.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    def agg(rs):
        return {"n": len(rs), **{m: float(np.mean([r[m] for r in rs])) for m in ("psnr", "psnr_hole", "ssim", "l1_hole")}}

    res = {"method": method, "variant": variant or method, "preset": preset, "seed": seed,
           "dataset": {"name": "hand (synthetic)", "fingerprint": fingerprint, "synthetic": True, "path": "x"},
           "split": "test", "n": len(rows),
           "metrics": {**{k: v for k, v in agg(rows).items() if k != "n"}, "fid": fid, "kid_mean": None,
                       "kid_std": None},
           "metric_notes": {} if fid is not None else {"fid": "no Inception weights"},
           "breakdown": {"severity": {s: agg([r for r in rows if r["severity"] == s]) for s in ("mild", "severe")},
                         "occluder_class": {"bamboo": agg(rows)}},
           "metric_settings": settings or SETTINGS, "training": {"steps": 0}, "provenance": {"seed": seed}}
    fileio.atomic_write_json(run / "results.json", res)
    return run


IDS = [f"s{i:02d}" for i in range(10)]


# ------------------------------------------------------------------ collecting runs
def test_broken_results_are_named_warnings_not_crashes(tmp_path):
    runs = tmp_path / "runs"
    hand_run(runs, "00000-telea", "telea", {i: 20.0 for i in IDS})
    (runs / "00001-bad").mkdir()
    (runs / "00001-bad" / "results.json").write_text("{not json", encoding="utf-8")
    (runs / "00002-incomplete").mkdir()
    (runs / "00002-incomplete" / "results.json").write_text(json.dumps({"method": "pconv", "preset": "x"}))
    good, warnings = collect_runs(runs)
    assert [r.method for r in good] == ["telea"]
    assert len(warnings) == 2
    assert any("00001-bad" in w and "JSON" in w for w in warnings)
    assert any("00002-incomplete" in w and "dataset.fingerprint" in w and "metrics" in w for w in warnings)
    r = invoke("leaderboard", "--runs", str(runs), "--format", "csv")
    assert r.exit_code == 0
    assert "Warning: skipping" in r.stderr and "00001-bad" in r.stderr
    assert len(list(csv.DictReader(r.stdout.splitlines()))) == 1


def test_missing_runs_folder_is_a_user_error(tmp_path):
    r = invoke("leaderboard", "--runs", str(tmp_path / "nope"))
    assert r.exit_code == 2 and "does not exist" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ real runs, every format
def test_every_format_from_real_runs(real, tmp_path):
    data, runs = real
    results = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in runs.glob("*/results.json")}
    assert set(results) == set(CLASSICAL)
    fp = BuiltDataset(data).fingerprint

    out = {}
    for fmt in ("markdown", "csv", "latex", "html", "json"):
        r = invoke("leaderboard", "--runs", str(runs), "--format", fmt)
        assert r.exit_code == 0, r.output
        out[fmt] = r.stdout
        # same runs, same bytes
        assert invoke("leaderboard", "--runs", str(runs), "--format", fmt).stdout == r.stdout

    rows = list(csv.DictReader(out["csv"].splitlines()))
    assert sorted(r["method"] for r in rows) == sorted(CLASSICAL)
    for row in rows:
        res = results[row["method"]]
        assert row["dataset_fingerprint"] == fp and row["preset"] == res["preset"] and row["seed"] == "0"
        assert row["variant"] == res["variant"]
        for m in ("psnr", "psnr_hole", "ssim", "l1_hole"):
            assert float(row[m]) == pytest.approx(res["metrics"][m], rel=1e-12)
        assert row["fid"] == ("" if res["metrics"]["fid"] is None else row["fid"])
    js = json.loads(out["json"])
    assert len(js["runs"]) == 3 and {r["method"] for r in js["runs"]} == set(CLASSICAL)
    assert js["paper_reported"]["tables"][1]["rows"]["PSNR"]["proposed"] == "35.69"

    # the comparison table: best PSNR in bold, missing methods as —
    best = max(results.values(), key=lambda r: r["metrics"]["psnr"])
    best_psnr = f"{best['metrics']['psnr']:.2f}"
    md = out["markdown"]
    comparison = md.split("### Comparison")[1].split("###")[0]
    header = [c.strip() for c in comparison.splitlines()[2].strip("|").split("|")]
    assert header[:9] == ["Metric", "Occluded images", "PConv", "PEN-Net", "GatedConv", "CM-GAN", "VideoWorld",
                          "Stable Diffusion", "Proposed method"]
    assert header[9:] == ["Telea", "Biharmonic"]
    psnr_row = [c.strip() for c in comparison.splitlines()[4].strip("|").split("|")]
    assert psnr_row[0] == "PSNR (dB)"
    assert psnr_row[header.index("PConv")] == "—" and psnr_row[header.index("Proposed method")] == "—"
    assert psnr_row.count(f"**{best_psnr}**") == 1
    assert psnr_row[header.index({"occluded": "Occluded images", "telea": "Telea",
                                  "biharmonic": "Biharmonic"}[best["method"]])] == f"**{best_psnr}**"
    # the paper's numbers come after every measured table, in their own labelled section
    measured, reported = md.split("## Reported by the paper (not measured here)")
    assert "35.69" in reported and "34.49" in reported and paper.LABEL in reported
    assert "35.69" not in measured and "34.49" not in measured
    assert "\\textbf{" + best_psnr + "}" in out["latex"] and "---" in out["latex"]
    assert f"<strong>{best_psnr}</strong>" in out["html"] and "<!DOCTYPE html>" in out["html"]


def test_out_files_and_site(real, tmp_path):
    data, runs = real
    md = tmp_path / "lb.md"
    r = invoke("leaderboard", "--runs", str(runs), "--format", "markdown", "--out", str(md))
    assert r.exit_code == 0 and md.read_text().startswith("# iPanda-50-occlusion leaderboard")
    site = tmp_path / "site"
    r = invoke("leaderboard", "--runs", str(runs), "--data", str(data), "--format", "html", "--out", str(site))
    assert r.exit_code == 0, r.output
    index = (site / "index.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', index)
    assert srcs and all(not s.startswith(("http", "/")) for s in srcs)
    for s in srcs:
        with Image.open(site / s) as im:
            assert im.width > 0
    names = {Path(s).name.split("-", 3)[-1] for s in srcs}
    assert {"bar-psnr.png", "bar-ssim.png", "severity-psnr.png", "grid.png"} <= names
    assert "http://" not in index and "https://" not in index  # no CDN
    assert (site / "leaderboard.csv").is_file() and json.loads((site / "leaderboard.json").read_text())["runs"]
    # re-rendering into the same folder is allowed and gives the same page
    before = (site / "index.html").read_bytes()
    assert invoke("leaderboard", "--runs", str(runs), "--data", str(data), "--format", "html",
                  "--out", str(site)).exit_code == 0
    assert (site / "index.html").read_bytes() == before
    # a folder that is not a leaderboard site is never overwritten
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    r = invoke("leaderboard", "--runs", str(runs), "--format", "html", "--out", str(other))
    assert r.exit_code == 2 and (other / "keep.txt").read_text() == "x"


def test_grid_tiles_are_the_images(real, tmp_path):
    """Each tile of the comparison grid is the ground truth / occluded input / prediction, scaled exactly."""
    from leaderboard.grids import comparison_grid

    data, runs = real
    ds = BuiltDataset(data)
    rep = build_report(*collect_runs(runs))
    gr = rep.groups[0]
    grid = comparison_grid(gr, ds, tmp_path / "grid.png")
    test_ids = {s.id for s in ds.split("test")}
    severities = {s.severity for s in ds.split("test")}
    assert set(grid.sample_ids) <= test_ids and len(grid.sample_ids) == len(severities)
    assert grid.columns == ["Ground truth", "Occluded input", "Telea", "Biharmonic"]
    canvas = np.asarray(Image.open(grid.path).convert("RGB"))
    by_id = {s.id: s for s in ds.samples}
    entries = {e.label: e for e in gr.entries}
    for i, sid in enumerate(grid.sample_ids):
        s = by_id[sid]
        sources = [ds.load(s, "image"), ds.load(s, "occluded")]
        for label in grid.columns[2:]:
            run = entries[label].runs[0]
            sources.append(np.asarray(Image.open(run.predictions_dir / f"{sid}.png").convert("RGB")))
        for j, src in enumerate(sources):
            x, y, w, h = grid.boxes[(i, j)]
            k = w // src.shape[1]
            expected = src.repeat(k, axis=0).repeat(k, axis=1)  # nearest-neighbour integer up-scaling
            assert np.array_equal(canvas[y:y + h, x:x + w], expected), (sid, grid.columns[j])
    # explicit samples, and unknown ids are a user error
    sid = sorted(test_ids)[0]
    assert comparison_grid(gr, ds, tmp_path / "g2.png", [sid]).sample_ids == [sid]
    r = invoke("leaderboard", "--runs", str(runs), "--data", str(data), "--format", "html", "--out",
               str(tmp_path / "s"), "--samples", "nope")
    assert r.exit_code == 2 and "nope" in r.stderr


# ------------------------------------------------------------------ hand-made runs with known answers
def test_bold_direction_missing_and_seeds(tmp_path):
    runs = tmp_path / "runs"
    hand_run(runs, "00000-occluded", "occluded", {i: 20.0 for i in IDS})
    hand_run(runs, "00001-telea", "telea", {i: 25.0 for i in IDS}, fid=9.0)
    for seed, base in ((0, 30.0), (1, 31.0), (2, 32.0)):
        hand_run(runs, f"0000{2 + seed}-proposed-s{seed}", "proposed", {i: base for i in IDS}, seed=seed,
                 preset="smoke", fid=5.0 + seed)
    hand_run(runs, "00005-model1", "proposed", {i: 29.0 for i in IDS}, variant="model1", preset="smoke", fid=4.0)
    rep = build_report(*collect_runs(runs))
    assert len(rep.groups) == 1
    gr = rep.groups[0]
    comp = {label: cells for label, cells in gr.comparison.rows}
    cols = gr.comparison.columns
    assert cols[:8] == ["Occluded images", "PConv", "PEN-Net", "GatedConv", "CM-GAN", "VideoWorld",
                        "Stable Diffusion", "Proposed method [smoke]"] and cols[8:] == ["Telea"]
    psnr = comp["PSNR (dB)"]
    # three seeds: mean 31 with a 95% bootstrap interval inside [30, 32]; bold (highest)
    prop = psnr[cols.index("Proposed method [smoke]")]
    assert prop.value == pytest.approx(31.0) and prop.bold and prop.text.startswith("31.00 [")
    lo, hi = map(float, prop.text[7:-1].split(", "))
    assert 30.0 <= lo < 31.0 < hi <= 32.0
    assert [c.bold for c in psnr].count(True) == 1
    assert all(psnr[cols.index(m)].missing and psnr[cols.index(m)].text == "—"
               for m in ("PConv", "PEN-Net", "GatedConv", "CM-GAN", "VideoWorld", "Stable Diffusion"))
    # lower is better for L1 and FID
    l1 = comp["L1 hole"]
    assert l1[cols.index("Proposed method [smoke]")].bold and not l1[cols.index("Telea")].bold
    fid = comp["FID"]
    assert fid[cols.index("Proposed method [smoke]")].value == pytest.approx(6.0)
    assert fid[cols.index("Proposed method [smoke]")].bold and not fid[cols.index("Telea")].bold
    assert fid[0].text == "n/a" and any("no Inception weights" in n for n in gr.comparison.notes)
    # ablation table: occluded, model1, model2 (missing), proposed
    abl = dict(gr.ablation.rows)
    assert gr.ablation.columns == ["Occluded images", "Model1 [smoke]", "Model2", "Proposed method [smoke]"]
    assert abl["PSNR (dB)"][2].missing and abl["PSNR (dB)"][3].bold
    assert abl["FID"][1].bold  # model1 has the lowest FID (4.0)
    # breakdown by severity: one row per entry, one column per bin, mildest first
    sev = gr.breakdowns[0]
    assert sev.title == "PSNR (dB) by severity bin" and [c.split(" ")[0] for c in sev.columns] == ["mild", "severe"]
    md = render(rep, "markdown")
    ablation_md = md.split("### Ablation")[1].split("###")[0]
    assert "| Metric | Occluded images | Model1 [smoke] | Model2 | Proposed method [smoke] |" in ablation_md
    assert "| PSNR (dB) | 20.00 | 29.00 | — | **31.00 [" in ablation_md


def test_paired_test_on_per_image_data(tmp_path):
    runs = tmp_path / "runs"
    base = {i: 20.0 + k for k, i in enumerate(IDS)}
    hand_run(runs, "00000-telea", "telea", base)
    hand_run(runs, "00001-biharmonic", "biharmonic", {i: v + 0.5 for i, v in base.items()})
    hand_run(runs, "00002-navier", "navier-stokes", {i: v + (0.25 if k % 2 else -0.25) for k, (i, v) in
                                                      enumerate(sorted(base.items()))})
    gr = build_report(*collect_runs(runs)).groups[0]
    t = gr.paired
    assert t is not None and "Biharmonic" in t.title  # the best by PSNR is the reference
    rows = dict(t.rows)
    telea = rows["Telea"]
    assert telea[0].text == "10"
    assert telea[1].text == "-0.50 [-0.50, -0.50]"
    # all ten differences negative: exact two-sided Wilcoxon p = 2 / 2^10; Holm over 2 rows doubles the smaller
    assert telea[2].value == pytest.approx(min(1.0, 2 * 2 / 2 ** 10))
    assert "*" in telea[2].text
    assert "Wilcoxon signed-rank" in t.notes[0]


def test_bootstrap_ci_known_answers():
    est = bootstrap_ci([3.0, 3.0, 3.0])
    assert (est.mean, est.lo, est.hi, est.n) == (3.0, 3.0, 3.0, 3)
    assert bootstrap_ci([7.0]).lo is None
    # two values: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 -> 95% interval [0, 1]
    est = bootstrap_ci([0.0, 1.0])
    assert (est.mean, est.lo, est.hi) == (0.5, 0.0, 1.0)
    # many values: the percentile interval approaches mean ± 1.96 * sigma / sqrt(n) (sigma: population)
    x = np.arange(40, dtype=float)
    est = bootstrap_ci(x)
    half = 1.96 * x.std() / math.sqrt(x.size)
    assert est.hi - est.lo == pytest.approx(2 * half, rel=0.06)
    assert bootstrap_ci(x) == est  # seeded: deterministic


def test_paired_test_and_holm_known_answers():
    a = {f"i{k}": float(k) for k in range(8)}
    r = paired_test({i: v + 1.0 for i, v in a.items()}, a)
    assert r.n == 8 and r.mean_diff == 1.0 and (r.lo, r.hi) == (1.0, 1.0)
    assert r.p_value == pytest.approx(2 / 2 ** 8)
    # symmetric differences: no evidence either way
    sym = paired_test({i: v + (1.0 if k % 2 else -1.0) * (k // 2 + 1) for k, (i, v) in enumerate(a.items())}, a)
    assert sym.p_value == pytest.approx(1.0) and sym.mean_diff == pytest.approx(0.0)
    assert paired_test(a, a).p_value == 1.0
    assert paired_test({"x": 1.0}, {"x": 2.0}) is None  # one shared image: no test
    assert paired_test({"a": 1.0, "b": 2.0}, {"c": 1.0, "d": 2.0}) is None  # no shared images
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_mixed_datasets_and_settings_never_ranked_together(tmp_path):
    runs = tmp_path / "runs"
    hand_run(runs, "a1", "telea", {i: 25.0 for i in IDS}, fingerprint="a" * 64)
    hand_run(runs, "a2", "biharmonic", {i: 26.0 for i in IDS}, fingerprint="a" * 64)
    hand_run(runs, "b1", "telea", {i: 40.0 for i in IDS}, fingerprint="b" * 64)
    other = json.loads(json.dumps(SETTINGS))
    other["ssim"]["size"] = 7
    hand_run(runs, "c1", "telea", {i: 50.0 for i in IDS}, fingerprint="a" * 64, settings=other)
    rep = build_report(*collect_runs(runs))
    assert len(rep.groups) == 3
    keys = [(g.group.fingerprint[0], len(g.group.runs)) for g in rep.groups]
    assert keys[0] == ("a", 2)  # the largest group first
    for g in rep.groups:
        fps = {r.fingerprint for r in g.group.runs}
        hashes = {r.settings_hash for r in g.group.runs}
        assert len(fps) == 1 and len(hashes) == 1
    first = dict(rep.groups[0].comparison.rows)["PSNR (dB)"]
    # within dataset a (same settings), biharmonic 26 is best, not dataset b's or the other settings' telea
    assert [c.text for c in first if c.bold] == ["26.00"]
    md = render(rep, "markdown")
    assert md.count("## hand (synthetic), test split") == 3
    # FID with different Inception weights inside one group: shown, never bold
    runs2 = tmp_path / "runs2"
    other_fid = json.loads(json.dumps(SETTINGS))
    other_fid["fid"]["inception_sha256"] = "bb"
    hand_run(runs2, "x1", "telea", {i: 25.0 for i in IDS}, fid=3.0)
    hand_run(runs2, "x2", "biharmonic", {i: 26.0 for i in IDS}, fid=4.0, settings=other_fid)
    rep2 = build_report(*collect_runs(runs2))
    assert len(rep2.groups) == 1
    fid = dict(rep2.groups[0].comparison.rows)["FID"]
    assert [c.text for c in fid if c.value is not None] == ["3.00", "4.00"] and not any(c.bold for c in fid)
    assert any("different settings" in n for n in rep2.groups[0].comparison.notes)
    assert [c.text for c in dict(rep2.groups[0].comparison.rows)["PSNR (dB)"] if c.bold] == ["26.00"]


def test_duplicate_runs_latest_wins(tmp_path):
    runs = tmp_path / "runs"
    hand_run(runs, "00000-telea-default-s0", "telea", {i: 20.0 for i in IDS})
    hand_run(runs, "00001-telea-default-s0", "telea", {i: 21.0 for i in IDS})
    good, warnings = collect_runs(runs)
    assert [r.path.name for r in good] == ["00001-telea-default-s0"] and "same run" in warnings[0]


def test_paper_numbers_exactly_as_printed():
    assert paper.TABLE1.columns == ("Occlude images", "Model1", "Model2", "Proposed method")
    assert paper.TABLE1.rows == (("PSNR", ("22.06", "33.25", "30.26", "34.49")),
                                 ("SSIM", ("0.910", "0.964", "0.955", "0.967")),
                                 ("FID", ("21.94", "5.10", "10.27", "4.22")))
    assert paper.TABLE2.columns[4] == "CM-GAN [20] 2021"
    assert paper.TABLE2.rows == (
        ("PSNR", ("20.35", "30.99", "31.94", "29.97", "35.59", "34.71", "26.97", "35.69")),
        ("SSIM", ("0.905", "0.951", "0.961", "0.963", "0.972", "0.921", "0.891", "0.971")),
        ("FID", ("21.21", "12.53", "8.52", "7.47", "5.33", "5.35", "5.80", "5.22")))
    assert paper.TABLE2.value("psnr", "cmgan") == "35.59" and paper.TABLE1.value("fid", "proposed") == "4.22"
    assert any("EdgeConnect" in n for n in paper.TABLE2.notes)
    assert "unpublished, 1000 images" in paper.LABEL and "Dong et al. (ICIC 2025)" in paper.LABEL


def test_ablation_markdown_for_bench_ablation(tmp_path):
    runs = tmp_path / "runs"
    for name, variant, v in (("o", "occluded", 20.0), ("p", "proposed", 30.0), ("m1", "model1", 29.0),
                             ("m2", "model2", 27.0)):
        hand_run(runs, name, "occluded" if variant == "occluded" else "proposed", {i: v for i in IDS},
                 variant=variant, preset="default" if variant == "occluded" else "smoke")
    results = [json.loads((runs / n / "results.json").read_text()) for n in ("o", "p", "m1", "m2")]
    md = ablation_markdown(results)
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| Metric"))
    assert header == "| Metric | Occluded images | Model1 [smoke] | Model2 [smoke] | Proposed method [smoke] |"
    psnr = next(line for line in lines if line.startswith("| PSNR (dB)"))
    assert psnr == "| PSNR (dB) | 20.00 | 29.00 | 27.00 | **30.00** |"
    assert "Table 1. Quantitative comparison of ablation experiments" in md and "| PSNR | 22.06 |" in md
    bad = ablation_markdown(results + [{"method": "x"}])
    assert "skipped result 5" in bad and "**30.00**" in bad


def test_empty_runs_folder_and_fingerprint_filter(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = invoke("leaderboard", "--runs", str(empty), "--format", "markdown")
    assert r.exit_code == 0 and "No valid runs found" in r.stdout and "Reported by the paper" in r.stdout
    runs = tmp_path / "runs"
    hand_run(runs, "a1", "telea", {i: 25.0 for i in IDS}, fingerprint="a" * 64)
    hand_run(runs, "b1", "telea", {i: 40.0 for i in IDS}, fingerprint="b" * 64)
    r = invoke("leaderboard", "--runs", str(runs), "--format", "csv", "--fingerprint", "bbbb")
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert r.exit_code == 0 and [row["run"] for row in rows] == ["b1"]
    r = invoke("leaderboard", "--runs", str(runs), "--fingerprint", "zz")
    assert r.exit_code == 2 and "zz" in r.stderr
