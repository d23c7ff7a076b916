"""Write an evaluation report as JSON, Markdown and HTML (inline SVG charts), and compare two reports."""

from __future__ import annotations

import html
import json
import os
import math
from pathlib import Path
from typing import Any

from evals.metrics import percentile


class ReportError(ValueError):
    """A report path that cannot be read."""


# -- formatting ------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def ratio(x: float | None) -> str:
    return "—" if x is None else f"×{x:.2f}"


def _count(x: Any) -> str:
    return "—" if x is None else str(x)


def metric_rows(agg: dict[str, Any], k: int) -> list[tuple[str, str]]:
    r, a, c, s, lat = agg["retrieval"], agg["answer"], agg["citations"], agg["safety"], agg["latency"]
    t = agg.get("outcomes") or {}  # absent from reports written before outcome tables existed
    return [
        ("questions", str(agg["questions"])),
        ("passed (every check)", pct(agg["passed"])),
        ("retrieval: recall@1", pct(r["recall_at_1"])),
        ("retrieval: recall@3", pct(r["recall_at_3"])),
        (f"retrieval: recall@{k}", pct(r["recall_at_k"])),
        ("retrieval: MRR", num(r["mrr"])),
        ("answer: fact recall", pct(a["fact_recall"])),
        ("answer: questions with every fact", pct(a["all_facts"])),
        ("citations: coverage (sentences with a citation)", pct(c["coverage"])),
        ("citations: support (citation's passage holds the sentence)", pct(c["support"])),
        ("citations: unsupported", str(c["unsupported"])),
        ("citations: to passages not retrieved", str(c["not_retrieved"])),
        ("outcomes: answers with a table", _count(t.get("answers_with_table"))),
        (f"outcomes: table present ({_count(t.get('table_questions'))} questions that require one)",
         pct(t.get("table_present"))),
        ("outcomes: table rows", _count(t.get("rows"))),
        ("outcomes: row support (every number of the row in its cited passage)", pct(t.get("row_support"))),
        ("outcomes: rows citing an unknown source", _count(t.get("rows_unknown_citation"))),
        ("outcomes: conflicts shown", _count(t.get("conflicts"))),
        ("outcomes: conflicts citing two or more documents", pct(t.get("conflict_provenance"))),
        (f"safety: guardrail recall ({s['combination_questions']} combination questions)", pct(s["guardrail_recall"])),
        (f"safety: false alarms ({s['non_combination_questions']} questions that must not warn prominently)",
         pct(s["false_alarm_rate"])),
        ("safety: notice present", pct(s["notice_present"])),
        ("safety: notice cites the label passage", pct(s["notice_cited"])),
        ("safety: notice placement", pct(s["notice_placement_ok"])),
        (f"safety: off-label flag ({_count(s.get('off_label_questions'))} combination questions)",
         pct(s.get("off_label_flag"))),
        (f"safety: abstention accuracy ({s['abstention_questions']} questions)", pct(s["abstention_accuracy"])),
        ("latency: p50", "—" if lat["p50_ms"] is None else f"{lat['p50_ms']:.0f} ms"),
        ("latency: p95", "—" if lat["p95_ms"] is None else f"{lat['p95_ms']:.0f} ms"),
        ("throughput", "—" if lat["throughput_qps"] is None else f"{lat['throughput_qps']:.2f} questions/s"),
    ]


