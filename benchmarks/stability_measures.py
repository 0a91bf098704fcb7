"""How calm each stability preset keeps a face's emotion on real video, and what it costs in latency.

Per face (track) of a video run through ``EmotionPipeline`` with a preset:

* ``changes``: ``EmotionChanged`` events after the face's first reading (``unknown`` -> the first emotion when
  the face appears is not a change of expression), and ``per_min``: those per minute the face was tracked;
* ``flips``: changes undone within 2 s (A -> B, then B -> A within 2 s of it);
* ``unknown_changes``: changes to or from ``unknown``, and ``unknown_share``: the share of the face's time after
  its first reading spent in ``unknown``.

Besides each shared video, ``talking_smiling.mp4`` is also played there and back twice (forward, reversed,
forward, reversed: 62 s of one woman talking, with no cut), a minute of talk to count changes per minute on.

Latency is ``bench.measure_event_latency`` with the preset: stream time from a posed neutral -> happy
switch (FER2013 faces) to its ``EmotionChanged``, from a settled neutral face and (``after talk``) from a
face whose reading has been alternating between neutral and a glimpse of the smile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

FLIP_S = 2.0
VIDEOS = ("talking_smiling.mp4", "single_face.mp4", "face_then_noface.mov", "noface_then_face.mov",
          "no_face_animation.mp4")
THERE_AND_BACK = ("talking_smiling.mp4", 4)  # a video and how many passes, alternately forward and reversed


@dataclass(frozen=True)
class FaceStability:
    track_id: int
    seconds: float  # from the face's first frame to its last
    changes: int
    flips: int
    unknown_changes: int
    unknown_s: float  # time in unknown after the first reading
    emotions: tuple[str, ...]  # every emotion reported, in order

    @property
    def per_min(self) -> float:
        return 60.0 * self.changes / self.seconds if self.seconds > 0 else 0.0

    @property
    def unknown_share(self) -> float:
        return self.unknown_s / self.seconds if self.seconds > 0 else 0.0


def face_stability(track_id: int, changes: list, first_t: float, last_t: float) -> FaceStability:
    """Measures of one face from its ``EmotionChanged`` events (in order) and its first and last frame times."""
    later = changes[1:]
    flips = sum(1 for a, b in zip(later, later[1:]) if b.current == a.previous and b.timestamp - a.timestamp <= FLIP_S)
    unknown_changes = sum(1 for e in later if "unknown" in (e.previous, e.current))
    unknown_s = 0.0
    for event, following in zip(changes, [*changes[1:], None]):
        if event.current == "unknown":
            unknown_s += (last_t if following is None else following.timestamp) - event.timestamp
    return FaceStability(track_id, last_t - first_t, len(later), flips, unknown_changes, unknown_s,
                         tuple(e.current for e in changes))


def video_frames(video: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(timestamp, pixels) of every frame of ``video``."""
    from emoplay.sensor._sources import EndOfStream, VideoFileSource

    source = VideoFileSource(video)
    source.open()
    try:
        while True:
            try:
                frame = source.read(1.0)
            except EndOfStream:
                return
            yield frame.timestamp, frame.pixels
    finally:
        source.close()


def frames_there_and_back(video: Path, passes: int) -> Iterator[tuple[float, np.ndarray]]:
    """``video`` played ``passes`` times, alternately forward and reversed, its timestamps running on at the
    video's frame interval: a longer stream with no cut (each pass starts on the frame the last one ended on)."""
    return there_and_back(list(video_frames(video)), passes, video)


def there_and_back(frames: list[tuple[float, np.ndarray]], passes: int,
                   video: Path) -> Iterator[tuple[float, np.ndarray]]:
    """:func:`frames_there_and_back` of ``video``'s decoded (timestamp, pixels) ``frames``."""
    if len(frames) < 2:
        raise ValueError(f"{video} has fewer than 2 frames; it cannot be played there and back")
    step = (frames[-1][0] - frames[0][0]) / (len(frames) - 1)
    k = 0
    for n in range(passes):
        for _, pixels in (frames if n % 2 == 0 else frames[::-1]):
            yield frames[0][0] + k * step, pixels
            k += 1


def video_results(video: Path, pipeline) -> Iterator[tuple[float, Any]]:
    """(frame timestamp, ``FrameResult``) for every frame of ``video`` through ``pipeline``, as fast as it goes."""
    return stream_results(video_frames(video), pipeline)


