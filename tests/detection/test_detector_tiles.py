"""DetectorOptions(tiles=...): small faces in large frames, found on overlapping tiles by the real full-range model.

The frames are ``models/detector_tiles.py``'s: group frames of 2 to 8 faces of 50-90 px (CK+ crops and faces
cut from the shared videos) and the drifting clip, built here from the shared data.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import emoplay
from emoplay.detection import DetectorOptions, FaceDetector
from emoplay.detection._tiles import auto_grid, tile_grid
from tests.support import REPO, SHARED, VIDEOS, require_shared


def tiles_module():
    """models/detector_tiles.py, whose functions build the frames and score what was found."""
    spec = importlib.util.spec_from_file_location("detector_tiles", REPO / "models" / "detector_tiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def face_sources():
    return tiles_module().recorder().face_sources(require_shared(SHARED / "data" / "ckplus"), require_shared(VIDEOS))


@pytest.fixture(scope="module")
def face_crop():
    """single_face.mp4's frame 36 cut around its face: a square crop whose middle two thirds is the face."""
    from tests.support import video_frames

    (frame,) = video_frames("single_face.mp4", 36)
    return frame[71:332, 160:421]


def _found(faces, detector: FaceDetector, frames) -> tuple[int, int]:
    """(faces found, detections matching no face) over ``frames`` of (faces, RGB frame)."""
    found = unmatched = 0
    for faces, frame in frames:
        hit, extra, _ = tiles_module().face_matches(faces, detector.detect(frame).boxes)
        found, unmatched = found + hit, unmatched + extra
    return found, unmatched


def test_tiles_find_most_faces_of_a_group_in_a_1280x720_frame(face_sources):
    """Measured on these 12 frames (65 faces of 50-90 px): 7 found on the whole frame, 65 with tiles."""
    frames = list(tiles_module().group_frames(face_sources, 12, 1280, 720, 4))
    total = sum(len(faces) for faces, _ in frames)
    found = {}
    for tiles in ("off", "auto"):
        with FaceDetector(DetectorOptions(video_mode=False, range="full", tiles=tiles)) as detector:
            found[tiles], unmatched = _found(None, detector, frames)
        assert unmatched == 0  # nothing found where there is no face
    assert found["off"] <= 0.25 * total
    assert found["auto"] >= 0.9 * total


@pytest.mark.parametrize("face_px, dx, dy", [(60, dx, dy) for dx in (-40, -15, 0, 15, 40) for dy in (-40, 0, 40)]
                         + [(90, -30, 0), (90, 0, 0), (90, 30, 30), (174, 0, 0), (360, -75, 0), (420, 0, 0), (420, 75, 0)])
def test_a_face_where_tiles_overlap_is_found_once(face_crop, face_px, dx, dy):
    """A face near the corner where four of the 4x2 tiles of a 1280x720 frame overlap: one detection, its box
    and keypoints on the face. (174 px is larger than the overlap: the whole frame finds it, and the tiles
    that cut it must not add a second face; nor may the tiles that cut a face of 360-420 px, a player near the
    camera, add part of it as a second one.)"""
    import cv2

    tiles = tile_grid(1280, 720, auto_grid(1280, 720))
    corner_x = (tiles[1].left + tiles[0].right) / 2  # the middle of where tiles 0, 1, 4 and 5 all overlap
    corner_y = (tiles[4].top + tiles[0].bottom) / 2
    side = round(face_px * 1.5)
    crop = cv2.resize(face_crop, (side, side), interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 128, np.uint8)
    left, top = round(corner_x + dx - side / 2), round(corner_y + dy - side / 2)
    frame[top:top + side, left:left + side] = crop
    with FaceDetector(DetectorOptions(video_mode=False, range="full", tiles="auto")) as detector:
        found = detector.detect(frame, color_order="bgr")
    assert len(found) == 1, found.boxes
    x, y, w, h = found.boxes[0]
    assert 0.75 * face_px <= h <= 1.3 * face_px
    assert abs(x + w / 2 - (corner_x + dx)) < 0.2 * face_px and abs(y + h / 2 - (corner_y + dy)) < 0.25 * face_px
    keypoints = found.keypoints[0]
    assert np.all((keypoints[:4] >= [x, y]) & (keypoints[:4] <= [x + w, y + h]))  # eyes, nose, mouth in the box


