"""`bench publish`: export a built dataset in the Hugging Face Hub parquet layout and upload it.

Layout (what `datasets.DatasetDict.push_to_hub` writes, and what the engine's Hub loader reads):
- `data/{split}-NNNNN-of-MMMMM.parquet` for the splits `train` and `test`; rows sorted by id; a split is
  cut into as many equal-count shards as its image bytes need to keep each under `--max-shard-mb`;
- columns `id`, then `image`, `occluded`, `mask`, `segmentation` as `datasets.Image()` features (a
  struct {bytes: the PNG file's bytes, verbatim; path: "<id>.png"}), then the other metadata columns
  (`split`, `identity`, `source`, `occlusion_ratio` float64, `severity`, `occluder_classes` ';'-joined
  string, `eyes_occluded` bool), built with `datasets.Dataset.from_dict` and explicit `Features`;
- `README.md`, the dataset card: YAML metadata (licence, task, tags, sizes, a `configs` block naming the
  splits) and a body with the description, the full build config and seed, statistics and plots
  (`plots/*.png`), the mask convention and the citations;
- `dataset.json` (the build manifest, for provenance) next to the card.

Publishing is all or nothing: everything is staged in a temporary folder first, then the repo is
created (if needed) and the staged folder is uploaded in ONE commit. The token comes from the standard
Hugging Face locations (`huggingface_hub.get_token()`: `HF_TOKEN`, then the saved login) and is never
printed or written by us. `--dry-run --out DIR` writes exactly the folder that would be uploaded and
uploads nothing.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click
import numpy as np

from dataset_tools import fileio
from dataset_tools.dataset import FILE_COLUMNS, SPLITS, BuiltDataset, Sample
from dataset_tools.errors import UserError

DEFAULT_MAX_SHARD_MB = 500  # the Hub's default max_shard_size for push_to_hub
TAGS = ["inpainting", "image-inpainting", "occlusion", "giant-panda", "wildlife", "re-identification"]

IPANDA_BIBTEX = """@article{wang2021giant,
  title   = {Giant Panda Identification},
  author  = {Wang, Le and Ding, Rizhi and Zhai, Yuanhao and Zhang, Qilin and Tang, Wei and Zheng, Nanning and Hua, Gang},
  journal = {IEEE Transactions on Image Processing},
  volume  = {30},
  pages   = {2837--2849},
  year    = {2021},
  doi     = {10.1109/TIP.2021.3055627}
}"""
PAPER_BIBTEX = """@inproceedings{dong2025twostage,
  title     = {Two-stage occlusion giant panda image inpainting based on partial convolutions, multi-scale contextual attention and a new {PatchGAN} with two discriminators},
  author    = {Dong and Liao and Chen},
  booktitle = {Proceedings of ICIC 2025},
  year      = {2025}
}"""

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def features():
    from datasets import Features, Image, Value

    return Features({
        "id": Value("string"),
        "image": Image(),
        "occluded": Image(),
        "mask": Image(),
        "segmentation": Image(),
        "split": Value("string"),
        "identity": Value("string"),
        "source": Value("string"),
        "occlusion_ratio": Value("float64"),
        "severity": Value("string"),
        "occluder_classes": Value("string"),
        "eyes_occluded": Value("bool"),
    })


def _verified_bytes(ds: BuiltDataset, rel: str) -> bytes:
    """The file's bytes, checked against the build manifest (a file changed since the build is refused)."""
    path = ds.root / rel
    if not path.is_file():
        raise UserError(f"{path} is listed in metadata.csv but missing; rebuild the dataset")
    data = path.read_bytes()
    expected = (ds.info.get("files") or {}).get(rel)
    if expected is not None and fileio.sha256_bytes(data) != expected:
        raise UserError(f"{path} differs from the build manifest (dataset.json); rebuild the dataset")
    return data


