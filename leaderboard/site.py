"""The static leaderboard web site: `bench leaderboard --format html --out DIR`.

Writes `DIR/index.html` (self-contained: inline CSS and a small inline script, no CDN, no server; open
it straight from disk), the plots under `DIR/plots/`, the comparison grids under `DIR/grids/`
(relative paths), and the machine-readable `leaderboard.csv`/`leaderboard.json` plus `leaderboard.md`.
Tables whose rows are methods sort by clicking a header. The paper's reported numbers have their own,
visibly separate section. A small script records on `<body data-images="loaded/total">` how many
images loaded (and marks broken ones), which the browser test reads.
"""

from __future__ import annotations

import html
from pathlib import Path

from dataset_tools import fileio
from dataset_tools.errors import UserError
from leaderboard import plots
from leaderboard.render import csv_report, html_body, json_report, markdown_report
from leaderboard.tables import Report

GENERATOR = "bench leaderboard (ipanda-occlusion-bench)"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem}
table.lb{border-collapse:collapse;margin:1rem 0 .3rem;font-size:.88rem}
table.lb caption{text-align:left;font-weight:600;padding:.3rem 0}
table.lb th,table.lb td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:right;white-space:nowrap}
table.lb th[scope=row]{text-align:left;font-weight:500}
table.lb thead th{background:#f2f2f2}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC"}
td.best{background:#e8f5e9}td.missing{color:#999}
p.note{font-size:.8rem;color:#555;margin:.1rem 0 .6rem}
p.warning{background:#fff3cd;padding:.4rem;border:1px solid #e0c97a}
section.paper{background:#f7f4ee;border:2px dashed #b59b6a;padding:0 1rem 1rem;margin-top:2.5rem}
section.paper table.lb thead th{background:#efe6d4}
p.paper-label{font-weight:600;color:#6b4f1d}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}
figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.8rem;color:#444}
img.broken{outline:3px solid red}
div.scroll{overflow-x:auto;max-width:100%}
"""

JS = """
(function(){
  function val(cell){var v=cell.getAttribute('data-value');if(v!==null&&v!==''){return [0,parseFloat(v)];}
    return [1,cell.textContent.trim().toLowerCase()];}
  function cmp(a,b){if(a[0]!==b[0]){return a[0]-b[0];}return a[1]<b[1]?-1:(a[1]>b[1]?1:0);}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var ths=table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths,function(th,col){
      th.addEventListener('click',function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        Array.prototype.forEach.call(ths,function(o){o.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(r1,r2){var a=val(r1.cells[col]),b=val(r2.cells[col]);
          if(a[0]!==b[0]){return a[0]-b[0];}var c=cmp(a,b);return asc?c:-c;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  function imageStatus(){
    var imgs=document.images,ok=0;
    for(var i=0;i<imgs.length;i++){
      if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}else{imgs[i].classList.add('broken');}
    }
    document.body.setAttribute('data-images',ok+'/'+imgs.length);
  }
  if(document.readyState==='complete'){imageStatus();}else{window.addEventListener('load',imageStatus);}
})();
"""


def page(body: str, title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"generator\" content=\"{html.escape(GENERATOR)}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
            f"<script>{JS}</script>\n</body>\n</html>\n")


def _figures_html(items: list[tuple[str, str]], heading: str) -> str:
    if not items:
        return ""
    e = html.escape
    out = [f"<h3>{e(heading)}</h3>", '<div class="figures">']
    for caption, rel in items:
        out.append(f'<figure><img src="{e(rel)}" alt="{e(caption)}" loading="eager">'
                   f"<figcaption>{e(caption)}</figcaption></figure>")
    out.append("</div>")
    return "\n".join(out)


def write_site(rep: Report, out: Path, data: Path | None = None, samples: list[str] | None = None) -> list[str]:
    """Write the site into `out`; returns warnings (e.g. grids skipped because --data is missing)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder (the html site is a folder)")
    index = out / "index.html"
    if out.is_dir() and any(out.iterdir()) and not (index.is_file() and GENERATOR in index.read_text(
            encoding="utf-8", errors="replace")[:2000]):
        raise UserError(f"--out {out} is a non-empty folder that is not a leaderboard site; choose another folder")
    warnings: list[str] = []
    written: set[Path] = set()
    ds = None
    if data is not None:
        from dataset_tools.dataset import BuiltDataset

        ds = BuiltDataset(data)
    elif rep.groups:
        warnings.append("no --data given: comparison grids (ground truth and occluded input) are left out")
    figures: dict[str, str] = {}
    for gr in rep.groups:
        items = []
        for caption, path in plots.bar_charts(gr, out / "plots") + plots.severity_plots(gr, out / "plots"):
            written.add(path)
            items.append((caption, path.relative_to(out).as_posix()))
        grid_items = []
        if ds is not None:
            if ds.fingerprint != gr.group.fingerprint:
                warnings.append(f"--data {data} is not the dataset of group {gr.group.slug} (fingerprint "
                                f"{gr.group.fingerprint[:12]}); its comparison grid is left out")
            else:
                from leaderboard.grids import comparison_grid

                grid = comparison_grid(gr, ds, out / "grids" / f"{gr.group.slug}-grid.png", samples)
                if grid is not None:
                    p = grid.path
                    written.add(p)
                    grid_items.append(("Ground truth, occluded input and each method's composited output",
                                       p.relative_to(out).as_posix()))
        figures[gr.group.slug] = _figures_html(grid_items, "Visual comparison") + _figures_html(items, "Plots")
    # stale figures from an earlier render of this site
    for sub in ("plots", "grids"):
        for p in (out / sub).glob("*.png") if (out / sub).is_dir() else ():
            if p not in written:
                p.unlink()
    rep_w = Report(rep.runs, rep.groups, rep.paper, rep.warnings + warnings)
    fileio.atomic_write_text(out / "leaderboard.csv", csv_report(rep_w))
    fileio.atomic_write_text(out / "leaderboard.json", json_report(rep_w))
    fileio.atomic_write_text(out / "leaderboard.md", markdown_report(rep_w))
    downloads = ('<p class="note">Machine-readable: <a href="leaderboard.csv">leaderboard.csv</a>, '
                 '<a href="leaderboard.json">leaderboard.json</a> (one row per run, every metric); '
                 '<a href="leaderboard.md">leaderboard.md</a> (these tables in markdown).</p>')
    fileio.atomic_write_text(index, page(html_body(rep_w, figures, downloads), "iPanda-50-occlusion leaderboard"))
    return warnings