def _per_set_table(report: dict[str, Any]) -> list[str]:
    k = report["k"]
    head = ["set", "n", "passed", f"recall@{k}", "MRR", "fact recall", "coverage", "support",
            "guardrail recall", "off-label flag", "table rows", "row support", "abstention acc.", "p50 ms"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, agg in [*report["per_set"].items(), ("**overall**", report["overall"])]:
        rows.append("| " + " | ".join([
            name, str(agg["questions"]), pct(agg["passed"]), pct(agg["retrieval"]["recall_at_k"]),
            num(agg["retrieval"]["mrr"]), pct(agg["answer"]["fact_recall"]), pct(agg["citations"]["coverage"]),
            pct(agg["citations"]["support"]), pct(agg["safety"]["guardrail_recall"]),
            pct(agg["safety"].get("off_label_flag")), _count((agg.get("outcomes") or {}).get("rows")),
            pct((agg.get("outcomes") or {}).get("row_support")), pct(agg["safety"]["abstention_accuracy"]),
            "—" if agg["latency"]["p50_ms"] is None else f"{agg['latency']['p50_ms']:.0f}",
        ]) + " |")
    return rows


def _baseline_table(report: dict[str, Any]) -> list[str]:
    b = report["baseline"]
    k = report["k"]
    rows = ["| set | n | metric | ours | baseline | ours / baseline |", "|---|---|---|---|---|---|"]
    for name, summ in [*b["per_set"].items(), ("**overall**", b["overall"])]:
        for key, label in (("recall_at_1", "recall@1"), ("recall_at_3", "recall@3"),
                           ("recall_at_k", f"recall@{k}"), ("mrr", "MRR")):
            v = summ[key]
            fmt = num if key == "mrr" else pct
            rows.append(f"| {name} | {summ['questions']} | {label} | {fmt(v['ours'])} | {fmt(v['baseline'])} | "
                        f"{ratio(v['ratio'])} |")
    return rows


def _problems(record: dict[str, Any]) -> list[str]:
    """Details of a question's failed checks: unsupported citations, table rows and conflicts."""
    m = record["metrics"]
    return [*m["unsupported"], *m.get("unsupported_rows", []),
            *(f"conflict {c}" for c in m.get("single_doc_conflicts", []))]


# -- Markdown --------------------------------------------------------------------------------------


def to_markdown(report: dict[str, Any]) -> str:
    k = report["k"]
    t = report["timing"]
    out = [
        f"# Evaluation report {report['created'][:10]} · settings {report['fingerprint']}",
        "",
        f"{report['status']}",
        "",
        "Answers written by: " + (", ".join(f"{g} ({n})" for g, n in report.get("generators", {}).items()) or "—"),
        "",
        "Sets: " + ", ".join(f"{s['name']} ({s['questions']})" for s in report["sets"]) + ". "
        f"Retrieval metrics count the top {k} passages the retriever returned (the label passage the "
        "guardrail appends is left out). "
        f"Time: {t['total_s']:.1f} s in all (loading {t['load_s']:.1f} s, questions {t['questions_s']:.1f} s, "
        f"baseline {t['baseline_s']:.1f} s).",
        "",
        "## Gates",
        "",
        *[f"- {'✅' if ok else '❌'} {name}" for name, ok in report["gates"]["checks"].items()],
        "",
        "## Overall",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {a} | {b} |" for a, b in metric_rows(report["overall"], k)],
        "",
        "## Per set",
        "",
        *_per_set_table(report),
        "",
    ]
    if report.get("baseline"):
        out += [
            "## Baseline",
            "",
            f"{report['baseline']['name']} ({report['baseline']['nodes']} nodes; the question alone, no chat "
            "history). Same questions, same k, same embedder.",
            "",
            *_baseline_table(report),
            "",
        ]
    sf = report.get("scifact")
    if sf:
        out += ["## SciFact (optional retrieval set)", ""]
        if sf.get("skipped"):
            out += [sf["skipped"], ""]
        else:
            out += [
                f"{sf['claims']} claims (train split, with evidence) over {sf['documents']} abstracts "
                f"({sf['chunks']} chunks): evidence-document recall and MRR.",
                "",
                f"| retriever | recall@1 | recall@{k} | MRR |",
                "|---|---|---|---|",
                *[f"| {label} | {pct(sf[key]['recall_at_1'])} | {pct(sf[key]['recall_at_k'])} | "
                  f"{num(sf[key]['mrr'])} |" for key, label in (("hybrid", "ours: BM25 + dense"),
                                                               ("dense_only", "dense only"))],
                "",
            ]
    failed = [r for r in report["questions"] if not r["passed"]]
    out += [f"## Questions that failed ({len(failed)} of {len(report['questions'])})", ""]
    for r in failed:
        out += [f"### {r['key']}: {r['question']}", ""]
        if r["history"]:
            out.append("History: " + " / ".join(f"{h['role']}: {h['content']}" for h in r["history"]))
            out.append("")
        out += [f"- {f}" for f in r["failures"]]
        for u in _problems(r):
            out.append(f"  - {u}")
        out.append(f"- retrieved documents: {', '.join(d or '?' for d in r['ranked_docs'])}")
        out.append("")
        text = r["answer"].get("text") or r["answer"].get("error", "")
        out += ["<details><summary>answer</summary>", "", *["    " + line for line in text.splitlines()], "",
                "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


# -- SVG charts ------------------------------------------------------------------------------------

COLOURS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096", "#319795")


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def svg_hbars(items: list[tuple[str, float | None]], *, title: str, vmax: float = 1.0, fmt=pct) -> str:  # type: ignore[no-untyped-def]
    """Horizontal bars, one per (label, value); None is drawn as an empty bar marked '—'."""
    label_w, bar_w, row_h, top = 300, 360, 22, 30
    h = top + row_h * len(items) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 80}" height="{h}" role="img" '
             f'aria-label="{_esc(title)}">', f'<text x="4" y="18" font-weight="bold">{_esc(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        w = 0 if value is None or vmax <= 0 else max(0.0, min(1.0, value / vmax)) * bar_w
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_esc(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="#edf2f7"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{COLOURS[0]}">'
                     f'<title>{_esc(label)}: {_esc(fmt(value))}</title></rect>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}" font-size="12">{_esc(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_grouped_bars(groups: list[str], series: list[tuple[str, list[float | None]]], *, title: str,
                     vmax: float = 1.0, fmt=pct) -> str:  # type: ignore[no-untyped-def]
    """Vertical grouped bars: one group per label, one bar per series, with a legend."""
    plot_h, bar_w, gap, left, top = 180, 16, 18, 40, 50
    group_w = bar_w * len(series) + gap
    width = left + group_w * len(groups) + 20
    height = top + plot_h + 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(width, 420)}" height="{height}" role="img" '
             f'aria-label="{_esc(title)}">', f'<text x="4" y="18" font-weight="bold">{_esc(title)}</text>']
    for j, (name, _) in enumerate(series):
        x = 4 + j * 150
        parts.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="37" font-size="11">{_esc(name)}</text>')
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h - tick * plot_h
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
                     f'{_esc(fmt(tick * vmax))}</text>')
    for i, group in enumerate(groups):
        gx = left + 8 + i * group_w
        for j, (name, values) in enumerate(series):
            v = values[i]
            hgt = 0 if v is None or vmax <= 0 else max(0.0, min(1.0, v / vmax)) * plot_h
            parts.append(f'<rect x="{gx + j * bar_w}" y="{top + plot_h - hgt:.1f}" width="{bar_w - 2}" '
                         f'height="{hgt:.1f}" fill="{COLOURS[j % len(COLOURS)]}"><title>{_esc(group)} · '
                         f'{_esc(name)}: {_esc(fmt(v))}</title></rect>')
        cx = gx + bar_w * len(series) / 2
        parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" font-size="11" '
                     f'transform="rotate(-30 {cx:.1f} {top + plot_h + 14})">{_esc(group)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(values: list[float], *, title: str, bins: int = 20, unit: str = "ms") -> str:
    """Histogram of values with p50/p95 marked."""
    width, plot_h, left, top = 640, 160, 40, 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 20}" height="{top + plot_h + 40}" '
             f'role="img" aria-label="{_esc(title)}">', f'<text x="4" y="18" font-weight="bold">{_esc(title)}</text>']
    if not values:
        parts.append('<text x="40" y="60">no data</text></svg>')
        return "".join(parts)
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    cmax = max(counts)
    bw = (width - left) / bins
    for i, c in enumerate(counts):
        hgt = c / cmax * plot_h
        parts.append(f'<rect x="{left + i * bw:.1f}" y="{top + plot_h - hgt:.1f}" width="{bw - 1:.1f}" '
                     f'height="{hgt:.1f}" fill="{COLOURS[0]}"><title>{lo + i * step:.0f}–{lo + (i + 1) * step:.0f} '
                     f'{unit}: {c}</title></rect>')
    for q, colour in ((0.5, COLOURS[2]), (0.95, COLOURS[1])):
        v = percentile(values, q) or 0.0
        x = left + (v - lo) / (hi - lo) * (width - left)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{colour}" '
                     f'stroke-width="2" stroke-dasharray="4 2"/><text x="{x + 3:.1f}" y="{top + 10}" '
                     f'font-size="11" fill="{colour}">p{int(q * 100)} {v:.0f} {unit}</text>')
    parts.append(f'<text x="{left}" y="{top + plot_h + 16}" font-size="11">{lo:.0f} {unit}</text>'
                 f'<text x="{width}" y="{top + plot_h + 16}" font-size="11" text-anchor="end">{hi:.0f} {unit}</text>'
                 f'<text x="4" y="{top + 12}" font-size="10">{cmax}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- HTML ------------------------------------------------------------------------------------------


def _html_table(rows: list[list[str]], head: list[str]) -> str:
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: dict[str, Any]) -> str:
    k = report["k"]
    o = report["overall"]
    overall_bars = svg_hbars([
        ("passed", o["passed"]), (f"recall@{k}", o["retrieval"]["recall_at_k"]), ("MRR", o["retrieval"]["mrr"]),
        ("fact recall", o["answer"]["fact_recall"]), ("citation coverage", o["citations"]["coverage"]),
        ("citation support", o["citations"]["support"]), ("guardrail recall", o["safety"]["guardrail_recall"]),
        ("off-label flag", o["safety"].get("off_label_flag")),
        ("outcome row support", (o.get("outcomes") or {}).get("row_support")),
        ("conflicts citing two documents", (o.get("outcomes") or {}).get("conflict_provenance")),
        ("notice present", o["safety"]["notice_present"]),
        ("abstention accuracy", o["safety"]["abstention_accuracy"]),
    ], title="Overall")
    names = list(report["per_set"])
    per_set = svg_grouped_bars(names, [
        ("passed", [report["per_set"][n]["passed"] for n in names]),
        ("fact recall", [report["per_set"][n]["answer"]["fact_recall"] for n in names]),
        (f"recall@{k}", [report["per_set"][n]["retrieval"]["recall_at_k"] for n in names]),
        ("MRR", [report["per_set"][n]["retrieval"]["mrr"] for n in names]),
        ("support", [report["per_set"][n]["citations"]["support"] for n in names]),
        ("guardrail", [report["per_set"][n]["safety"]["guardrail_recall"] for n in names]),
        ("off-label flag", [report["per_set"][n]["safety"].get("off_label_flag") for n in names]),
        ("row support", [(report["per_set"][n].get("outcomes") or {}).get("row_support") for n in names]),
    ], title="Per set")
    latencies = [r["latency_ms"] for r in report["questions"] if r.get("latency_ms") is not None]
    hist = svg_histogram(latencies, title=f"Answer latency ({len(latencies)} questions)")
    sections = [
        f"<h1>Evaluation report {_esc(report['created'][:10])} · settings {_esc(report['fingerprint'])}</h1>",
        f"<p>{_esc(report['status'])}</p>",
        f"<p>Total time {report['timing']['total_s']:.1f} s. Gates: "
        + ", ".join(f"{'✅' if ok else '❌'} {_esc(n)}" for n, ok in report["gates"]["checks"].items()) + "</p>",
        overall_bars,
        _html_table([[a, b] for a, b in metric_rows(o, k)], ["metric", "value"]),
        "<h2>Per set</h2>", per_set,
        _html_table([[c.strip() for c in row.strip("|").split("|")] for row in _per_set_table(report)[2:]],
                    [c.strip() for c in _per_set_table(report)[0].strip("|").split("|")]),
    ]
    if report.get("baseline"):
        b = report["baseline"]["overall"]
        keys = (("recall_at_1", "recall@1"), ("recall_at_3", "recall@3"), ("recall_at_k", f"recall@{k}"),
                ("mrr", "MRR"))
        sections += [
            "<h2>Baseline</h2>", f"<p>{_esc(report['baseline']['name'])} ({report['baseline']['nodes']} nodes)</p>",
            svg_grouped_bars([label for _, label in keys], [
                ("ours", [b[key]["ours"] for key, _ in keys]),
                ("stock llama-index", [b[key]["baseline"] for key, _ in keys]),
            ], title="Retrieval: ours vs stock baseline"),
            _html_table([[c.strip() for c in row.strip("|").split("|")] for row in _baseline_table(report)[2:]],
                        ["set", "n", "metric", "ours", "baseline", "ours / baseline"]),
        ]
    sf = report.get("scifact")
    if sf:
        sections.append("<h2>SciFact (optional)</h2>")
        if sf.get("skipped"):
            sections.append(f"<p>{_esc(sf['skipped'])}</p>")
        else:
            sections.append(svg_grouped_bars(["recall@1", f"recall@{k}", "MRR"], [
                ("BM25 + dense", [sf["hybrid"]["recall_at_1"], sf["hybrid"]["recall_at_k"], sf["hybrid"]["mrr"]]),
                ("dense only", [sf["dense_only"]["recall_at_1"], sf["dense_only"]["recall_at_k"],
                                sf["dense_only"]["mrr"]]),
            ], title=f"SciFact: {sf['claims']} claims, {sf['documents']} abstracts"))
    sections += ["<h2>Latency</h2>", hist, "<h2>Questions</h2>"]
    rows = []
    for r in report["questions"]:
        status = "✅" if r["passed"] else "❌"
        text = r["answer"].get("text") or r["answer"].get("error", "")
        fails = "".join(f"<li>{_esc(f)}</li>" for f in r["failures"] + _problems(r))
        rows.append(
            f"<details{' open' if not r['passed'] else ''}><summary>{status} <b>{_esc(r['key'])}</b> "
            f"{_esc(r['question'])}</summary><ul>{fails}</ul><pre>{_esc(text)}</pre></details>"
        )
    sections += rows
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #cbd5e0;padding:3px 8px;"
             "font-size:13px;text-align:left}pre{white-space:pre-wrap;background:#f7fafc;padding:8px}"
             "svg{display:block;margin:1em 0}summary{cursor:pointer}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evaluation "
            f"{_esc(report['fingerprint'])}</title><style>{style}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def write_report(report: dict[str, Any], folder: Path | str) -> dict[str, str]:
    """report.json, report.md and report.html in folder; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"folder": str(folder), "json": str(folder / "report.json"), "markdown": str(folder / "report.md"),
             "html": str(folder / "report.html")}
    report["files"] = files
    _write_atomic(Path(files["json"]), json.dumps(report, ensure_ascii=False, indent=1, allow_nan=False))
    _write_atomic(Path(files["markdown"]), to_markdown(report))
    _write_atomic(Path(files["html"]), to_html(report))
    return files


def _write_atomic(path: Path, text: str) -> None:
    """Write then rename, so a killed run never leaves half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- compare ---------------------------------------------------------------------------------------


