"""The report's statistics on synthetic studies with a known effect, written as real encrypted logs.

participant_summary.csv is recomputed by hand from frames.csv, group_tests.csv from participant_summary.csv
(with the t distribution by numerical integration), and a study where one group smiles more at video B must
show that effect with the size it was made with. A null study repeated over many seeds must give uniform
p-values, with the false-positive rate at alpha within its binomial bounds.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict

import numpy as np
import pytest

import emoplay
import emoplay.sessionlog
from emoplay.cli import main
from emoplay.study import build_report
from emoplay.study.baseline import BaselineOptions
from emoplay.study.group_tests import ComparisonOptions, group_tests
from emoplay.study.isc import IscOptions
from emoplay.study.report import AnalysisOptions
from emoplay.study.summaries import OnsetRule, participant_summaries
from tests.study.synthetic import Design, series_study, write_study
from tests.study.test_statistics import _t_two_sided_by_integration

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

EMOTIONS = emoplay.EMOTIONS
KNOWN = Design(per_group=20, effect=0.10, level_sd=0.05)  # one group smiles more at B: true d = 0.10 / 0.05 = 2


def _read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    folder = tmp_path_factory.mktemp("known")
    key = emoplay.sessionlog.LogKey.from_bytes(bytes(range(32)))
    logs = write_study(folder, key, KNOWN, seed=1)
    out = {}
    for name, baseline in (("none", BaselineOptions()), ("pre", BaselineOptions("pre-stimulus")),
                           ("calibration", BaselineOptions("calibration", "percent"))):
        out[name] = folder / name
        build_report(logs, key, out[name], plots=False,
                     analysis=AnalysisOptions(baseline=baseline, isc=IscOptions(permutations=199),
                                              formats=("bids",) if name == "none" else ()))
    return {"out": out, "logs": logs, "key": key, "folder": folder}


def _frames_by_hand(rows: list[dict]) -> dict:
    """(participant, stimulus) -> [(media time, probabilities or None)]."""
    table = defaultdict(list)
    for r in rows:
        p = [float(r[f"p_{e}"]) for e in EMOTIONS] if r["face_found"] == "True" else None
        table[(r["participant"], r["stimulus"])].append((float(r["media_time_s"]), p))
    return table


def _summary_by_hand(frames, base, percent, width=0.5, played=KNOWN.seconds, rule=OnsetRule()):
    """The participant_summary definitions, in loops over one participant's frames of one stimulus."""
    def corrected(p, k):
        return 100 * (p[k] - base[k]) / base[k] if percent else p[k] - base[k]

    face = [p for _, p in frames if p is not None]
    n_bins = math.ceil(played / width - 1e-9)
    bins = [[] for _ in range(n_bins)]
    for t, p in frames:
        if p is not None:
            bins[min(int(t // width), n_bins - 1)].append(p)
    out = {}
    for k, e in enumerate(EMOTIONS):
        means = [statistics.fmean(p[k] for p in b) if b else None for b in bins]
        values = [None if m is None else (100 * (m - base[k]) / base[k] if percent else m - base[k]) for m in means]
        known_at = [i for i, v in enumerate(values) if v is not None]
        filled = []
        for i, v in enumerate(values):
            if v is None:
                before = max((j for j in known_at if j < i), default=None)
                after = min((j for j in known_at if j > i), default=None)
                if before is None or after is None:
                    v = values[after if before is None else before]
                else:
                    v = values[before] + (values[after] - values[before]) * (i - before) / (after - before)
            filled.append(v)
        peak_bin = max(known_at, key=lambda i: values[i])
        need, run, onset = math.ceil(rule.seconds / width), 0, None
        for i, m in enumerate(means):
            run = run + 1 if m is not None and m - base[k] >= rule.rise else 0
            if run == need and onset is None:
                onset = (i - need + 1) * width
        out[e] = {"mean": statistics.fmean(corrected(p, k) for p in face), "peak": values[peak_bin],
                  "peak_time_s": (peak_bin + 0.5) * width, "auc": sum(filled) * width,
                  "dominant_share": sum(max(range(7), key=p.__getitem__) == k for p in face) / len(face),
                  "onset_s": onset, "face_found_share": len(face) / len(frames)}
    return out


@pytest.mark.parametrize("name", ["none", "pre", "calibration"])
def test_participant_summaries_match_a_computation_by_hand(known, name):
    out = known["out"][name]
    frames = _frames_by_hand(_read(out / "frames.csv"))
    rows = _read(out / "participant_summary.csv")
    label = {"none": "none", "pre": "pre-stimulus, difference", "calibration": "calibration, percent"}[name]
    assert {r["baseline"] for r in rows} == {label}
    assert len(rows) == 40 * 2 * 7
    checked = 0
    for participant, stimulus in sorted({(r["participant"], r["stimulus"]) for r in rows})[::7]:
        segment = {"none": None, "pre": f"_pre-{stimulus}", "calibration": "_baseline"}[name]
        base = [0.0] * 7 if segment is None else [statistics.median(p[k] for _, p in frames[(participant, segment)]
                                                                     if p is not None) for k in range(7)]
        expected = _summary_by_hand(frames[(participant, stimulus)], base, percent=name == "calibration")
        for r in (r for r in rows if r["participant"] == participant and r["stimulus"] == stimulus):
            want = expected[r["expression"]]
            assert float(r["baseline_p"]) == pytest.approx(base[EMOTIONS.index(r["expression"])], abs=1e-12)
            for column in ("mean", "peak", "peak_time_s", "auc", "dominant_share", "face_found_share"):
                assert float(r[column]) == pytest.approx(want[column], rel=1e-9, abs=1e-9), column
            assert _number(r["onset_s"]) == (None if want["onset_s"] is None else pytest.approx(want["onset_s"]))
            checked += 1
    assert checked >= 70
    if name != "none":  # without a baseline, every expression starts above the rise
        assert any(r["onset_s"] for r in rows) and not all(r["onset_s"] for r in rows)


def _holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=p.__getitem__)
    adjusted, running = [0.0] * len(p), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - k) * p[i]))
        adjusted[i] = running
    return adjusted


