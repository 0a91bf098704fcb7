"""--detector-range on every command that finds faces: the range reaches the detector they run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoplay.cli import build_parser, main
from tests.support import write_video


@pytest.fixture(scope="module")
def far_frames():
    """12 BGR 1280x720 frames: single_face.mp4's frames 30-41 at half size in the middle of a grey frame (the face
    about 87 px tall, 7 % of the width: too small for the short-range detector, found by the full-range one)."""
    import cv2

    from tests.support import video_frames

    frames = []
    for pixels in video_frames("single_face.mp4", 30, 12):
        frame = np.full((720, 1280, 3), 128, np.uint8)
        frame[270:450, 480:800] = cv2.resize(pixels, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def far_video(far_frames, tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("far") / "far.mp4", far_frames, 30.0)


@pytest.mark.parametrize("detector_range, found", [("short", False), ("full", True), ("auto", True)])
def test_watch_finds_a_far_face_with_the_full_range_only(far_video, capsys, detector_range, found):
    assert main(["watch", "--source", str(far_video), "--json", "--detector-range", detector_range]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    faces = [e for e in events if e["event"] == "FaceFound"]
    assert bool(faces) == found
    if found:
        assert len(faces) == 1 and 80 <= faces[0]["box"][3] <= 100


def test_eval_faces_detect_uses_the_range(far_frames, tmp_path, capsys):
    import cv2

    data = tmp_path / "frames"
    (data / "happy").mkdir(parents=True)
    for i, frame in enumerate(far_frames[:3]):
        cv2.imwrite(str(data / "happy" / f"{i}.png"), frame)
    no_face = {}
    for detector_range in ("short", "full"):
        assert main(["eval", "--data", str(data), "--faces", "detect", "--json",
                     "--detector-range", detector_range]) == 0
        no_face[detector_range] = json.loads(capsys.readouterr().out)["no_face"]
    assert no_face == {"short": 3, "full": 0}


@pytest.mark.parametrize("argv", [
    ["watch"], ["serve"], ["eval", "--data", "x"], ["explain", "x"], ["bench"],
    ["study", "run", "s.toml", "--participant", "P1", "--group", "a"],
])
def test_every_command_that_finds_faces_takes_detector_range(argv, capsys):
    parser = build_parser()
    assert parser.parse_args([*argv, "--detector-range", "full"]).detector_range == "full"
    assert parser.parse_args(argv).detector_range == "short"
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([*argv, "--detector-range", "far"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'far'" in capsys.readouterr().err


def test_the_range_reaches_the_options_each_command_builds():
    from emoplay.cli._arguments import sensor_options_from_args
    from emoplay.cli.explain import _options

    parser = build_parser()
    watch = parser.parse_args(["watch", "--detector-range", "auto"])
    assert sensor_options_from_args(watch).pipeline.detector.range == "auto"
    serve = parser.parse_args(["serve", "--detector-range", "full"])
    assert sensor_options_from_args(serve).pipeline.detector.range == "full"
    explain = parser.parse_args(["explain", "x", "--faces", "detect", "--detector-range", "full"])
    detector = _options(explain, "detect", "rise").detector
    assert detector.range == "full" and not detector.video_mode


@pytest.mark.parametrize("argv", [
    ["watch"], ["serve"], ["eval", "--data", "x"], ["explain", "x"],
    ["study", "run", "s.toml", "--participant", "P1", "--group", "a"],
])
def test_every_command_that_finds_faces_takes_detector_tiles(argv, capsys):
    parser = build_parser()
    assert parser.parse_args([*argv, "--detector-tiles", "auto"]).detector_tiles == "auto"
    assert parser.parse_args([*argv, "--detector-tiles", "3x2"]).detector_tiles == (3, 2)
    assert parser.parse_args(argv).detector_tiles == "off"
    for bad in ("many", "0x2", "3x9", "3"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([*argv, "--detector-tiles", bad])
        assert exit_info.value.code == 2
        assert "expected off, auto or COLSxROWS with 1 to 8 each" in capsys.readouterr().err


def test_detector_tiles_without_the_full_range_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["watch", "--source", "x.mp4", "--detector-tiles", "auto"])
    assert exit_info.value.code == 2
    assert "add --detector-range full (or auto)" in capsys.readouterr().err


def test_the_tiles_reach_the_options_each_command_builds():
    from emoplay.cli._arguments import sensor_options_from_args
    from emoplay.cli.explain import _options

    parser = build_parser()
    watch = parser.parse_args(["watch", "--detector-range", "full", "--detector-tiles", "auto"])
    assert sensor_options_from_args(watch).pipeline.detector.tiles == "auto"
    explain = parser.parse_args(["explain", "x", "--faces", "detect", "--detector-range", "full",
                                 "--detector-tiles", "4x2"])
    assert _options(explain, "detect", "rise").detector.tiles == (4, 2)


def test_watch_finds_a_group_of_small_faces_with_tiles(tmp_path, capsys):
    """A 1280x720 clip of 6 faces of 55-65 px (single_face.mp4's face, shrunk) in a row: the full-range detector
    finds at most one of them on the whole frame (measured: the 65 px face on the right), all 6 with
    --detector-tiles auto."""
    import cv2

    from tests.support import video_frames

    (pixels,) = video_frames("single_face.mp4", 36)
    crop = pixels[71:332, 160:421]
    frame = np.full((720, 1280, 3), 128, np.uint8)
    for i, face_px in enumerate((55, 60, 65, 55, 60, 65)):
        side = round(face_px * 1.5)
        frame[300:300 + side, 100 + 190 * i:100 + 190 * i + side] = cv2.resize(crop, (side, side),
                                                                               interpolation=cv2.INTER_AREA)
    path = write_video(tmp_path / "group.mp4", [frame] * 8, 30.0)
    found = {}
    for tiles in ("off", "auto"):
        assert main(["watch", "--source", str(path), "--json", "--detector-range", "full",
                     "--detector-tiles", tiles]) == 0
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
        found[tiles] = [e for e in events if e["event"] == "FaceFound"]
    assert len(found["off"]) <= 1 and len(found["auto"]) == 6