def _row(ds: BuiltDataset, s: Sample) -> dict[str, Any]:
    row: dict[str, Any] = {"id": s.id}
    for kind in FILE_COLUMNS:
        row[kind] = {"bytes": _verified_bytes(ds, getattr(s, kind)), "path": f"{s.id}.png"}
    row.update(split=s.split, identity=s.identity, source=s.source, occlusion_ratio=float(s.occlusion_ratio),
               severity=s.severity, occluder_classes=";".join(s.occluder_classes), eyes_occluded=bool(s.eyes_occluded))
    return row


def _shard_plan(ds: BuiltDataset, samples: list[Sample], max_shard_bytes: int) -> list[list[Sample]]:
    """Equal-count shards (in id order), as many as needed to keep each under max_shard_bytes."""
    if not samples:
        return []
    total = sum((ds.root / getattr(s, k)).stat().st_size for s in samples for k in FILE_COLUMNS)
    n = max(1, math.ceil(total / max_shard_bytes))
    n = min(n, len(samples))
    size = math.ceil(len(samples) / n)
    shards = [samples[i:i + size] for i in range(0, len(samples), size)]
    return shards


def write_parquet(ds: BuiltDataset, out: Path, max_shard_mb: float = DEFAULT_MAX_SHARD_MB,
                  progress: bool = True) -> dict[str, list[str]]:
    """Write data/{split}-NNNNN-of-MMMMM.parquet under `out`; returns split -> relative file names."""
    from datasets import Dataset, disable_progress_bars
    from tqdm import tqdm

    disable_progress_bars()  # our own bar below; datasets' per-shard bars would be noise
    feats = features()
    written: dict[str, list[str]] = {}
    for split in SPLITS:
        samples = sorted(ds.split(split), key=lambda s: s.id)
        shards = _shard_plan(ds, samples, int(max_shard_mb * 1024 * 1024))
        names = []
        for i, shard in enumerate(tqdm(shards, desc=f"parquet {split}", unit="shard", disable=not progress,
                                       file=None)):
            rows = [_row(ds, s) for s in shard]
            columns = {k: [r[k] for r in rows] for k in feats}
            table = Dataset.from_dict(columns, features=feats)
            rel = f"data/{split}-{i:05d}-of-{len(shards):05d}.parquet"
            buf = io.BytesIO()
            table.to_parquet(buf)
            fileio.atomic_write_bytes(out / rel, buf.getvalue())
            names.append(rel)
        written[split] = names
    return written


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def _license_details(synthetic: bool) -> tuple[str, str]:
    if synthetic:
        return ("synthetic-ipanda-occlusion",
                "Synthetic images procedurally generated by ipanda-occlusion-bench (no iPanda-50 pixels). The layout "
                "and task follow iPanda-50-occlusion; if you use the real benchmark, cite iPanda-50 (Wang et al., "
                "IEEE TIP 2021) and the task paper (Dong, Liao, Chen, ICIC 2025).")
    return ("ipanda-50-terms",
            "Derived from iPanda-50 (Wang et al., 'Giant Panda Identification', IEEE TIP 30:2837-2849, 2021, "
            "https://github.com/iPandaDateset/iPanda-50). The iPanda-50 authors state no licence; their only "
            "stated request is that users cite the paper. The ground-truth and composite images embed iPanda-50 "
            "pixels: use for non-commercial research only, cite Wang et al. 2021, and check with the iPanda-50 "
            "authors before any other use. The occluders, masks and segmentation maps are generated by "
            "ipanda-occlusion-bench.")


def _yaml_block(meta: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)