def test_tiles_off_and_a_frame_small_enough_run_the_whole_frame_only(face_crop):
    """tiles="auto" on a frame of at most 500 px is the untiled detector; so is a 1x1 grid anywhere."""
    assert auto_grid(480, 360) == (1, 1) and tile_grid(480, 360, (1, 1)) == []
    frame = np.ascontiguousarray(face_crop)
    results = []
    for tiles in ("off", "auto", (1, 1)):
        with FaceDetector(DetectorOptions(video_mode=False, range="full", tiles=tiles)) as detector:
            results.append(detector.detect_normalized(frame, "bgr"))
    assert len(results[0]) == 1
    for other in results[1:]:
        np.testing.assert_array_equal(other.boxes, results[0].boxes)
        np.testing.assert_array_equal(other.keypoints, results[0].keypoints)


@pytest.mark.slow
def test_the_drifting_groups_faces_keep_their_ids_with_tiles(face_sources):
    """8 faces of 50-90 px drifting over a moving 1280x720 background for 3 s, two crossing just clear of each
    other's face, through the whole pipeline with tiles: all 8 announced, no id changes, none lost. Without
    tiles, none is found."""
    module = tiles_module()
    background = module.textured_background(require_shared(VIDEOS / "no_face_animation.mp4"), 90)
    clip = list(module.drifting_clip(face_sources, background, 90))
    result = module.track_clip(clip, detect_every=4)
    assert result["auto"]["found"] == 8 and result["auto"]["faces"] == 8
    assert result["auto"]["id_changes"] == 0 and result["auto"]["lost"] == 0
    assert result["off"]["found"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("size", [None, (1280, 720)])
def test_tiles_announce_no_face_on_a_clip_without_faces(size):
    """no_face_animation.mp4 at its own 960x540 (3x2 tiles) and upscaled to 1280x720 (4x2), through the pipeline
    with tiles on every frame: nothing the tiles pick up there is confirmed as a face (a false face found on a
    tile is small, and faces under 8 % of a tile's side are dropped)."""
    import cv2

    module = tiles_module()
    options = emoplay.PipelineOptions(detector=DetectorOptions(range="full", tiles="auto"), detect_every=1)
    events = []
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        for i, bgr in enumerate(module.video_frames(require_shared(VIDEOS / "no_face_animation.mp4"))):
            frame = bgr if size is None else cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC)
            events += pipeline.process(frame, i / 30).events
    assert not [e for e in events if isinstance(e, emoplay.FaceFound)]


@pytest.mark.parametrize("tiles, error, words", [
    ("on", ValueError, "'off', 'auto' or (cols, rows)"),
    ((0, 2), ValueError, "cols must be a whole number from 1 to 8"),
    ((3, 9), ValueError, "rows must be a whole number from 1 to 8"),
    ((2.0, 1), ValueError, "cols must be a whole number"),
    ((True, 1), ValueError, "cols must be a whole number"),
    ((3,), TypeError, "a tuple (cols, rows)"),
    ([3, 2], TypeError, "a tuple (cols, rows)"),
    (None, TypeError, "a tuple (cols, rows)"),
])
def test_bad_tiles_say_what_to_write(tiles, error, words):
    with pytest.raises(error, match=None) as info:
        DetectorOptions(range="full", tiles=tiles)
    assert words in str(info.value)


@pytest.mark.parametrize("tiles", ["auto", (2, 1)])
def test_tiles_need_the_full_range_model(tiles):
    with pytest.raises(ValueError, match="range='full' or 'auto'"):
        DetectorOptions(tiles=tiles)  # range="short" by default
    assert DetectorOptions(range="auto", tiles=tiles).tiles == tiles


@pytest.mark.parametrize("text, tiles", [("off", "off"), ("Auto", "auto"), (" 3x2 ", (3, 2)), ("4X3", (4, 3))])
def test_the_command_lines_tiles_words_are_read_alike_everywhere(text, tiles):
    from emoplay.detection import parse_tiles

    assert parse_tiles(text) == tiles


@pytest.mark.parametrize("text", ["on", "3x", "x2", "0x2", "9x1", "3x2x1", "3 x 2"])
def test_tiles_words_that_make_no_grid_say_what_to_write(text):
    from emoplay.detection import parse_tiles

    with pytest.raises(ValueError, match="off, auto or COLSxROWS"):
        parse_tiles(text)


@pytest.mark.parametrize("width, height, grid", [(4, 4, (8, 8)), (100, 100, (3, 2)), (200, 120, (8, 1))])
def test_a_grid_larger_than_a_small_frame_gives_no_tile_twice(width, height, grid):
    tiles = tile_grid(width, height, grid)
    assert len(tiles) == len(set(tiles)) > 1
    assert all(0 <= t.left < t.right <= width and 0 <= t.top < t.bottom <= height for t in tiles)