def test_group_tests_match_a_computation_by_hand(known):
    out = known["out"]["pre"]
    summaries = _read(out / "participant_summary.csv")
    tests = _read(out / "group_tests.csv")
    assert len(tests) == 2 * 7 and {(r["group_a"], r["group_b"]) for r in tests} == {("young", "old")}
    assert {r["baseline"] for r in tests} == {"pre-stimulus, difference"} and {r["measure"] for r in tests} == {"mean"}
    ps = []
    for row in tests:
        values = {g: [float(s["mean"]) for s in summaries if s["stimulus"] == row["stimulus"]
                      and s["expression"] == row["expression"] and s["group"] == g] for g in ("young", "old")}
        a, b = values["young"], values["old"]
        va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
        t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
        pooled = math.sqrt(((len(a) - 1) * statistics.variance(a) + (len(b) - 1) * statistics.variance(b))
                           / (len(a) + len(b) - 2))
        g = (1 - 3 / (4 * (len(a) + len(b)) - 9)) * (statistics.fmean(a) - statistics.fmean(b)) / pooled
        assert (int(row["n_a"]), int(row["n_b"])) == (len(a), len(b)) == (20, 20)
        assert float(row["t"]) == pytest.approx(t, rel=1e-9)
        assert float(row["df"]) == pytest.approx(df, rel=1e-9)
        assert float(row["p"]) == pytest.approx(_t_two_sided_by_integration(t, df), abs=1e-9)
        assert float(row["hedges_g"]) == pytest.approx(g, rel=1e-9)
        assert float(row["g_ci_low"]) < float(row["hedges_g"]) < float(row["g_ci_high"])
        ps.append(float(row["p"]))
    assert [float(r["p_adjusted"]) for r in tests] == pytest.approx(_holm_by_hand(ps), rel=1e-12)
    assert {r["correction"] for r in tests} == {"Holm across 14 tests"}


def test_the_known_effect_is_found_with_its_size(known):
    tests = _read(known["out"]["none"] / "group_tests.csv")
    happy = {r["stimulus"]: r for r in tests if r["expression"] == "happy"}
    b = happy["B"]  # young - old: the old group was made to smile 2 SD more
    assert float(b["p_adjusted"]) < 0.001
    assert float(b["g_ci_low"]) < -2.0 < float(b["g_ci_high"])
    assert float(b["hedges_g"]) == pytest.approx(-2.0, abs=0.6)
    assert float(b["difference"]) == pytest.approx(-0.10, abs=0.03)
    assert float(happy["A"]["p_adjusted"]) > 0.05  # no effect was made at A
    html = (known["out"]["none"] / "report.html").read_text(encoding="utf-8")
    assert "Group comparisons" in html and "Holm across 14 tests" in html and "Inter-subject correlation" in html