def load_report(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no report.json there (give a report.json file or a results folder)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{p}: not a report ({exc})") from None
    if not isinstance(data, dict) or "questions" not in data or "overall" not in data:
        raise ReportError(f"{p}: not an evaluation report (no 'questions' or 'overall')")
    return data


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


# Per-question measures compared between reports: (label, getter, higher is better).
_QUESTION_MEASURES = (
    ("passed", lambda r: float(r["passed"])),
    ("fact recall", lambda r: r["metrics"]["fact_recall"]),
    ("recall@k", lambda r: r["metrics"]["recall_at_k"]),
    ("reciprocal rank", lambda r: r["metrics"]["rr"]),
    ("citation support", lambda r: r["metrics"]["support"]),
    ("citation coverage", lambda r: r["metrics"]["coverage"]),
    ("guardrail", lambda r: None if r["metrics"]["guardrail_ok"] is None else float(r["metrics"]["guardrail_ok"])),
    ("off-label flag", lambda r: _flag(r["metrics"].get("off_label_ok"))),  # .get: older reports lack these
    ("outcome row support", lambda r: r["metrics"].get("row_support")),
    ("outcome table", lambda r: _flag(r["metrics"].get("table_ok"))),
    ("abstention", lambda r: None if r["metrics"]["abstain_ok"] is None else float(r["metrics"]["abstain_ok"])),
)

_OVERALL_MEASURES = (
    ("passed", ("passed",), True),
    ("recall@k", ("retrieval", "recall_at_k"), True),
    ("MRR", ("retrieval", "mrr"), True),
    ("fact recall", ("answer", "fact_recall"), True),
    ("citation coverage", ("citations", "coverage"), True),
    ("citation support", ("citations", "support"), True),
    ("citations to unretrieved passages", ("citations", "not_retrieved"), False),
    ("guardrail recall", ("safety", "guardrail_recall"), True),
    ("off-label flag", ("safety", "off_label_flag"), True),
    ("false alarm rate", ("safety", "false_alarm_rate"), False),
    ("notice present", ("safety", "notice_present"), True),
    ("abstention accuracy", ("safety", "abstention_accuracy"), True),
    ("outcome table present", ("outcomes", "table_present"), True),
    ("outcome row support", ("outcomes", "row_support"), True),
    ("outcome rows citing an unknown source", ("outcomes", "rows_unknown_citation"), False),
    ("conflicts citing two or more documents", ("outcomes", "conflict_provenance"), True),
    ("latency p50 ms", ("latency", "p50_ms"), False),
    ("latency p95 ms", ("latency", "p95_ms"), False),
)


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _fmt_value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) <= 1 else f"{v:.1f}"
    return str(v)


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Structured comparison: overall deltas and the questions that got better or worse."""
    overall = []
    for label, path, higher in _OVERALL_MEASURES:
        a, b = _get(old["overall"], path), _get(new["overall"], path)
        delta = None if a is None or b is None else b - a
        verdict = "same"
        if delta is not None and not math.isclose(delta, 0.0, abs_tol=1e-9):
            verdict = "better" if (delta > 0) == higher else "worse"
            if label.startswith("latency"):  # timing noise: only a 10% change counts
                verdict = verdict if a and abs(delta) / a >= 0.10 else "same"
        overall.append({"metric": label, "old": a, "new": b, "delta": delta, "verdict": verdict})
    old_q = {r["key"]: r for r in old["questions"]}
    new_q = {r["key"]: r for r in new["questions"]}
    better, worse = [], []
    for key in [k for k in new_q if k in old_q]:
        a, b = old_q[key], new_q[key]
        changes = []
        for label, getter in _QUESTION_MEASURES:
            va, vb = getter(a), getter(b)
            if va is None or vb is None or math.isclose(va, vb, abs_tol=1e-9):
                continue
            changes.append((label, va, vb))
        ups = [c for c in changes if c[2] > c[1]]
        downs = [c for c in changes if c[2] < c[1]]
        entry = {"key": key, "question": b["question"], "changes": changes,
                 "failures_old": a["failures"], "failures_new": b["failures"]}
        if downs:
            worse.append(entry)
        elif ups:
            better.append(entry)
    return {
        "overall": overall, "better": better, "worse": worse,
        "added": sorted(set(new_q) - set(old_q)), "removed": sorted(set(old_q) - set(new_q)),
    }


def compare(old_path: Path | str, new_path: Path | str) -> str:
    """Markdown: what got better or worse between two reports, overall and question by question."""
    old, new = load_report(old_path), load_report(new_path)
    diff = compare_reports(old, new)
    out = [
        f"# Comparison: {old.get('created', '?')[:19]} ({old.get('fingerprint', '?')}) → "
        f"{new.get('created', '?')[:19]} ({new.get('fingerprint', '?')})",
        "",
    ]
    changed_settings = {k: (old.get("settings", {}).get(k), v) for k, v in new.get("settings", {}).items()
                        if old.get("settings", {}).get(k) != v}
    if changed_settings:
        out += ["Settings changed: " + ", ".join(f"{k} {a!r} → {b!r}" for k, (a, b) in changed_settings.items()), ""]
    out += ["| metric | old | new | change |", "|---|---|---|---|"]
    marks = {"better": "▲ better", "worse": "▼ worse", "same": ""}
    for row in diff["overall"]:
        out.append(f"| {row['metric']} | {_fmt_value(row['old'])} | {_fmt_value(row['new'])} | "
                   f"{marks[row['verdict']]} |")
    out.append("")

    def block(title: str, entries: list[dict[str, Any]]) -> None:
        out.append(f"## {title} ({len(entries)})")
        out.append("")
        for e in entries:
            what = ", ".join(f"{label} {_fmt_value(a)} → {_fmt_value(b)}" for label, a, b in e["changes"])
            out.append(f"- **{e['key']}** {e['question']}: {what}")
            if e["failures_new"]:
                out.append(f"  - now: {'; '.join(e['failures_new'])}")
        out.append("")

    block("Worse", diff["worse"])
    block("Better", diff["better"])
    if diff["added"]:
        out += [f"Questions only in the new report: {', '.join(diff['added'])}", ""]
    if diff["removed"]:
        out += [f"Questions only in the old report: {', '.join(diff['removed'])}", ""]
    return "\n".join(out).rstrip() + "\n"
