"""How rarely can a stable face be detected and classified? CPU, latency and events per rate.

    python benchmarks/stable_face_rates.py [--frames 300] [--rounds 3] [--json]

A face that neither moves nor changes its expression needs neither the detector nor the emotion model on
every camera frame. The pipeline runs each at least every ``detect_every`` / ``classify_every`` frames
and at once when a held face's crop changed by more than ``reclassify_change`` (``redetect_on_change``:
the detector; the model's own check: ``classify_every``). This script compares rates (detect every /
classify every; every model run with both views unless "alternating views": a stable face refreshed with
one view at a time, ``PipelineOptions.alternate_views``), with ``1/1`` (detector and both views on every
frame) as the reference:

* ``cpu``: process CPU ms per frame of ``EmotionPipeline.process`` on ``emoplay bench``'s camera-like
  frames (``bench.camera_like_loop``: a smile beginning, frames near in time), detector and model runs
  per frame (a run of one view counts as one); variants interleaved round after round, medians of
  ``--rounds``.
* ``latency``: stream time from a neutral → happy change to its ``EmotionChanged`` (5 FER2013 pairs), abrupt
  (as ``emoplay bench`` measures it) and as a 10-frame cross-fade (a slow change whose frames each differ
  little: the worst case for skipping a face that barely changed).
* ``videos``: per shared video, the emotion changes and FaceFound/FaceLost moments against ``1/1``: how
  many come with the same emotion within 0.1 s, both ways, and the largest shift of a found/lost event.

Events and latency use the ``responsive`` stability preset (changes decided on the dwell alone), so they
show what the rates do to timing rather than the calmer presets' waits (``benchmarks/stability.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

RATES = {  # name -> PipelineOptions fields
    "1/1": {"detect_every": 1, "classify_every": 1, "alternate_views": False},
    "2/2, no redetect (before)": {"detect_every": 2, "classify_every": 2, "redetect_on_change": False,
                                  "alternate_views": False},
    "2/2": {"detect_every": 2, "classify_every": 2, "alternate_views": False},
    "4/4, both views": {"detect_every": 4, "classify_every": 4, "alternate_views": False},
    "4/4, alternating views (defaults)": {},
    "6/6, alternating views": {"detect_every": 6, "classify_every": 6},
    "8/4, alternating views": {"detect_every": 8},
}


def _options(name: str):
    import emoplay

    return emoplay.PipelineOptions(stability="responsive", **RATES[name])


def measure_cpu(count: int, rounds: int) -> dict[str, dict[str, float]]:
    from bench import bench_frames, camera_like_loop
    from pipeline_levers import measure_pipeline

    frames = camera_like_loop(bench_frames()[0])
    return measure_pipeline(frames, count, rounds, {name: _options(name) for name in RATES})


def measure_latency() -> dict[str, dict[str, float]]:
    from bench import BenchSettings, _confident_fer_faces, measure_event_latency, shared_dir
    from pipeline_levers import _fade_latency

    faces = _confident_fer_faces(shared_dir() / "data" / "fer2013" / "val.npz", 5)
    out = {}
    for name in RATES:
        options = _options(name)
        abrupt, _ = measure_event_latency(BenchSettings(), options)
        fades = [_fade_latency(options, n, h) for n, h in zip(faces["neutral"], faces["happy"])]
        out[name] = {"abrupt_ms_median": abrupt["event_latency_ms_median"], "abrupt_ms_max": abrupt["event_latency_ms_max"],
                     "fade_ms_median": statistics.median(fades), "fade_ms_max": max(fades)}
    return out


def compare_videos() -> dict[str, dict]:
    import emoplay
    from bench import shared_dir
    from pipeline_levers import _matched, events_of, read_frames

    out = {}
    for path in sorted(p for p in (shared_dir() / "data" / "videos").iterdir() if p.suffix in (".mp4", ".mov")):
        frames = read_frames(path)
        events = {name: events_of(_options(name), frames) for name in RATES}
        changes = {name: [(e.current, e.timestamp) for e in got if isinstance(e, emoplay.EmotionChanged)]
                   for name, got in events.items()}
        faces = {name: [(type(e).__name__, e.timestamp) for e in got if isinstance(e, (emoplay.FaceFound, emoplay.FaceLost))]
                 for name, got in events.items()}
        ref = changes["1/1"]
        row: dict = {"changes_1/1": len(ref), "face_events_1/1": len(faces["1/1"])}
        for name in list(RATES)[1:]:
            got = changes[name]
            same_faces = [kind for kind, _ in faces[name]] == [kind for kind, _ in faces["1/1"]]
            row[name] = {"changes": len(got), "matched_0.1s": _matched(ref, got, 0.1),
                         "matched_back_0.1s": _matched(got, ref, 0.1),
                         "face_events_same": same_faces,
                         "face_event_shift_s_max": max((abs(a[1] - b[1]) for a, b in zip(faces[name], faces["1/1"])),
                                                       default=0.0) if same_faces else None}
        out[path.name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per rate and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = {}
    for name, measure in (("cpu", lambda: measure_cpu(args.frames, args.rounds)), ("latency", measure_latency),
                          ("videos", compare_videos)):
        report[name] = measure()
        print(f"{name}: {json.dumps(report[name])}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{'rate (detect/classify)':36} {'CPU ms/frame':>12} {'detector/frame':>15} {'model/frame':>12} "
          f"{'abrupt ms':>10} {'fade ms (worst)':>16}")
    for name, row in report["cpu"].items():
        lat = report["latency"][name]
        print(f"{name:36} {row['cpu_ms_per_frame']:12.2f} {row['detector_runs_per_frame']:15.2f} "
              f"{row['model_runs_per_frame']:12.2f} {lat['abrupt_ms_max']:10.0f} "
              f"{lat['fade_ms_median']:8.0f} ({lat['fade_ms_max']:.0f})")
    for video, row in report["videos"].items():
        print(f"\n{video}: {row['changes_1/1']} changes with 1/1, {row['face_events_1/1']} found/lost")
        for name in list(RATES)[1:]:
            r = row[name]
            print(f"  {name:36} {r['changes']:3} changes, {r['matched_0.1s']} of 1/1's within 0.1 s "
                  f"({r['matched_back_0.1s']} back); found/lost same: {r['face_events_same']}, "
                  f"shift {r['face_event_shift_s_max']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
