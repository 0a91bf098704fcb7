"""FaceTracker: persistent ids, confirmation, grace period, primary face; iou_matrix on hand-computed boxes."""

from __future__ import annotations

import numpy as np
import pytest

from emoplay import FaceFound, FaceLost, TrackerOptions
from emoplay.pipeline import FaceTracker
from emoplay.pipeline._track import TrackUpdate, iou_matrix

FPS = 30.0
NONE = np.empty((0, 4))


def run(tracker: FaceTracker, frames, start: float = 0.0) -> list[TrackUpdate]:
    """One ``update`` per frame (a list of x, y, w, h boxes) at ``start + i / FPS``."""
    return [tracker.update(np.asarray(boxes, np.float64).reshape(-1, 4), start + i / FPS)
            for i, boxes in enumerate(frames)]


def events_of(updates: list[TrackUpdate]) -> list:
    return [e for u in updates for e in u.events]


def moving(x0: float, y0: float, size: float, frames: int, dx: float = 0.0, dy: float = 0.0) -> list[list[float]]:
    return [[x0 + i * dx, y0 + i * dy, size, size] for i in range(frames)]


# -- iou_matrix ---------------------------------------------------------------------------------------------------

def test_iou_matrix_hand_computed_values():
    a = [[0, 0, 10, 10], [100, 100, 20, 20]]
    b = [[0, 0, 10, 10],      # identical to a[0]
         [5, 5, 10, 10],      # 5x5 overlap: 25 / (100 + 100 - 25)
         [10, 0, 10, 10],     # touching edges: 0
         [2, 2, 4, 4],        # inside a[0]: 16 / 100
         [110, 100, 20, 20],  # half of a[1]: 200 / (400 + 400 - 200)
         [500, 500, 5, 5]]    # far away
    expected = np.array([[1.0, 25 / 175, 0.0, 16 / 100, 0.0, 0.0],
                         [0.0, 0.0, 0.0, 0.0, 200 / 600, 0.0]])
    got = iou_matrix(np.array(a), np.array(b))
    assert got.shape == (2, 6)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(iou_matrix(np.array(b), np.array(a)), expected.T, atol=1e-12)


