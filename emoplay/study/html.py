"""The report as one self-contained HTML file: inline CSS, plots embedded as PNG data, no script, no network."""

from __future__ import annotations

import base64
import datetime as _dt
from html import escape
from pathlib import Path

from .._events import EMOTIONS
from .._valence_arousal import VALENCE_AROUSAL


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            text = "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
            cells.append(f"<td>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1250px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; } th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.4em 0; }
.box { border-left: 4px solid #d95f02; background: #fff6ef; padding: 0.6em 1em; margin: 1em 0; }
.privacy { border-left: 4px solid #1b9e77; background: #effaf6; padding: 0.6em 1em; margin: 1em 0; }
.caption { color: #444; max-width: 60em; } section { margin-bottom: 2.5em; }
"""


def write_html(path: Path, *, study: str, title: str, participants: list[dict], left_out: list[dict],
               notes: list[str], stimuli: list[dict], summary_rows: list[dict], files: list[str],
               bin_width: float, test_rows: list[dict] = (), isc_rows: list[dict] = (), analysis=None) -> Path:
    """``stimuli``: per stimulus, {"id", "title", "plots": [(png path, caption)]}."""
    generated = _dt.datetime.now().astimezone().isoformat(sep=" ", timespec="minutes")
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{escape(title)} — emoplay study report</title><style>{_CSS}</style></head><body>",
             f"<h1>{escape(title)}</h1><p class='meta'>study <code>{escape(study)}</code> · "
             f"{len(participants)} participants · report made {escape(generated)} by <code>emoplay study "
             "report</code></p>",
             "<div class='privacy'><b>What this report holds.</b> Per video frame, the estimated probability of "
             "seven facial expressions for each participant, computed on the study computer while they watched; "
             "no image or video of any participant was stored, and none is in this report or its files. "
             "Participants appear under pseudonyms (P01, P02, … in the order they took part) unless the report "
             "was made with <code>--keep-ids</code>. Expressions are estimates of what a face shows, not of what "
             "a person feels.</div>"]
    if left_out or notes:
        parts.append("<div class='box'><b>Left out or incomplete</b>")
        if left_out:
            parts.append(" (logs are numbered in the order they were given to <code>emoplay study report</code>, "
                         "whose terminal output names their files)")
        parts.append("<ul>")
        parts += [f"<li>{escape(item['log'])} was left out: {escape(item['reason'])}.</li>" for item in left_out]
        parts += [f"<li>{escape(note)}</li>" for note in notes]
        parts.append("</ul></div>")
    parts.append("<h2>Participants</h2>")
    parts.append(_table(participants, [("label", "participant"), ("group", "group"), ("order", "order seen"),
                                       ("calibration", "calibration"), ("frames", "frames"),
                                       ("face_found_share", "share of frames with a face"),
                                       ("status", "log")]))
    parts.append("<h2>Summary per video and group</h2><p class='caption'>Mean probability: the mean over "
                 "participants of each participant's mean over the frames where their face was seen. Peak: the "
                 "non-neutral expression with the highest group mean in any time bin "
                 f"({bin_width:g} s), and the middle of that bin (neutral is left out: it dominates resting "
                 "faces).</p>")
    columns = [("stimulus_title", "video"), ("group", "group"), ("participants", "participants"),
               ("face_found_share", "face found"),
               *((f"mean_p_{e}", e) for e in EMOTIONS),
               ("peak_emotion", "peak"), ("peak_time_s", "peak at (s)"), ("peak_mean_p", "peak mean p")]
    parts.append(_table(summary_rows, columns))
    if analysis is not None:
        parts.append(_tests_section(test_rows, analysis, bin_width))
        parts.append(_isc_section(isc_rows, analysis))
    for stimulus in stimuli:
        parts.append(f"<section><h2>{escape(stimulus['title'])} <small>(<code>{escape(stimulus['id'])}</code>)"
                     "</small></h2>")
        for png, caption in stimulus["plots"]:
            parts.append(f"<p class='caption'>{escape(caption)}</p>{_image(png, caption)}")
        parts.append("</section>")
    coefficients = ", ".join(f"{e} ({v:+.1f}, {a:+.1f})" for e, (v, a) in VALENCE_AROUSAL.items())
    parts.append("<h2>Method</h2><ul>"
                 "<li>Media time is the playback time of the video shown, taken at the moment each camera frame "
                 "was captured; pauses (Esc) stop it.</li>"
                 "<li>A participant's value in a time bin is the mean over the frames in that bin where a face "
                 "was found; frames without a face are left out. Means across participants count each "
                 "participant once; SEM = standard deviation (n − 1) / √n, shown only for n ≥ 2.</li>"
                 "<li>Dominant expression: the one with the highest mean probability (per second for the "
                 "shares, per bin for the heatmap).</li>"
                 f"<li>Valence and arousal (in <code>frames.csv</code>): Σ p × coefficient, with (valence, "
                 f"arousal) per expression {escape(coefficients)} — a coarse position on Russell's circumplex, "
                 "not a measurement.</li>"
                 "<li>With calibration done, probabilities are relative to the participant's own relaxed face "
                 "(emoplay's calibration); otherwise they are the model's raw output. The participants table "
                 "says which.</li>"
                 "<li>The <code>_baseline</code> rows are the calibration step (relaxed face, no video).</li></ul>")
    parts.append("<h2>Files</h2><ul>" + "".join(f"<li><code>{escape(f)}</code></li>" for f in files) + "</ul>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _p(value) -> str | None:
    if value is None:
        return None
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _tests_section(rows: list[dict], analysis, bin_width: float) -> str:
    tests = analysis.tests
    baseline = analysis.baseline
    correction = next((r["correction"] for r in rows if r.get("correction")), None)
    intro = (f"<h2>Group comparisons</h2><p class='caption'>Each participant contributes one value per video and "
             f"expression: the <b>{escape(tests.measure)}</b> of their expression probability "
             f"(baseline: <b>{escape(baseline.label)}</b>; units: {escape(baseline.units)}). For each pair of groups: "
             "Welch's t test (no equal-variance assumption), Hedges' g (group A − group B, in pooled standard "
             f"deviations) with a {tests.level:.0%} percentile bootstrap interval ({tests.bootstrap} resamples, "
             f"seed {tests.seed}), and the p-value adjusted for the number of tests "
             f"({escape(correction or 'no test was run')}). At least {tests.min_per_group} participants per group "
             "are needed for a test. Differences are associations with group membership, not causes. All rows "
             "are in <code>group_tests.csv</code>.</p>")
    if not rows:
        return intro + "<p>Only one group: there is nothing to compare.</p>"
    shown = [dict(r, p_text=_p(r.get("p")), p_adjusted_text=_p(r.get("p_adjusted")),
                  ci=None if r.get("g_ci_low") is None else f"[{r['g_ci_low']:.2f}, {r['g_ci_high']:.2f}]")
             for r in rows]
    columns = [("stimulus", "video"), ("expression", "expression"), ("group_a", "group A"), ("group_b", "group B"),
               ("n_a", "n A"), ("n_b", "n B"), ("mean_a", "mean A"), ("mean_b", "mean B"), ("t", "t"), ("df", "df"),
               ("p_text", "p"), ("p_adjusted_text", "p adjusted"), ("hedges_g", "Hedges' g"), ("ci", "g interval"),
               ("note", "note")]
    return intro + _table(shown, columns)


def _isc_section(rows: list[dict], analysis) -> str:
    isc = analysis.isc
    intro = ("<h2>Inter-subject correlation</h2><p class='caption'>How much the participants' time courses of "
             "each expression moved together over a video: the mean over participants of Pearson's r between "
             "their time course (bin means) and the mean time course of all the others. p: the share of "
             f"{isc.permutations} ISCs with each participant's time course circularly shifted by a random offset "
             f"(seed {isc.seed}) that reach the observed one; null 95: the 95th percentile of those. Each video's "
             "plot is in its section below; all rows are in <code>isc.csv</code>.</p>")
    shown = [dict(r, p_text=_p(r.get("p"))) for r in rows]
    columns = [("stimulus", "video"), ("expression", "expression"), ("group", "group"), ("n", "n"), ("isc", "ISC"),
               ("p_text", "p"), ("null_95", "null 95"), ("note", "note")]
    return intro + _table(shown, columns)