def _plots(ds: BuiltDataset, out: Path) -> list[tuple[str, str]]:
    """Statistics plots from `bench dataset-stats` (dataset_tools.stats) and an examples strip;
    returns (caption, relative path) pairs."""
    from dataset_tools.stats import write_stats

    made = []
    with tempfile.TemporaryDirectory(prefix="bench-publish-stats-") as tmp:
        written = {p.name: p for p in write_stats(ds.root, Path(tmp))}
        for name, caption in (("severity.png", "Images per severity bin and split"),
                              ("occlusion_ratio.png", "Occlusion ratio per split (severity-bin edges dashed)"),
                              ("occluder_classes.png", "Images per occluder class and split (an image may have several)")):
            if name in written:
                fileio.atomic_write_bytes(out / "plots" / name, written[name].read_bytes())
                made.append((caption, f"plots/{name}"))

    bins = ds.info.get("severity_bins") or {}
    sev_order = sorted({s.severity for s in ds.samples}, key=lambda b: (bins.get(b, [math.inf])[0], b))
    # examples: ground truth | occluded | mask for the first test sample of each severity bin
    test = sorted(ds.split("test") or ds.samples, key=lambda s: s.id)
    picks = [next(s for s in test if s.severity == b) for b in sev_order if any(s.severity == b for s in test)][:4]
    if picks:
        rows = []
        for s in picks:
            mask = np.repeat(ds.load(s, "mask")[:, :, None], 3, axis=2)
            rows.append(np.concatenate([ds.load(s, "image"), ds.load(s, "occluded"), mask], axis=1))
        h = max(r.shape[0] for r in rows)
        w = max(r.shape[1] for r in rows)
        strip = np.full((len(rows) * h, w, 3), 255, np.uint8)
        for i, r in enumerate(rows):
            strip[i * h:i * h + r.shape[0], :r.shape[1]] = r
        fileio.write_png(out / "plots/examples.png", strip)
        made.append(("Examples (one per severity bin): ground truth | occluded | mask (white = occluded)",
                     "plots/examples.png"))
    return made


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def dataset_card(ds: BuiltDataset, repo_id: str, shards: dict[str, list[str]], plots: list[tuple[str, str]]) -> str:
    info = ds.info
    synthetic = ds.synthetic
    n = len(ds.samples)
    lic_name, lic_details = _license_details(synthetic)
    pretty = ds.name
    meta: dict[str, Any] = {
        "pretty_name": pretty,
        "license": "other",
        "license_name": lic_name,
        "license_details": lic_details,
        "task_categories": ["image-to-image"],
        "tags": TAGS + (["synthetic"] if synthetic else []),
        "language": [],
        "source_datasets": ["original"] if synthetic else ["extended|iPanda-50"],
        "size_categories": [_size_category(n)],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"data/{s}-*"} for s in SPLITS if shards.get(s)]}],
    }
    if not meta["language"]:
        del meta["language"]
    counts_split = Counter(s.split for s in ds.samples)
    bins = info.get("severity_bins") or {}
    sev_names = sorted({s.severity for s in ds.samples}, key=lambda b: (bins.get(b, [math.inf])[0], b))
    classes = sorted({c for s in ds.samples for c in s.occluder_classes})
    lines = ["---", _yaml_block(meta).rstrip(), "---", "", f"# {pretty}", ""]
    if synthetic:
        lines += ["> **This dataset is synthetic.** Its images are procedurally generated stand-ins for panda photos, "
                  "made by the `ipanda-occlusion-bench` builder to test the pipeline end to end. They contain no "
                  "iPanda-50 pixels, and numbers measured on them say nothing about real giant-panda photos.", ""]
    lines += [
        "An occlusion-inpainting benchmark for giant-panda photos in the style of *iPanda-50-occlusion* "
        "(Dong, Liao & Chen, ICIC 2025): each row holds a ground-truth image, the same image with natural "
        f"occluders ({', '.join(c for c in (info.get('legend') or {}) if c != 'visible') or 'procedural'}) "
        "composited over it, the binary occlusion mask and a "
        "per-pixel occluder segmentation, plus metadata (identity, occlusion ratio, severity bin, occluder classes, "
        "whether an eye is covered). The task: given `occluded` and `mask`, restore `image`.",
        "",
        f"Built by `bench build-dataset` (ipanda-occlusion-bench, builder version {info.get('builder_version', '?')}); "
        f"dataset fingerprint `{ds.fingerprint}`.",
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        f"ds = load_dataset(\"{repo_id}\")",
        "row = ds[\"test\"][0]  # row[\"image\"], row[\"occluded\"], row[\"mask\"], row[\"segmentation\"] are PIL images",
        "```",
        "",
        "## Columns",
        "",
        _table(["column", "type", "meaning"], [
            ["id", "string", "sample id (rows are sorted by id)"],
            ["image", "Image (PNG, RGB)", "ground truth"],
            ["occluded", "Image (PNG, RGB)", "ground truth with occluders composited; equal to `image` outside the mask"],
            ["mask", "Image (PNG, L)", "255 = occluded (hole), 0 = visible"],
            ["segmentation", "Image (PNG, L)", "occluder class index per pixel (legend below); 0 = visible"],
            ["split", "string", "train or test"],
            ["identity", "string", "panda identity (individual)"],
            ["source", "string", "the source image the sample was made from"],
            ["occlusion_ratio", "float64", "fraction of pixels occluded"],
            ["severity", "string", "severity bin of the occlusion ratio (bins below)"],
            ["occluder_classes", "string", "';'-joined occluder classes present"],
            ["eyes_occluded", "bool", "whether an annotated eye box is covered"],
        ]),
        "",
        "## Mask convention",
        "",
        f"{info.get('mask_convention', 'masks: 255 = occluded (hole), 0 = visible')}. Inside models the mask is "
        "usually 1 = hole (as in the paper); `occluded` equals `image` byte for byte wherever the mask is 0.",
        "",
        "Segmentation legend: " + ", ".join(f"`{i}` = {c}" for c, i in sorted((info.get("legend") or {}).items(),
                                                                             key=lambda kv: kv[1])) + ".",
        "",
        "Severity bins (occlusion ratio): " + ", ".join(f"{b} = ({lo:g}, {hi:g}]" for b, (lo, hi) in
                                                        sorted(bins.items(), key=lambda kv: kv[1][0])) + ".",
        "",
        "## Statistics",
        "",
        _table(["split", "images", "identities"] + sev_names,
               [[s, counts_split.get(s, 0), len({x.identity for x in ds.split(s)})]
                + [sum(1 for x in ds.split(s) if x.severity == b) for b in sev_names] for s in SPLITS]
               + [["total", n, len({x.identity for x in ds.samples})]
                  + [sum(1 for x in ds.samples if x.severity == b) for b in sev_names]]),
        "",
    ]
    if classes:
        lines += [_table(["occluder class"] + list(SPLITS) + ["total"],
                         [[c] + [sum(1 for x in ds.split(s) if c in x.occluder_classes) for s in SPLITS]
                          + [sum(1 for x in ds.samples if c in x.occluder_classes)] for c in classes]), ""]
    ratios = [s.occlusion_ratio for s in ds.samples]
    lines += [f"Occlusion ratio: mean {np.mean(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}; "
              f"{sum(s.eyes_occluded for s in ds.samples)} images with an eye covered; "
              f"{info.get('rejected', 0)} source images rejected by the builder.", ""]
    for caption, rel in plots:
        lines += [f"![{caption}]({rel})", "", f"*{caption}*", ""]
    lines += ["## Files", "", _table(["split", "parquet shards"],
                                      [[s, ", ".join(f"`{p}`" for p in shards.get(s, []))] for s in SPLITS]), "",
              "`dataset.json` is the builder's manifest (config, seed, counts and the sha256 of every file).", ""]
    build = {"config": info.get("config"), "seed": info.get("seed"), "builder_version": info.get("builder_version"),
             "source": info.get("source"), "fingerprint": ds.fingerprint}
    lines += ["## How it was built", "",
              "Reproduce with `bench build-dataset` from `ipanda-occlusion-bench` using this configuration "
              "(the same config and seed give the same bytes):", "",
              "```json", json.dumps(build, indent=2, sort_keys=True, ensure_ascii=False), "```", ""]
    lines += ["## Licence", "", lic_details, ""]
    lines += ["## Citation", "",
              "iPanda-50 (the source photos; its authors ask to be cited):", "", "```bibtex", IPANDA_BIBTEX, "```", "",
              "The occluded-panda inpainting task and its iPanda-50-occlusion dataset (not public):", "",
              "```bibtex", PAPER_BIBTEX, "```", "",
              "Dong, Liao, Chen, \"Two-stage occlusion giant panda image inpainting based on partial convolutions, "
              "multi-scale contextual attention and a new PatchGAN with two discriminators\", ICIC 2025.", ""]
    return "\n".join(lines)