def test_iou_matrix_degenerate_inputs():
    assert iou_matrix(np.empty((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)
    assert iou_matrix(np.array([[0, 0, 1, 1]]), np.empty((0, 4))).shape == (1, 0)
    # Zero-area boxes have no IoU with anything, themselves included (no division by zero).
    got = iou_matrix(np.array([[3, 3, 0, 0]]), np.array([[3, 3, 0, 0], [0, 0, 10, 10]]))
    np.testing.assert_array_equal(got, [[0.0, 0.0]])
    # A single box as a flat list of 4.
    assert iou_matrix([0, 0, 2, 2], [1, 0, 2, 2])[0, 0] == pytest.approx(2 / 6)


# -- confirmation, persistence ------------------------------------------------------------------------------------

def test_ids_persist_across_frames_with_a_moving_box():
    tracker = FaceTracker()
    updates = run(tracker, [[box] for box in moving(10, 20, 100, 90, dx=6, dy=-2)])
    # Tentative for its first two frames (a negative id), face 1 from its confirmation on.
    assert updates[0].matches == updates[1].matches and updates[0].matches[0] < -1
    assert {u.matches for u in updates[2:]} == {(1,)}
    assert [t.track_id for t in tracker.tracks] == [1]
    np.testing.assert_allclose(tracker.tracks[0].box, [10 + 89 * 6, 20 - 89 * 2, 100, 100])
    found = events_of(updates)
    assert len(found) == 1 and isinstance(found[0], FaceFound)


@pytest.mark.parametrize("confirm_hits", [1, 3, 5])
def test_face_found_only_after_confirm_hits(confirm_hits):
    tracker = FaceTracker(TrackerOptions(confirm_hits=confirm_hits))
    updates = run(tracker, [[[50, 50, 80, 80]]] * 10)
    fired = [i for i, u in enumerate(updates) if u.events]
    assert fired == [confirm_hits - 1]
    event = updates[confirm_hits - 1].events[0]
    assert event == FaceFound(1, (50, 50, 80, 80), (confirm_hits - 1) / FPS, is_primary=True)
    assert tracker.primary_id == 1


def test_face_found_box_is_integer_pixels():
    tracker = FaceTracker(TrackerOptions(confirm_hits=1))
    (update,) = run(tracker, [[[10.7, 20.2, 99.9, 100.4]]])
    assert update.events[0].box == (10, 20, 99, 100)
    assert all(isinstance(v, int) for v in update.events[0].box)


def test_one_frame_false_positive_never_produces_events():
    tracker = FaceTracker()
    face = [200, 100, 120, 120]
    frames = [[face] for _ in range(30)]
    frames[10] = [face, [10, 10, 40, 40]]  # a blip elsewhere for one frame
    frames[20] = [[600, 400, 50, 50], face]  # another, listed first
    updates = run(tracker, frames)
    assert [type(e) for e in events_of(updates)] == [FaceFound]
    assert updates[20].matches[1] == 1  # the real face keeps its id whatever the order
    assert [t.track_id for t in tracker.tracks] == [1]
    # Alone, with nothing else in view.
    lonely = FaceTracker()
    assert events_of(run(lonely, [[[10, 10, 40, 40]]] + [[]] * 30)) == []
    assert lonely.tracks == [] and lonely.primary_id is None


def test_tentative_track_that_misses_a_frame_starts_over():
    tracker = FaceTracker(TrackerOptions(confirm_hits=3))
    face = [[50, 50, 80, 80]]
    updates = run(tracker, [face, face, [], face, face, face])
    assert [i for i, u in enumerate(updates) if u.events] == [5]
    assert updates[5].events[0].track_id == 1  # the tentative track that died cost no face number


# -- grace period -------------------------------------------------------------------------------------------------

def test_detector_blink_shorter_than_lost_after_keeps_the_track():
    tracker = FaceTracker(TrackerOptions(lost_after_s=0.5))
    face = [[100, 100, 90, 90]]
    blink = int(0.4 * FPS)  # 12 frames without a detection: 0.4 s < 0.5 s
    updates = run(tracker, [face] * 10 + [[]] * blink + [face] * 10)
    assert [type(e) for e in events_of(updates)] == [FaceFound]
    assert {u.matches for u in updates[-10:]} == {(1,)}
    assert tracker.primary_id == 1


def test_gap_longer_than_lost_after_gives_face_lost_then_a_new_id():
    tracker = FaceTracker(TrackerOptions(lost_after_s=0.5))
    face = [[100, 100, 90, 90]]
    updates = run(tracker, [face] * 10 + [[]] * 20 + [face] * 10)
    events = events_of(updates)
    assert [type(e) for e in events] == [FaceFound, FaceLost, FaceFound]
    assert [e.track_id for e in events] == [1, 1, 2]
    last_seen = 9 / FPS
    lost = events[1]
    # Lost at the first frame more than 0.5 s after the last detection.
    assert lost.timestamp - last_seen > 0.5
    assert lost.timestamp - last_seen <= 0.5 + 1 / FPS + 1e-9
    lost_frame = next(i for i, u in enumerate(updates) if any(isinstance(e, FaceLost) for e in u.events))
    assert updates[lost_frame].lost_ids == (1,)
    assert events[2].is_primary
    assert tracker.primary_id == 2


def test_zero_grace_loses_a_track_at_its_first_miss():
    tracker = FaceTracker(TrackerOptions(lost_after_s=0.0))
    updates = run(tracker, [[[0, 0, 50, 50]]] * 3 + [[]])
    assert [type(e) for e in events_of(updates)] == [FaceFound, FaceLost]


# -- primary face -------------------------------------------------------------------------------------------------

def test_primary_stays_until_lost_then_passes_to_the_largest():
    tracker = FaceTracker()
    small = moving(10, 10, 60, 105)
    large = moving(300, 10, 150, 105)
    medium = moving(600, 10, 100, 105)
    # The small face comes first; the others arrive half a second later.
    frames = [[small[i]] for i in range(15)] + [[small[i], large[i], medium[i]] for i in range(15, 45)]
    updates = run(tracker, frames)
    found = {e.track_id: e.is_primary for e in events_of(updates)}
    assert found == {1: True, 2: False, 3: False}
    assert tracker.primary_id == 1  # the larger faces do not take over while the first is in view
    # The small face leaves: the largest remaining face becomes primary once the small one is lost.
    updates = run(tracker, [[large[i], medium[i]] for i in range(45, 75)], start=45 / FPS)
    assert [(type(e), e.track_id) for e in events_of(updates)] == [(FaceLost, 1)]
    assert tracker.primary_id == 2
    # ... and when that one leaves too, the last one.
    updates = run(tracker, [[medium[i]] for i in range(75, 105)], start=75 / FPS)
    assert [(type(e), e.track_id) for e in events_of(updates)] == [(FaceLost, 2)]
    assert tracker.primary_id == 3


def test_a_face_confirmed_as_the_primary_is_lost_is_announced_as_primary_after_that_loss():
    tracker = FaceTracker(TrackerOptions(lost_after_s=0.42))  # the first is lost at 15/30 s: 13/30 s unseen
    first, second = [10, 10, 100, 100], [300, 10, 80, 80]
    run(tracker, [[first]] * 3)  # confirmed and primary; last seen at 2/30 s
    run(tracker, [[]] * 10, start=3 / FPS)  # gone, not yet lost
    updates = run(tracker, [[second]] * 3, start=13 / FPS)  # confirmed on its third frame: 15/30 s, as the first is lost
    events = events_of(updates)
    assert [(type(e), e.track_id) for e in events] == [(FaceLost, 1), (FaceFound, 2)]
    assert events[1].is_primary and tracker.primary_id == 2


def test_seen_extends_the_grace_of_tracks_held_without_a_detection():
    tracker = FaceTracker(TrackerOptions(lost_after_s=0.5))
    run(tracker, [[[10, 10, 100, 100]]] * 3)
    tracker.seen((1,), 1.0)  # the pipeline held the face until t = 1 s without running the detector
    assert run(tracker, [[]], start=1.4)[0].events == ()  # a blink at 1.4 s: within 0.5 s of the last sighting
    assert [type(e) for e in run(tracker, [[]], start=1.6)[0].events] == [FaceLost]


def test_primary_does_not_flap_when_another_face_grows_larger():
    tracker = FaceTracker()
    frames = [[[0, 0, 100, 100], [300, 0, 80 + 4 * i, 80 + 4 * i]] for i in range(60)]
    run(tracker, frames)
    assert tracker.primary_id == 1
    assert tracker.tracks[1].box[2] > 300


def test_faces_confirmed_together_make_the_largest_primary():
    tracker = FaceTracker()
    updates = run(tracker, [[[0, 0, 40, 40], [200, 0, 160, 160]]] * 5)
    found = {e.track_id: e.is_primary for e in events_of(updates)}
    assert found == {1: False, 2: True}
    assert tracker.primary_id == 2


def test_no_primary_without_confirmed_faces():
    tracker = FaceTracker()
    run(tracker, [[[0, 0, 40, 40]]] * 2)
    assert tracker.primary_id is None


# -- crossing -----------------------------------------------------------------------------------------------------

def test_two_faces_crossing_keep_their_ids():
    tracker = FaceTracker()
    a = moving(0, 0, 80, 41, dx=10)       # left to right
    b = moving(400, 40, 80, 41, dx=-10)   # right to left, 40 px lower: they overlap as they pass
    # Detection order alternates, so matching must follow the boxes, not the order.
    frames = [[a[i], b[i]] if i % 2 else [b[i], a[i]] for i in range(41)]
    updates = run(tracker, frames)[2:]  # from the frame both were confirmed on (frame 2, even: b first)
    for i, u in enumerate(updates):
        ids = dict(zip(("a", "b") if i % 2 else ("b", "a"), u.matches))
        assert ids == {"a": 1, "b": 2} or ids == {"a": 2, "b": 1}
    first = dict(zip(("b", "a"), updates[0].matches))
    for i, u in enumerate(updates):
        assert dict(zip(("a", "b") if i % 2 else ("b", "a"), u.matches)) == first, f"ids swapped at frame {i}"
    assert [type(e) for e in events_of(updates)] == [FaceFound, FaceFound]
    boxes = {t.track_id: t.box[0] for t in tracker.tracks}
    assert boxes[first["a"]] == 400 and boxes[first["b"]] == 0  # they did cross


# -- close_all, reset, options ------------------------------------------------------------------------------------

def test_close_all_ends_confirmed_tracks_only():
    tracker = FaceTracker()
    run(tracker, [[[0, 0, 50, 50]]] * 5)
    run(tracker, [[[0, 0, 50, 50], [300, 300, 50, 50]]], start=5 / FPS)  # a tentative second face
    events = tracker.close_all(9.0)
    assert events == [FaceLost(1, 9.0)]
    assert tracker.tracks == [] and tracker.primary_id is None
    assert tracker.close_all(10.0) == []
    # Afterwards ids are fresh: a host never confuses a new face with an old one.
    updates = run(tracker, [[[0, 0, 50, 50]]] * 3, start=11.0)
    assert updates[-1].events[0].track_id == 2  # the next number: never one a host has seen (the tentative
    # second face was never announced, so it took none)
    assert updates[-1].events[0].is_primary


def test_reset_forgets_tracks_without_events():
    tracker = FaceTracker()
    run(tracker, [[[0, 0, 50, 50]]] * 5)
    tracker.reset()
    assert tracker.tracks == [] and tracker.primary_id is None
    assert run(tracker, [[]], start=1.0)[0].events == ()


def test_empty_update_is_an_empty_result():
    update = FaceTracker().update(NONE, 0.0)
    assert update == TrackUpdate((), ())


@pytest.mark.parametrize("kwargs, fragment", [
    ({"iou_threshold": 0.0}, "iou_threshold"),
    ({"iou_threshold": 1.0}, "iou_threshold"),
    ({"confirm_hits": 0}, "confirm_hits"),
    ({"lost_after_s": -0.1}, "lost_after_s"),
])
def test_invalid_options_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrackerOptions(**kwargs)


def test_boxes_that_are_not_x_y_w_h_are_rejected():
    with pytest.raises(ValueError):
        FaceTracker().update(np.zeros((2, 3)), 0.0)


# -- detector scores ----------------------------------------------------------------------------------------------

def run_scored(tracker: FaceTracker, box, scores, start: float = 0.0) -> list[TrackUpdate]:
    return [tracker.update(np.array([box], np.float64), start + i / FPS, np.array([s]))
            for i, s in enumerate(scores)]


def test_weak_detections_never_become_a_face():
    tracker = FaceTracker()
    updates = run_scored(tracker, [50, 50, 80, 80], [0.5] * 60)
    assert events_of(updates) == []
    assert {u.matches for u in updates} == {(-2,)}  # still tracked (one tentative track), just never announced
    assert tracker.primary_id is None
    assert events_of(run(tracker, [[]] * 30, start=2.0)) == []  # and never lost either


@pytest.mark.parametrize("scores, fired_at", [
    ([0.5, 0.5, 0.5, 0.5, 0.9, 0.5], 4),   # confirmed by the first confident frame
    ([0.9, 0.5, 0.5, 0.5, 0.5, 0.5], 2),   # ... or once enough frames follow a confident one
    ([0.7, 0.7, 0.7, 0.7, 0.7, 0.7], 2),   # the threshold itself counts
])
def test_one_confident_detection_confirms_the_track(scores, fired_at):
    tracker = FaceTracker(TrackerOptions(confirm_hits=3, confirm_score=0.7))
    updates = run_scored(tracker, [50, 50, 80, 80], scores)
    assert [i for i, u in enumerate(updates) if u.events] == [fired_at]
    assert updates[fired_at].events[0].is_primary


def test_zero_confirm_score_accepts_weak_detections():
    tracker = FaceTracker(TrackerOptions(confirm_score=0.0))
    assert [type(e) for e in events_of(run_scored(tracker, [0, 0, 50, 50], [0.1] * 5))] == [FaceFound]


@pytest.mark.parametrize("value", [-0.1, 1.1])
def test_invalid_confirm_score_is_rejected(value):
    with pytest.raises(ValueError, match="confirm_score"):
        TrackerOptions(confirm_score=value)


@pytest.mark.parametrize("scores", [[0.9], [0.9, 0.9, 0.9]])
def test_scores_must_match_the_boxes(scores):
    with pytest.raises(ValueError, match="scores"):
        FaceTracker().update(np.array([[0, 0, 10, 10], [50, 0, 10, 10]]), 0.0, np.array(scores))


# -- many faces: crossings, turns, motion -------------------------------------------------------------------------

def _faces_keep_their_ids(updates, truth_per_frame) -> dict:
    """The id each true face (a name) had on every frame it was matched once confirmed (before, a tentative track
    has a negative id); fails if a face changed ids or two faces shared one."""
    ids: dict[str, int] = {}
    for i, (update, names) in enumerate(zip(updates, truth_per_frame)):
        for name, track_id in zip(names, update.matches):
            if track_id < 0 and name not in ids:
                continue  # not confirmed yet
            assert ids.setdefault(name, track_id) == track_id, f"{name} changed id at frame {i}"
    assert len(set(ids.values())) == len(ids), f"two faces shared an id: {ids}"
    return ids


def test_two_faces_that_cross_keep_their_ids_while_one_hides_the_other():
    tracker = FaceTracker()
    a = moving(0, 100, 80, 61, dx=10)  # left to right
    b = moving(600, 100, 80, 61, dx=-10)  # right to left, at the same height: a passes in front of b
    frames, truth = [], []
    for i in range(61):
        hidden = abs(a[i][0] - b[i][0]) < 60  # while they overlap, the detector sees only the face in front
        frames.append([a[i]] if hidden else [b[i], a[i]])
        truth.append(["a"] if hidden else ["b", "a"])
    updates = run(tracker, frames)
    ids = _faces_keep_their_ids(updates, truth)
    assert [type(e) for e in events_of(updates)] == [FaceFound, FaceFound]  # b was not lost behind a
    boxes = {t.track_id: t.box[0] for t in tracker.tracks}
    assert boxes[ids["a"]] == 600 and boxes[ids["b"]] == 0


def test_a_small_face_that_moves_more_than_its_overlap_allows_keeps_its_id():
    # 50 px, 30 px per frame: consecutive boxes overlap by IoU 0.25, under iou_threshold; its velocity carries it.
    tracker = FaceTracker()
    updates = run(tracker, [[box] for box in moving(0, 200, 50, 30, dx=30)])
    assert {u.matches for u in updates[2:]} == {(1,)}  # face 1 from its confirmation on
    assert [type(e) for e in events_of(updates)] == [FaceFound]


def test_eight_faces_through_turns_misses_and_crossings_keep_their_ids():
    """Eight faces of 50-90 px on a 1280x720 couch scene for 10 s at 30 fps: each drifts and jitters, turns
    partly away now and then (its box narrows and shifts, the detector misses it for up to 6 frames), and two
    pairs cross, the front face hiding the other while they overlap."""
    rng = np.random.default_rng(5)
    frames_n = 300
    paths = {}
    for k in range(8):
        size = float(rng.integers(50, 91))
        x0, y0 = 60 + 150 * k, 150 + 300 * (k % 2)
        dx = rng.uniform(-0.5, 0.5)
        paths[f"f{k}"] = [[x0 + dx * i, y0 + 10 * np.sin(i / 20 + k), size, size] for i in range(frames_n)]
    for left, right in (("f0", "f2"), ("f5", "f7")):  # two pairs swap places: 300 px in 2 s, each way
        start_l, start_r = paths[left][0], paths[right][0]
        step = [5 * min(max(i - 100, 0), 60) for i in range(frames_n)]
        paths[left] = [[start_l[0] + step[i], start_l[1], start_l[2], start_l[3]] for i in range(frames_n)]
        paths[right] = [[start_r[0] - step[i], start_l[1], start_r[2], start_r[3]] for i in range(frames_n)]
    turns = {name: set(range(t, t + 20)) for name, t in zip(paths, rng.integers(40, 260, 8))}
    misses = {name: set(range(t, t + int(rng.integers(1, 7)))) for name, t in zip(paths, rng.integers(40, 260, 8))}
    frames, truth = [], []
    for i in range(frames_n):
        boxes, names = [], []
        for name, path in paths.items():
            if i in misses[name]:
                continue
            x, y, w, h = path[i]
            if i in turns[name]:  # a partial turn: the box narrows to 70 % and shifts to one side
                x, w = x + 0.3 * w, 0.7 * w
            x, y = x + rng.normal(0, 1.5), y + rng.normal(0, 1.5)
            boxes.append([x, y, w, h])
            names.append(name)
        for left, right in (("f0", "f2"), ("f5", "f7")):  # the face behind is not seen while they overlap
            if left in names and right in names:
                a, b = boxes[names.index(left)], boxes[names.index(right)]
                if abs(a[0] - b[0]) < 0.7 * min(a[2], b[2]):
                    boxes.pop(names.index(right))
                    names.remove(right)
        order = rng.permutation(len(boxes))  # the detector lists faces in no particular order
        frames.append([boxes[j] for j in order])
        truth.append([names[j] for j in order])
    updates = run(tracker := FaceTracker(), frames)
    ids = _faces_keep_their_ids(updates, truth)
    assert len(ids) == 8
    events = events_of(updates)
    assert sorted(e.track_id for e in events if isinstance(e, FaceFound)) == sorted(ids.values())
    assert not [e for e in events if isinstance(e, FaceLost)]
    assert len(tracker.tracks) == 8


# -- primary face on a couch --------------------------------------------------------------------------------------

def _keypoints(box, turn: float = 0.0) -> list:
    """BlazeFace-like keypoints for a box: eyes at 30 % and 70 % of its width, the nose tip between them, moved
    ``turn`` eye distances towards one eye (0: facing the camera)."""
    x, y, w, h = box
    right_eye, left_eye = [x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h]
    nose = [x + 0.5 * w + turn * 0.4 * w, y + 0.6 * h]
    return [right_eye, left_eye, nose, [x + 0.5 * w, y + 0.8 * h], [x, y + 0.5 * h], [x + w, y + 0.5 * h]]


def _couch(tracker, frames, start: float = 0.0):
    """``frames``: per frame a list of (box, turn); one update per frame with keypoints."""
    return [tracker.update(np.array([b for b, _ in faces], np.float64).reshape(-1, 4), start + i / FPS,
                           keypoints=np.array([_keypoints(b, t) for b, t in faces]).reshape(-1, 6, 2))
            for i, faces in enumerate(frames)]


def test_frontality_is_one_facing_the_camera_and_falls_as_the_head_turns():
    from emoplay.pipeline._track import frontality

    box = [0, 0, 100, 100]
    got = frontality(np.array([_keypoints(box, t) for t in (0.0, 0.25, 0.5, 1.0)]))
    np.testing.assert_allclose(got, [1.0, 0.75, 0.5, 0.3])


def test_a_larger_but_turned_face_does_not_take_the_primary_from_a_frontal_one():
    tracker = FaceTracker()
    player, neighbour = [100, 100, 100, 100], [400, 100, 140, 140]
    # The neighbour is nearer (twice the area) but watches the player: turned half an eye distance away.
    _couch(tracker, [[(player, 0.0), (neighbour, 0.5)]] * 150)
    assert tracker.primary_id == 1
    # Seen together from the start, the frontal face is the primary even though it is smaller.
    other = FaceTracker()
    _couch(other, [[(neighbour, 0.5), (player, 0.0)]] * 10)
    assert other.primary_id == 2


def test_the_primary_passes_to_a_face_that_outscores_it_long_enough_and_not_to_a_lean_in():
    tracker = FaceTracker()
    player, other = [100, 100, 100, 100], [400, 100, 100, 100]
    _couch(tracker, [[(player, 0.0), (other, 0.0)]] * 30)
    assert tracker.primary_id == 1
    leaning = [400, 80, 160, 160]  # 2.56 x the area, for 1.5 s: shorter than primary_switch_s
    _couch(tracker, [[(player, 0.0), (leaning, 0.0)]] * 45, start=1.0)
    assert tracker.primary_id == 1
    _couch(tracker, [[(player, 0.0), (other, 0.0)]] * 15, start=2.5)
    # The other player moves to the front and stays: primary after primary_switch_s (2 s) of outscoring.
    moved = [380, 60, 180, 180]
    primary = []
    for i in range(90):
        _couch(tracker, [[(player, 0.0), (moved, 0.0)]], start=3.0 + i / FPS)
        primary.append(tracker.primary_id)
    assert primary.index(2) == 60  # 2 s at 30 fps after it began to outscore the player
    assert set(primary[60:]) == {2}
