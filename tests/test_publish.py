"""`bench publish`: the Hub parquet layout round-trips through `datasets`, the card is valid, and
uploads are all-or-nothing (no token or no Hub: one line, non-zero exit, nothing uploaded).
No network: the Hub client is replaced by a recorder and HF_HUB_OFFLINE=1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli
from dataset_tools.dataset import FILE_COLUMNS, BuiltDataset

TOKEN = "hf_secretTOKEN0123456789"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def data(tiny_dataset) -> Path:
    return tiny_dataset  # conftest.py: 24 synthetic samples at 64 px, seed 0 (read-only)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dry_run_round_trips_through_datasets(data, tmp_path):
    from datasets import Image as ImageFeature
    from datasets import load_dataset

    out = tmp_path / "stage"
    r = invoke("publish", "--data", str(data), "--repo-id", "someone/panda-occlusion", "--dry-run", "--out", str(out),
               "--max-shard-mb", "0.02", "--quiet")
    assert r.exit_code == 0, r.output
    ds = BuiltDataset(data)
    files = tree(out)
    shards = {s: sorted(f for f in files if f.startswith(f"data/{s}-")) for s in ("train", "test")}
    for split, names in shards.items():
        assert len(names) >= 2  # the tiny --max-shard-mb forces several shards
        assert names == [f"data/{split}-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))]
    assert "README.md" in files and "dataset.json" in files

    loaded = load_dataset("parquet", data_files={s: [str(out / n) for n in names] for s, names in shards.items()},
                          cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train", "test"}
    columns = ["id", "image", "occluded", "mask", "segmentation", "split", "identity", "source", "occlusion_ratio",
               "severity", "occluder_classes", "eyes_occluded"]
    for split in ("train", "test"):
        part = loaded[split]
        expected = sorted(ds.split(split), key=lambda s: s.id)
        assert part.num_rows == len(expected) > 0
        assert part.column_names == columns
        for c in FILE_COLUMNS:
            assert isinstance(part.features[c], ImageFeature)
        assert part.features["occlusion_ratio"].dtype == "float64" and part.features["eyes_occluded"].dtype == "bool"
        assert part["id"] == [s.id for s in expected]  # sorted by id
        for row, s in zip(part, expected):
            assert row["split"] == split and row["identity"] == s.identity and row["source"] == s.source
            assert row["occlusion_ratio"] == s.occlusion_ratio and row["severity"] == s.severity
            assert row["occluder_classes"] == ";".join(s.occluder_classes)
            assert row["eyes_occluded"] == s.eyes_occluded
            for kind in FILE_COLUMNS:
                got = np.asarray(row[kind].convert("RGB" if kind in ("image", "occluded") else "L"))
                assert np.array_equal(got, ds.load(s, kind)), (s.id, kind)  # pixel-exact
    # the stored bytes are the built PNG files, verbatim
    raw = load_dataset("parquet", data_files={"test": [str(out / n) for n in shards["test"]]},
                       cache_dir=str(tmp_path / "cache2"))["test"].cast_column("mask", ImageFeature(decode=False))
    first = sorted(ds.split("test"), key=lambda s: s.id)[0]
    assert raw[0]["mask"]["bytes"] == (data / first.mask).read_bytes() and raw[0]["mask"]["path"] == f"{first.id}.png"

    # the card: YAML front matter with the required keys, and the body facts
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["license"] == "other" and meta["license_name"] and meta["license_details"]
    assert meta["task_categories"] == ["image-to-image"]
    assert {"inpainting", "image-inpainting", "occlusion", "giant-panda", "wildlife", "re-identification"} <= set(meta["tags"])
    assert meta["size_categories"] == ["n<1K"] and meta["source_datasets"] and meta["pretty_name"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-*"}, {"split": "test", "path": "data/test-*"}]}]
    body = card.split("---\n", 2)[2]
    assert "This dataset is synthetic" in body
    assert "255 = occluded" in body and ds.fingerprint in body and '"seed": 0' in body
    assert "Giant Panda Identification" in body and "10.1109/TIP.2021.3055627" in body
    assert "Two-stage occlusion giant panda image inpainting" in body
    for rel in ("plots/severity.png", "plots/occlusion_ratio.png", "plots/examples.png"):
        assert f"]({rel})" in body and rel in files
        with Image.open(out / rel) as im:
            assert im.width > 0
    # deterministic: the same dataset gives the same folder, byte for byte
    again = tmp_path / "stage2"
    assert invoke("publish", "--data", str(data), "--repo-id", "someone/panda-occlusion", "--dry-run", "--out",
                  str(again), "--max-shard-mb", "0.02", "--quiet").exit_code == 0
    assert tree(again) == files
    # --out must be new (or empty)
    r = invoke("publish", "--data", str(data), "--repo-id", "a/b", "--dry-run", "--out", str(out), "--quiet")
    assert r.exit_code == 2 and "not empty" in r.stderr


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records calls, optionally fails like an unreachable Hub."""

    calls: list = []
    fail: Exception | None = None

    def __init__(self, token=None, **kw):
        RecordingApi.calls.append(("init", token is not None))

    def create_repo(self, **kw):
        RecordingApi.calls.append(("create_repo", kw))
        if RecordingApi.fail is not None:
            raise RecordingApi.fail

    def upload_folder(self, **kw):
        folder = Path(kw["folder_path"])
        RecordingApi.calls.append(("upload_folder", {**kw, "tree": tree(folder)}))

        class Info:
            commit_url = "https://huggingface.co/datasets/x/y/commit/1"

        return Info()