def stream_results(frames, pipeline) -> Iterator[tuple[float, Any]]:
    """(timestamp, ``FrameResult``) for every (timestamp, pixels) of ``frames`` through ``pipeline``."""
    for timestamp, pixels in frames:
        yield timestamp, pipeline.process(pixels, timestamp)


def video_stability(video: Path, options) -> list[FaceStability]:
    """Every face of ``video`` through a pipeline with ``options`` (``PipelineOptions``)."""
    return stream_stability(video_frames(video), options)


def stream_stability(frames, options) -> list[FaceStability]:
    """Every face of the (timestamp, pixels) ``frames`` through a pipeline with ``options``."""
    from emoplay._events import EmotionChanged
    from emoplay.pipeline._pipeline import EmotionPipeline

    changes: dict[int, list] = {}
    seen: dict[int, list[float]] = {}
    with EmotionPipeline(options) as pipeline:
        for timestamp, result in stream_results(frames, pipeline):
            for track_id in result.track_ids:
                seen.setdefault(track_id, [timestamp, timestamp])[1] = timestamp
            for event in result.events:
                if isinstance(event, EmotionChanged):
                    changes.setdefault(event.track_id, []).append(event)
    return [face_stability(track_id, changes[track_id], *seen[track_id]) for track_id in sorted(changes)]


def measure_stability(videos_dir: Path, presets=None, latency: bool = True) -> dict:
    """Per preset: every shared video's faces and (``latency``) the posed latency. A JSON-ready dict."""
    from dataclasses import asdict

    from bench import BenchSettings, measure_event_latency
    from emoplay.pipeline._debounce import STABILITY_PRESETS
    from emoplay.pipeline._pipeline import PipelineOptions

    def rows(faces: list[FaceStability]) -> list[dict]:
        return [{**asdict(face), "per_min": face.per_min, "unknown_share": face.unknown_share} for face in faces]

    report: dict = {}
    long_name, passes = THERE_AND_BACK
    long_path = videos_dir / long_name
    long_frames = list(video_frames(long_path)) if long_path.is_file() else []  # decoded once for every preset
    for preset in presets or STABILITY_PRESETS:
        options = PipelineOptions(stability=preset)
        videos = {}
        for name in VIDEOS:
            path = videos_dir / name
            if not path.is_file():
                continue
            videos[name] = rows(video_stability(path, options))
            if name == long_name:
                videos[f"{name} x{passes} there+back"] = rows(
                    stream_stability(there_and_back(long_frames, passes, path), options))
        report[preset] = {"videos": videos}
        if latency:
            measured, _ = measure_event_latency(BenchSettings(), options)
            after_talk, _ = measure_event_latency(BenchSettings(), options, after_talk=True)
            report[preset].update(latency_ms_median=measured["event_latency_ms_median"],
                                  latency_ms_max=measured["event_latency_ms_max"],
                                  latency_after_talk_ms_median=after_talk["event_latency_ms_median"],
                                  latency_after_talk_ms_max=after_talk["event_latency_ms_max"])
    return report


def format_stability(report: dict) -> str:
    """The report as a table: one row per preset, video and face."""
    lines = [f"{'preset':11} {'video':34} {'face':>4} {'secs':>5} {'changes':>7} {'/min':>6} {'flips':>5} "
             f"{'unk chg':>7} {'unk %':>6}  emotions"]
    for preset, entry in report.items():
        for video, faces in entry["videos"].items():
            for face in faces or [None]:
                if face is None:
                    lines.append(f"{preset:11} {video:34} {'-':>4}  (no face)")
                    continue
                lines.append(f"{preset:11} {video:34} {face['track_id']:>4} {face['seconds']:5.1f} "
                             f"{face['changes']:>7} {face['per_min']:6.1f} {face['flips']:>5} "
                             f"{face['unknown_changes']:>7} {100 * face['unknown_share']:6.1f}  "
                             + " ".join(face["emotions"]))
        if "latency_ms_max" in entry:
            lines.append(f"{preset:11} posed neutral -> happy latency: median {entry['latency_ms_median']:.0f} ms, "
                         f"worst {entry['latency_ms_max']:.0f} ms; after talk: median "
                         f"{entry['latency_after_talk_ms_median']:.0f} ms, worst {entry['latency_after_talk_ms_max']:.0f} ms")
    return "\n".join(lines)
