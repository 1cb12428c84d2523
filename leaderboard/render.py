"""Rendering a leaderboard `Report` as markdown, LaTeX, HTML (a page body), CSV or JSON.

markdown/latex/html carry the tables (per comparable group, then the paper's reported numbers in their
own section); csv/json are machine-readable with one row/object per run (method, variant, preset,
seed, dataset fingerprint, metric-settings hash and every metric). Output is deterministic: the same
run folders give the same bytes.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from leaderboard import paper as paper_numbers
from leaderboard.runs import Group
from leaderboard.tables import Cell, GroupReport, Report, Table

FORMATS = ("markdown", "csv", "latex", "html", "json")


# ---------------------------------------------------------------- markdown
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(c: Cell) -> str:
    t = _md_escape(c.text)
    return f"**{t}**" if c.bold else t


def markdown_table(t: Table, level: int = 3) -> str:
    out = [f"{'#' * level} {t.title}", ""]
    out.append("| " + " | ".join([_md_escape(t.corner)] + [_md_escape(c) for c in t.columns]) + " |")
    out.append("|" + "---|" + "---:|" * len(t.columns))
    for label, cells in t.rows:
        out.append("| " + " | ".join([_md_escape(label)] + [_md_cell(c) for c in cells]) + " |")
    out.append("")
    for n in t.notes:
        out.append(f"_{n}_" if not n.startswith("_") else n)
        out.append("")
    return "\n".join(out)


def settings_summary(settings: dict[str, Any]) -> str:
    def compact(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k}={compact(x)}" for k, x in sorted(v.items()))
        return json.dumps(v) if not isinstance(v, str) else v

    return "; ".join(f"{k}: {compact(v)}" for k, v in sorted(settings.items())) or "(not recorded)"


def settings_brief(settings: dict[str, Any]) -> str:
    """The settings that most often differ between benchmarks, in one line (full set: leaderboard.json)."""
    parts = []
    ssim, fid, kid = settings.get("ssim") or {}, settings.get("fid") or {}, settings.get("kid") or {}
    if settings.get("scored_on"):
        parts.append(f"scored on the {settings['scored_on']}")
    if ssim:
        parts.append("SSIM " + ", ".join(f"{k}={ssim[k]}" for k in ("window", "size", "sigma", "covariance") if k in ssim))
    if fid:
        sha = fid.get("inception_sha256")
        parts.append("FID " + ", ".join(str(x) for x in (fid.get("backend"), fid.get("version"),
                                                         f"{fid.get('dims')}-d" if fid.get("dims") else None,
                                                         f"weights sha256 {sha[:12]}" if sha else "no weights")
                                        if x))
    if kid:
        parts.append(f"KID subsets={kid.get('subsets')} x {kid.get('subset_size')}")
    return "; ".join(parts) if parts else settings_summary(settings)


def group_intro(g: Group) -> list[str]:
    ds = g.runs[0].dataset
    lines = [f"- Dataset: {ds.get('name', '?')} (fingerprint `{g.fingerprint}`), split `{g.split}`, "
             f"{g.runs[0].results.get('n', '?')} test images, {len(g.runs)} run(s)."]
    if g.synthetic:
        lines.append("- **Synthetic data**: these numbers are measured on procedurally generated images, "
                     "not on iPanda-50 photos.")
    lines.append(f"- Metric settings `{g.settings_hash}`: {settings_brief(g.settings)} (all settings: the json format).")
    return lines


def markdown_report(rep: Report) -> str:
    out = ["# iPanda-50-occlusion leaderboard", ""]
    n = len(rep.runs)
    out.append(f"{n} run(s) in {len(rep.groups)} comparable group(s). Runs on different datasets (fingerprints) "
               "or with different metric settings are never ranked together: each group has its own tables.")
    out.append("")
    for w in rep.warnings:
        out.append(f"> Warning: {w}")
        out.append("")
    if not rep.groups:
        out += ["_No valid runs found._", ""]
    for gr in rep.groups:
        out += [f"## {gr.group.heading}", ""] + group_intro(gr.group) + [""]
        out.append(markdown_table(gr.ablation))
        out.append(markdown_table(gr.comparison))
        out.append(markdown_table(gr.ranking))
        for t in gr.breakdowns:
            out.append(markdown_table(t, level=4))
        if gr.paired is not None:
            out.append(markdown_table(gr.paired))
    out += ["## Reported by the paper (not measured here)", "", f"Numbers {paper_numbers.LABEL}.",
            f"Source: {paper_numbers.SOURCE}.", ""]
    for t in rep.paper:
        out.append(markdown_table(t))
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------- LaTeX
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "—": "---", "Δ": r"$\Delta$", "–": "--", "±": r"$\pm$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(t: Table) -> str:
    cols = "l" + "r" * len(t.columns)
    out = [r"\begin{table}[ht]", r"\centering", r"\small", f"\\caption{{{latex_escape(t.title)}}}",
           f"\\begin{{tabular}}{{{cols}}}", r"\toprule",
           " & ".join([latex_escape(t.corner)] + [latex_escape(c) for c in t.columns]) + r" \\", r"\midrule"]
    for label, cells in t.rows:
        vals = [f"\\textbf{{{latex_escape(c.text)}}}" if c.bold else latex_escape(c.text) for c in cells]
        out.append(" & ".join([latex_escape(label)] + vals) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    for n in t.notes:
        out.append(f"\\par\\footnotesize {latex_escape(n)}")
    out += [r"\end{table}", ""]
    return "\n".join(out)


def latex_report(rep: Report) -> str:
    out = ["% iPanda-50-occlusion leaderboard (generated by `bench leaderboard`; needs \\usepackage{booktabs})", ""]
    for w in rep.warnings:
        out.append(f"% Warning: {w}")
    for gr in rep.groups:
        out += [f"% ---- {gr.group.heading}", f"\\subsection*{{{latex_escape(gr.group.heading)}}}", ""]
        for t in [gr.ablation, gr.comparison, gr.ranking, *gr.breakdowns] + ([gr.paired] if gr.paired else []):
            out.append(latex_table(t))
    out += ["% ---- Reported by the paper (not measured here)",
            f"\\subsection*{{Reported by the paper (not measured here)}}",
            latex_escape(f"Numbers {paper_numbers.LABEL}."), ""]
    for t in rep.paper:
        out.append(latex_table(t))
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------- HTML
def _sort_value(c: Cell) -> str:
    return "" if c.value is None else repr(float(c.value))


def html_table(t: Table, css_class: str = "measured") -> str:
    e = html.escape
    cls = f"lb {css_class}" + (" sortable" if t.sortable else "")
    out = [f'<div class="scroll"><table class="{cls}" id="{e(t.slug)}">', f"<caption>{e(t.title)}</caption>",
           "<thead><tr>"]
    out.append(f'<th scope="col">{e(t.corner)}</th>' + "".join(f'<th scope="col">{e(c)}</th>' for c in t.columns))
    out.append("</tr></thead><tbody>")
    for label, cells in t.rows:
        tds = []
        for c in cells:
            attrs = f' data-value="{_sort_value(c)}"'
            classes = [x for x, on in (("best", c.bold), ("missing", c.missing)) if on]
            if classes:
                attrs += f' class="{" ".join(classes)}"'
            if c.title:
                attrs += f' title="{e(c.title)}"'
            text = f"<strong>{e(c.text)}</strong>" if c.bold else e(c.text)
            tds.append(f"<td{attrs}>{text}</td>")
        out.append(f'<tr><th scope="row">{e(label)}</th>' + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    for n in t.notes:
        out.append(f'<p class="note">{e(n)}</p>')
    return "\n".join(out)


def html_group_section(gr: GroupReport, figures: str = "") -> str:
    e = html.escape
    g = gr.group
    out = [f'<section class="group" id="group-{e(g.slug)}">', f"<h2>{e(g.heading)}</h2>", "<ul>"]
    for line in group_intro(g):
        out.append(f"<li>{e(line[2:].replace('**', '').replace('`', ''))}</li>")
    out.append("</ul>")
    out.append("<details><summary>All metric settings of this group</summary><pre>"
               + e(json.dumps(g.settings, indent=2, sort_keys=True, default=str)) + "</pre></details>")
    for t in (gr.ablation, gr.comparison, gr.ranking):
        out.append(html_table(t))
    if figures:
        out.append(figures)
    if gr.breakdowns:
        out.append("<h3>Breakdowns</h3>")
        for t in gr.breakdowns:
            out.append(html_table(t))
    if gr.paired is not None:
        out.append("<h3>Significance</h3>")
        out.append(html_table(gr.paired))
    out.append("</section>")
    return "\n".join(out)


def html_paper_section(rep: Report) -> str:
    e = html.escape
    out = ['<section class="paper" id="paper">', "<h2>Reported by the paper (not measured here)</h2>",
           f'<p class="paper-label">Numbers {e(paper_numbers.LABEL)}.</p>', f"<p>Source: {e(paper_numbers.SOURCE)}.</p>"]
    for t in rep.paper:
        out.append(html_table(t, css_class="paper"))
    out.append("</section>")
    return "\n".join(out)


def html_body(rep: Report, figures: dict[str, str] | None = None, intro: str = "") -> str:
    e = html.escape
    out = ["<h1>iPanda-50-occlusion leaderboard</h1>", intro,
           f"<p>{len(rep.runs)} run(s) in {len(rep.groups)} comparable group(s). Runs on different datasets "
           "(fingerprints) or with different metric settings are never ranked together: each group has its own "
           "tables. Bold marks the best measured value (higher PSNR/SSIM, lower L1/FID/KID).</p>"]
    for w in rep.warnings:
        out.append(f'<p class="warning">Warning: {e(w)}</p>')
    if not rep.groups:
        out.append("<p>No valid runs found.</p>")
    for gr in rep.groups:
        out.append(html_group_section(gr, (figures or {}).get(gr.group.slug, "")))
    out.append(html_paper_section(rep))
    return "\n".join(out)


# ---------------------------------------------------------------- machine-readable
def run_records(rep: Report) -> list[dict[str, Any]]:
    return [r.record() for r in sorted(rep.runs, key=lambda r: (r.fingerprint, r.settings_hash, r.key, r.preset,
                                                                  r.seed if r.seed is not None else -1, r.path.name))]


def csv_report(rep: Report) -> str:
    recs = run_records(rep)
    buf = io.StringIO()
    if recs:
        w = csv.DictWriter(buf, fieldnames=list(recs[0]), lineterminator="\n")
        w.writeheader()
        for r in recs:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    else:
        buf.write("run,method,variant,entry,preset,seed,dataset_fingerprint\n")
    return buf.getvalue()


def json_report(rep: Report) -> str:
    from leaderboard import paper

    obj = {
        "runs": run_records(rep),
        "groups": [{"dataset_fingerprint": g.group.fingerprint, "split": g.group.split,
                    "metric_settings_hash": g.group.settings_hash, "metric_settings": g.group.settings,
                    "runs": sorted(r.path.name for r in g.group.runs)} for g in rep.groups],
        "paper_reported": {
            "label": paper.LABEL, "source": paper.SOURCE,
            "tables": [{"title": t.title, "columns": list(t.columns), "method_keys": list(t.keys),
                        "rows": {m: dict(zip(t.keys, vals)) for m, vals in t.rows}, "notes": list(t.notes)}
                       for t in paper.TABLES],
        },
        "warnings": rep.warnings,
    }
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def render(rep: Report, fmt: str) -> str:
    if fmt == "markdown":
        return markdown_report(rep)
    if fmt == "latex":
        return latex_report(rep)
    if fmt == "csv":
        return csv_report(rep)
    if fmt == "json":
        return json_report(rep)
    if fmt == "html":
        from leaderboard.site import page

        return page(html_body(rep), title="iPanda-50-occlusion leaderboard")
    raise ValueError(f"unknown format {fmt!r}")