@pytest.fixture
def api(monkeypatch):
    import huggingface_hub

    RecordingApi.calls = []
    RecordingApi.fail = None
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    return RecordingApi


def test_no_token_one_line_error_and_nothing_uploaded(data, api, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    r = invoke("publish", "--data", str(data), "--repo-id", "someone/panda", "--quiet")
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "token" in r.stderr
    assert api.calls == []
    r = invoke("publish", "--data", str(data), "--repo-id", "someone/panda", "--token-from-env", "--quiet")
    assert r.exit_code == 2 and "HF_TOKEN" in r.stderr and api.calls == []


def test_unreachable_hub_one_line_error(data, api, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api.fail = ConnectionError("Failed to resolve 'huggingface.co'\nmore detail")
    r = invoke("publish", "--data", str(data), "--repo-id", "someone/panda", "--quiet")
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "could not publish" in r.stderr
    assert [c[0] for c in api.calls] == ["init", "create_repo"]  # never reached the upload
    assert TOKEN not in r.output


def test_upload_is_one_commit_of_the_dry_run_folder(data, api, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    r = invoke("publish", "--data", str(data), "--repo-id", "someone/panda", "--private", "--token-from-env",
               "--quiet")
    assert r.exit_code == 0, r.output
    assert TOKEN not in r.output
    kinds = [c[0] for c in api.calls]
    assert kinds == ["init", "create_repo", "upload_folder"]
    create = api.calls[1][1]
    assert create["repo_id"] == "someone/panda" and create["repo_type"] == "dataset"
    assert create["private"] is True and create["exist_ok"] is True
    upload = api.calls[2][1]
    assert upload["repo_type"] == "dataset" and upload["repo_id"] == "someone/panda"
    stage = tmp_path / "dry"
    assert invoke("publish", "--data", str(data), "--repo-id", "someone/panda", "--dry-run", "--out", str(stage),
                  "--quiet").exit_code == 0
    assert upload["tree"] == tree(stage)  # exactly what --dry-run writes


def test_bad_arguments(data, tmp_path):
    r = invoke("publish", "--data", str(data), "--repo-id", "no-slash", "--dry-run", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "OWNER/NAME" in r.stderr
    r = invoke("publish", "--data", str(data), "--repo-id", "a/b", "--dry-run")
    assert r.exit_code == 2 and "--out" in r.stderr
    r = invoke("publish", "--data", str(tmp_path / "missing"), "--repo-id", "a/b", "--dry-run", "--out",
               str(tmp_path / "o"))
    assert r.exit_code == 2