def stage(ds: BuiltDataset, out: Path, repo_id: str, max_shard_mb: float = DEFAULT_MAX_SHARD_MB,
          progress: bool = True) -> None:
    """Write the complete upload folder into `out` (which must be empty)."""
    shards = write_parquet(ds, out, max_shard_mb, progress)
    plots = _plots(ds, out)
    fileio.atomic_write_text(out / "README.md", dataset_card(ds, repo_id, shards, plots))
    shutil.copyfile(ds.root / "dataset.json", out / "dataset.json")


def _token(from_env: bool) -> str:
    if from_env:
        token = os.environ.get("HF_TOKEN") or None
        if token is None:
            raise UserError("--token-from-env: the environment variable HF_TOKEN is not set")
        return token
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise UserError("no Hugging Face token found: log in with 'hf auth login' or set HF_TOKEN "
                        "(or use --dry-run --out DIR to only write the files)")
    return token


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{e.__class__.__name__}: {text}" if text else e.__class__.__name__


@click.command("publish")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="The built dataset folder.")
@click.option("--repo-id", required=True, help="Hub dataset repo, OWNER/NAME.")
@click.option("--private", is_flag=True, help="Create the repo private (only when it does not exist yet).")
@click.option("--dry-run", is_flag=True, help="Write the folder that would be uploaded to --out; upload nothing.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="With --dry-run: where to write the folder.")
@click.option("--token-from-env", is_flag=True, help="Use only the HF_TOKEN environment variable, not a saved login.")
@click.option("--max-shard-mb", type=click.FloatRange(min=0.001), default=DEFAULT_MAX_SHARD_MB, show_default=True,
              help="Upper bound of image bytes per parquet shard.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def publish(data: Path, repo_id: str, private: bool, dry_run: bool, out: Path | None, token_from_env: bool,
            max_shard_mb: float, quiet: bool) -> None:
    """Export a built dataset to the Hub parquet layout with a dataset card, and upload it in one commit."""
    if not _REPO_ID.match(repo_id):
        raise UserError(f"--repo-id {repo_id!r} is not of the form OWNER/NAME")
    if dry_run and out is None:
        raise UserError("--dry-run needs --out DIR (the folder that would be uploaded is written there)")
    if out is not None and not dry_run:
        raise UserError("--out is only used with --dry-run")
    ds = BuiltDataset(data)
    if not ds.samples:
        raise UserError(f"{data} has no samples")
    if dry_run:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"--out {out} exists and is not empty; choose a new folder")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-publish-", dir=out.parent))
        try:
            stage(ds, tmp, repo_id, max_shard_mb, progress=not quiet)
            if out.exists():
                out.rmdir()
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        click.echo(f"Dry run: wrote {out} ({len(ds.samples)} rows); nothing uploaded", err=True)
        return
    token = _token(token_from_env)  # before any work: no token, no staging, no upload
    from huggingface_hub import HfApi

    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        stage(ds, Path(tmp), repo_id, max_shard_mb, progress=not quiet)
        api = HfApi(token=token)
        try:
            api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True)
            info = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=tmp,
                                     commit_message=f"Upload {ds.name} ({len(ds.samples)} rows, fingerprint "
                                                    f"{ds.fingerprint[:12]}) with bench publish")
        except Exception as e:  # network, auth, offline mode: one line, nothing half-published (one commit)
            raise UserError(f"could not publish to the Hugging Face Hub ({_one_line(e)})") from None
    url = getattr(info, "commit_url", None) or f"https://huggingface.co/datasets/{repo_id}"
    click.echo(f"Published {len(ds.samples)} rows to {repo_id}: {url}", err=True)
