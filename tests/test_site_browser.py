"""The leaderboard web page in a real headless Chromium (Debian's `chromium` package): what a visitor
sees — the table rows and numbers in the rendered DOM, every image loaded, header-click sorting, a
screenshot. Skipped with a reason when Chromium is not installed."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from test_leaderboard import invoke, make_real_runs

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_dataset) -> tuple[Path, Path]:
    data, runs = make_real_runs(tmp_path_factory, tiny_dataset)
    out = tmp_path_factory.mktemp("browser") / "site"
    r = invoke("leaderboard", "--runs", str(runs), "--data", str(data), "--format", "html", "--out", str(out))
    assert r.exit_code == 0, r.output
    return out, runs


def cell_texts(row_html: str) -> list[str]:
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row_html, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def table_rows(dom: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table[^>]*id="{re.escape(table_id)}"[^>]*>(.*?)</table>', dom, flags=re.S)
    assert m, f"table {table_id} not in the rendered page"
    body = m.group(1).split("<tbody>")[1]
    return [cell_texts(r) for r in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


def test_visitor_sees_tables_numbers_and_images(site, tmp_path):
    out, runs = site
    results = [json.loads(p.read_text()) for p in sorted(runs.glob("*/results.json"))]
    # sort the ranking table by PSNR (descending) the way a visitor would: click the header twice
    index = (out / "index.html").read_text(encoding="utf-8")
    slug = re.search(r'id="([^"]+-ranking)"', index).group(1)
    clicker = (f"<script>window.addEventListener('load',function(){{var th=document.querySelector('#{slug} thead th:nth-child(2)');"
               "th.click();th.click();document.body.setAttribute('data-sorted',th.getAttribute('aria-sort'));});</script>")
    probe = out / "probe.html"  # same folder: same relative image paths
    probe.write_text(index.replace("</body>", clicker + "</body>"), encoding="utf-8")

    r = chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    # every image on the page loaded (the page's own script counts naturalWidth > 0)
    m = re.search(r'<body[^>]*data-images="(\d+)/(\d+)"', dom)
    assert m, "the page's image-status script did not run"
    loaded, total = int(m.group(1)), int(m.group(2))
    assert total >= 5 and loaded == total
    assert 'data-sorted="descending"' in dom

    names = {"occluded": "Occluded images", "telea": "Telea", "biharmonic": "Biharmonic"}
    rows = table_rows(dom, slug)
    assert [row[0] for row in rows] == [names[r["method"]] for r in
                                        sorted(results, key=lambda r: -r["metrics"]["psnr"])]
    for row in rows:
        res = next(r for r in results if names[r["method"]] == row[0])
        assert row[1] == f"{res['metrics']['psnr']:.2f}" and row[3] == f"{res['metrics']['ssim']:.3f}"
    # the comparison table in the paper's shape, with missing methods shown as —
    comp = {row[0]: row[1:] for row in table_rows(dom, slug.replace("-ranking", "-comparison"))}
    assert comp["PSNR (dB)"][1] == "—"  # PConv not run
    best = max(results, key=lambda r: r["metrics"]["psnr"])
    assert re.search(rf'<td[^>]*class="best"[^>]*><strong>{best["metrics"]["psnr"]:.2f}</strong>', dom)
    # the paper's numbers, in their own section
    paper = dom.split('<section class="paper" id="paper">')[1]
    assert "Reported by the paper (not measured here)" in paper and "unpublished, 1000 images" in paper
    t2 = {row[0]: row[1:] for row in table_rows(paper, "paper-table2")}
    assert t2["PSNR"][-1] == "35.69" and t2["FID"][4] == "5.33"
    assert "35.69" not in dom.split('<section class="paper"')[0]


def test_screenshot(site, tmp_path):
    out, _ = site
    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}",
                 (out / "index.html").as_uri())
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1280, 1600)
        colors = im.convert("RGB").resize((64, 80)).getcolors(64 * 80)
    assert colors is not None and len(colors) > 20  # not a blank page
    keep = os.environ.get("LEADERBOARD_SCREENSHOT")
    if keep:  # for a human to look at
        shutil.copyfile(shot, keep)