def test_the_shared_response_gives_a_significant_isc(known):
    rows = _read(known["out"]["none"] / "isc.csv")
    assert {r["group"] for r in rows} == {"all", "young", "old"}
    happy = [r for r in rows if r["expression"] == "happy"]
    assert len(happy) == 2 * 3
    for r in happy:
        assert float(r["isc"]) > 0.5 and float(r["p"]) == pytest.approx(1 / 200)
        assert float(r["null_95"]) < 0.4
        assert int(r["n"]) == (40 if r["group"] == "all" else 20)


def test_a_null_study_gives_uniform_p_values():
    design = Design(per_group=8, effect=0.0, stimuli=("B",), seconds=4.0, shared=0.0)
    options = ComparisonOptions(bootstrap=100)
    ps = []
    for seed in range(300):
        summaries = participant_summaries(series_study(design, seed), BaselineOptions(), 0.5)
        (row,) = [r for r in group_tests(summaries, options) if r["expression"] == "happy"]
        ps.append(row["p"])
    ps.sort()
    n = len(ps)
    ks = max(max((i + 1) / n - p, p - i / n) for i, p in enumerate(ps))
    assert ks < 1.63 / math.sqrt(n)  # Kolmogorov-Smirnov against the uniform distribution, alpha = 0.01
    rejections = sum(p < 0.05 for p in ps)
    cdf = np.cumsum([math.comb(n, k) * 0.05 ** k * 0.95 ** (n - k) for k in range(n + 1)])
    low, high = int(np.searchsorted(cdf, 0.005)), int(np.searchsorted(cdf, 0.995))
    assert low <= rejections <= high, (rejections, low, high)


def test_too_few_participants_gives_a_note_instead_of_a_p_value(tmp_path):
    key = emoplay.sessionlog.LogKey.from_bytes(bytes(32))
    logs = write_study(tmp_path, key, Design(per_group=2, seconds=3.0), seed=3)
    build_report(logs, key, tmp_path / "out", plots=False)
    tests = _read(tmp_path / "out" / "group_tests.csv")
    assert tests and all(r["p"] == "" and r["p_adjusted"] == "" for r in tests)
    assert all(r["note"].startswith("too few participants for a test: 2 in young and 2 in old") for r in tests)
    isc = _read(tmp_path / "out" / "isc.csv")
    assert all(r["isc"] == "" and r["note"].startswith("too few participants") for r in isc if r["group"] != "all")


def test_a_missing_baseline_is_said_and_left_out(tmp_path, capsys):
    """Logs without rest screens have no pre-stimulus baseline: the rows say why and hold no values."""
    key_file = emoplay.sessionlog.generate_key_file(tmp_path / "k.key")
    key = emoplay.sessionlog.LogKey.from_file(key_file)
    logs = write_study(tmp_path, key, Design(per_group=3, seconds=3.0, rest_seconds=0.0), seed=4)
    code = main(["study", "report", *map(str, logs), "--key-file", str(key_file), "--out", str(tmp_path / "out"),
                 "--no-plots", "--baseline", "pre-stimulus", "--baseline-mode", "percent", "--correction", "bh"])
    err = capsys.readouterr().err
    assert code == 0, err
    rows = _read(tmp_path / "out" / "participant_summary.csv")
    assert {r["baseline"] for r in rows} == {"pre-stimulus, percent: missing (no rest or fixation screen before it)"}
    assert all(r["mean"] == "" for r in rows)
    assert "have no baseline" in err
    assert all(r["n_a"] == "0" for r in _read(tmp_path / "out" / "group_tests.csv"))


def test_bad_statistics_options_are_clear_errors(tmp_path, capsys):
    key_file = emoplay.sessionlog.generate_key_file(tmp_path / "k.key")
    log = write_study(tmp_path, emoplay.sessionlog.LogKey.from_file(key_file), Design(per_group=1, seconds=2.0))[0]
    base = ["study", "report", str(log), "--key-file", str(key_file), "--out", str(tmp_path / "o"), "--no-plots"]
    assert main([*base, "--onset-rise", "2"]) == 2
    assert "onset rise must be above 0 and at most 1" in capsys.readouterr().err
    assert main([*base, "--permutations", "5"]) == 2
    assert "at least 99 permutations" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--baseline", "resting"])
    assert not (tmp_path / "o").exists()


