"""Sources: image loading conversions and bad files, the folder and iPanda-50 layouts, the synthetic
stand-in (determinism, eye boxes on the eye patches)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmark.cli import cli
from dataset_tools.build import crop_and_resize
from dataset_tools.errors import UserError
from dataset_tools.sources import make_source
from dataset_tools.sources.base import SourceImageError
from dataset_tools.sources.imageio import load_rgb
from dataset_tools.sources.ipanda50 import read_eye_label
from dataset_tools.sources.synthetic import eye_boxes, render

# ------------------------------------------------------------------------------------------ imageio


def test_exif_orientation_is_applied(tmp_path: Path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    im.save(tmp_path / "r.png", exif=exif)
    out = load_rgb(tmp_path / "r.png")
    assert out.shape == (40, 20, 3)
    assert (out[:20] == (255, 0, 0)).all() and (out[20:] == (0, 0, 255)).all()  # left half went to the top


def test_sixteen_bit_is_scaled_not_clipped(tmp_path: Path):
    a = np.array([[0, 257 * 100, 65535]], np.uint16).repeat(3, 0)
    Image.fromarray(a).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I")
    out = load_rgb(tmp_path / "g16.png")
    assert out.dtype == np.uint8 and out.shape == (3, 3, 3)
    assert list(out[0, :, 0]) == [0, 100, 255]


def test_alpha_is_composited_on_white(tmp_path: Path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 3] = 128  # half-transparent black
    rgba[0, 0] = (10, 20, 30, 255)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = load_rgb(tmp_path / "a.png")
    assert tuple(out[0, 0]) == (10, 20, 30)
    assert tuple(out[1, 1]) == (127, 127, 127)  # 255 * (1 - 128/255), rounded
    la = Image.fromarray(rgba[..., [0, 3]].copy(), "LA")
    la.save(tmp_path / "la.png")
    assert tuple(load_rgb(tmp_path / "la.png")[1, 1]) == (127, 127, 127)


def test_palette_gray_bilevel_and_cmyk(tmp_path: Path):
    p = Image.new("P", (6, 6))
    p.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    p.putpixel((0, 0), 1)
    p.save(tmp_path / "p.png")
    out = load_rgb(tmp_path / "p.png")
    assert tuple(out[0, 0]) == (0, 255, 0) and tuple(out[1, 1]) == (255, 0, 0)
    p.info["transparency"] = 0
    p.save(tmp_path / "pt.png", transparency=0)
    out = load_rgb(tmp_path / "pt.png")
    assert tuple(out[1, 1]) == (255, 255, 255) and tuple(out[0, 0]) == (0, 255, 0)
    Image.fromarray(np.full((5, 5), 77, np.uint8)).save(tmp_path / "l.png")
    assert (load_rgb(tmp_path / "l.png") == 77).all()
    Image.new("1", (5, 5), 1).save(tmp_path / "b.png")
    assert (load_rgb(tmp_path / "b.png") == 255).all()
    Image.new("RGB", (16, 16), (200, 40, 40)).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    c = load_rgb(tmp_path / "c.jpg").astype(int)
    assert c.shape == (16, 16, 3) and abs(c[8, 8] - (200, 40, 40)).max() < 12


@pytest.mark.parametrize("name, data, needle", [
    ("zero.jpg", b"", "empty"),
    ("text.jpg", b"hello, I am not a JPEG", "not an image"),
    ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt"),
])
def test_bad_files_raise_source_image_error(tmp_path: Path, name, data, needle):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(SourceImageError, match=needle):
        load_rgb(tmp_path / name)


def test_truncated_jpeg_is_rejected(tmp_path: Path):
    arr = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "ok.jpg", quality=90)
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    load_rgb(tmp_path / "ok.jpg")
    with pytest.raises(SourceImageError, match="truncated|corrupt"):
        load_rgb(tmp_path / "cut.jpg")


# ------------------------------------------------------------------------------------------ folder


def test_folder_source_layout(tmp_path: Path):
    root = tmp_path / "src"
    for ident in ("b_bär", "a_熊"):
        (root / ident / "deep").mkdir(parents=True)
        Image.new("RGB", (40, 30), (1, 2, 3)).save(root / ident / "UPPER.JPG")
        Image.new("RGB", (40, 30), (1, 2, 3)).save(root / ident / "deep" / "frame_ü.Png")
        (root / ident / ".hidden.jpg").write_bytes(b"x")
        (root / ident / "readme.md").write_text("notes")
    Image.new("RGB", (8, 8)).save(root / "loose.jpg")  # files directly in ROOT have no identity: skipped
    src = make_source("folder", root, num_images=10, size=32, seed=0)
    items = src.items()
    assert [i.key for i in items] == sorted(i.key for i in items)
    assert {i.identity for i in items} == {"a_熊", "b_bär"}
    names = {Path(i.key).name for i in items}
    assert names == {"UPPER.JPG", "frame_ü.Png", "readme.md"}
    by_name = {Path(i.key).name: i for i in items}
    assert load_rgb(root / by_name["UPPER.JPG"].key).shape == (30, 40, 3)
    assert src.load(by_name["frame_ü.Png"]).shape == (30, 40, 3)
    with pytest.raises(SourceImageError, match="not an image"):
        src.load(by_name["readme.md"])
    fp = src.fingerprint()
    assert fp == make_source("folder", root, num_images=10, size=32, seed=0).fingerprint()
    Image.new("RGB", (40, 30), (9, 9, 9)).save(root / "a_熊" / "UPPER.JPG", format="JPEG")
    assert make_source("folder", root, num_images=10, size=32, seed=0).fingerprint() != fp


def test_folder_source_errors(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist"):
        make_source("folder", tmp_path / "nope", num_images=1, size=32, seed=0).items()
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "x.jpg")
    with pytest.raises(UserError, match="one sub-folder per identity"):
        make_source("folder", tmp_path / "flat", num_images=1, size=32, seed=0).items()


# ------------------------------------------------------------------------------------------ iPanda-50


def _labelme(path: Path, shapes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "4.5.6", "shapes": [
        {"label": lab, "points": pts, "shape_type": "rectangle"} for lab, pts in shapes]}), encoding="utf-8")


def _fake_ipanda(root: Path, labels_name: str = "iPanda-50-eyes-labels", nested: bool = False) -> None:
    rng = np.random.default_rng(1)
    images = root / "iPanda50-images" / ("iPanda50-images" if nested else "")
    for ident in ("00_aibang", "01_白雪"):
        for k in range(3):
            arr = (rng.random((80, 120, 3)) * 255).astype(np.uint8)
            p = images / ident / f"00_v00{k}_f00012{k}_雪.jpg"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(p, quality=90)
    # left eye listed first, corners in reverse order: must come back right eye first, normalised
    _labelme(root / labels_name / "00_aibang" / "00_v000_f000120_雪.json",
             [("left_eye", [[70, 30], [60, 20]]), ("right_eye", [[40, 20], [50, 32]])])
    (root / labels_name / "01_白雪").mkdir(parents=True)
    (root / labels_name / "01_白雪" / "00_v001_f000121_雪.json").write_text("{broken")
    (root / "iPanda50-split").mkdir()
    (root / "iPanda50-split" / "split0_train.txt").write_text("00_aibang/00_v000_f000120_雪.jpg\n")


def test_eye_label_reader(tmp_path: Path):
    p = tmp_path / "l.json"
    _labelme(p, [("left_eye", [[70, 30], [60, 20]]), ("right_eye", [[40, 20], [50, 32]])])
    assert read_eye_label(p) == ((40.0, 20.0, 50.0, 32.0), (60.0, 20.0, 70.0, 30.0))


@pytest.mark.parametrize("labels_name, nested", [("iPanda-50-eyes-labels", False), ("iPanda50-eyes-labels", True)])
def test_ipanda50_source(tmp_path: Path, labels_name, nested):
    root = tmp_path / "ipanda"
    _fake_ipanda(root, labels_name, nested)
    src = make_source("ipanda50", root, num_images=6, size=64, seed=0)
    items = src.items()
    assert len(items) == 6 and {i.identity for i in items} == {"00_aibang", "01_白雪"}
    labelled = [i for i in items if i.eyes]
    assert len(labelled) == 1 and labelled[0].eyes == ((40.0, 20.0, 50.0, 32.0), (60.0, 20.0, 70.0, 30.0))
    assert all(i.key.startswith("iPanda50-images/") for i in items)
    assert src.load(items[0]).shape == (80, 120, 3)
    d = src.describe()
    assert d["unreadable_eye_labels"] == 1 and d["with_eye_labels"] == 1
    assert d["official_split_files"] == ["iPanda50-split/split0_train.txt"]


def test_ipanda50_missing_layout_is_a_clear_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="iPanda50-images"):
        make_source("ipanda50", tmp_path / "empty", num_images=1, size=32, seed=0).items()
    r = CliRunner().invoke(cli, ["build-dataset", "--source", "ipanda50", "--root", str(tmp_path / "empty"),
                                 "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 2 and "Traceback" not in r.output and "iPanda50-images" in r.output


def test_build_from_ipanda50_uses_eye_boxes(tmp_path: Path):
    root = tmp_path / "ipanda"
    _fake_ipanda(root)
    out = tmp_path / "ds"
    r = CliRunner().invoke(cli, ["build-dataset", "--source", "ipanda50", "--root", str(root), "--num-images", "6",
                                 "--size", "64", "--workers", "1", "--quiet", "--out", str(out), "--face-share", "1"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert info["synthetic"] is False and info["name"] == "iPanda-50-occlusion"
    assert info["counts"]["with_eye_boxes"] == 1
    with open(out / "metadata.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert any("白雪" in r["identity"] and "雪.jpg" in r["source"] for r in rows)


def test_crop_and_resize_moves_eye_boxes():
    img = np.zeros((100, 200, 3), np.uint8)
    out, boxes = crop_and_resize(img, ((60, 10, 80, 30), (0, 0, 10, 10)), 50)
    assert out.shape == (50, 50, 3)
    # centre square crop starts at x=50; scale 0.5; the second box falls outside the crop
    assert boxes == [(5.0, 5.0, 15.0, 15.0)]


# ------------------------------------------------------------------------------------------ synthetic


def test_synthetic_is_deterministic_and_labelled():
    a = render(0, 1, 2, 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, render(0, 1, 2, 64))
    assert not np.array_equal(a, render(0, 1, 3, 64))
    assert not np.array_equal(a, render(1, 1, 2, 64))
    src = make_source("synthetic", None, num_images=8, size=64, seed=0, identities=4)
    assert src.synthetic is True and src.describe()["synthetic"] is True
    items = src.items()
    assert len(items) == 8 and len({i.identity for i in items}) == 4
    assert np.array_equal(src.load(items[0]), make_source("synthetic", None, num_images=8, size=64, seed=0,
                                                          identities=4).load(items[0]))


def test_synthetic_eye_boxes_sit_on_dark_eye_patches():
    for ident in range(3):
        for index in range(3):
            img = render(5, ident, index, 96).astype(float).mean(-1)
            boxes = eye_boxes(5, ident, index, 96)
            assert len(boxes) == 2
            for x1, y1, x2, y2 in boxes:
                assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 96
                inner = img[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))]
                assert inner.min() < 60  # the black patch is inside the box
            assert boxes[0][0] < boxes[1][0]  # right eye (image left) first