def test_the_bids_export_holds_each_participants_events_and_resampled_frames(known):
    import gzip
    import json

    bids = known["out"]["none"] / "bids"
    description = json.loads((bids / "dataset_description.json").read_text())
    assert description["Name"] == "Synthetic study" and description["BIDSVersion"].startswith("1.")
    people = (bids / "participants.tsv").read_text().splitlines()
    assert people[0] == "participant_id\tgroup" and len(people) == 41
    assert people[1:3] == ["sub-P01\tyoung", "sub-P02\told"]
    assert not any("id-" in p.read_text(errors="replace") for p in bids.rglob("*") if p.suffix in (".tsv", ".json"))
    logs = [emoplay.sessionlog.read_session_log(p, known["key"]) for p in known["logs"]]
    first = min(logs, key=lambda g: g.header.started_at)  # P01
    origin = first.records[0].timestamp
    beh = bids / "sub-P01" / "beh"
    events = [line.split("\t") for line in (beh / "sub-P01_task-synthetic_events.tsv").read_text().splitlines()]
    assert events[0] == ["onset", "duration", "trial_type", "stimulus", "stimulus_title", "position", "ended"]
    starts = [r for r in first.records if r.type == "StimulusStarted"]
    assert [e[2] for e in events[1:]] == ["calibration", "pre-stimulus", "stimulus", "pre-stimulus", "stimulus"]
    assert [e[3] for e in events[1:]] == ["", "A", "A", "B", "B"]
    for event, start in zip(events[1:], starts):
        assert float(event[0]) == pytest.approx(start.timestamp - origin, abs=1e-6)
    assert float(events[3][1]) == pytest.approx(KNOWN.seconds, abs=1e-6)

    sidecar = json.loads((beh / "sub-P01_task-synthetic_physio.json").read_text())
    assert sidecar["SamplingFrequency"] == 10.0
    assert sidecar["Columns"] == ["face_found", *(f"p_{e}" for e in EMOTIONS)]
    with gzip.open(beh / "sub-P01_task-synthetic_physio.tsv.gz", "rt") as f:
        samples = [line.split("\t") for line in f.read().splitlines()]
    assert all(len(s) == 8 for s in samples)
    frames = [r for r in first.records if r.type == "FrameProbabilities"]
    assert sidecar["StartTime"] == pytest.approx(math.floor((frames[0].timestamp - origin) * 10) / 10, abs=1e-6)
    by_sample = defaultdict(list)  # sample index -> frames captured in its 0.1 s
    for r in frames:
        by_sample[math.floor((r.timestamp - origin - sidecar["StartTime"]) * 10 + 1e-9)].append(r)
    assert len(samples) == max(by_sample) + 1 > len(by_sample)  # the gaps between stimuli are there, as n/a
    for index, sample in enumerate(samples):
        mine = by_sample.get(index, [])
        faces = [r.probabilities for r in mine if r.probabilities]
        if not mine:
            assert sample == ["n/a"] * 8
            continue
        assert float(sample[0]) == pytest.approx(len(faces) / len(mine), abs=1e-6)
        for k, e in enumerate(EMOTIONS):
            expected = statistics.fmean(p[e] for p in faces) if faces else None
            assert (sample[k + 1] == "n/a") if expected is None else float(sample[k + 1]) == pytest.approx(expected,
                                                                                                         abs=1e-6)


def test_py_feat_column_names_hold_the_same_frames(known, tmp_path):
    build_report(known["logs"][:4], known["key"], tmp_path / "pyfeat", plots=False,
                 analysis=AnalysisOptions(frame_columns="pyfeat", isc=IscOptions(permutations=99)))
    ours = _read(known["out"]["none"] / "frames.csv")
    theirs = _read(tmp_path / "pyfeat" / "frames.csv")
    assert list(theirs[0]) == ["participant", "group", "stimulus", "stimulus_title", "position", "frame", "approx_time",
                               "face_found", "anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral",
                               "valence", "arousal"]
    mine = [r for r in ours if r["participant"] in {t["participant"] for t in theirs}]
    assert len(mine) == len(theirs)
    frame_of = defaultdict(int)
    for a, b in zip(mine, theirs):
        assert b["approx_time"] == a["media_time_s"] and b["happiness"] == a["p_happy"] and b["anger"] == a["p_angry"]
        assert b["sadness"] == a["p_sad"] and b["face_found"] == a["face_found"]
        assert int(b["frame"]) == frame_of[(a["participant"], a["stimulus"])]
        frame_of[(a["participant"], a["stimulus"])] += 1
