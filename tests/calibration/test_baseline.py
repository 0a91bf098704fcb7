"""The baseline math on hand-computed cases, the calibrator's decisions, and the profile format."""

from __future__ import annotations

import math

import numpy as np
import pytest

import emoplay
from emoplay.calibration import Baseline, CalibrationOptions, Calibrator, export_profile, import_profile
from emoplay.calibration.calibrator import instability

ABC = ("a", "b", "neutral")


def single(p, strength=1.0) -> Baseline:
    return Baseline.from_probabilities(np.array([p]), ABC, strength=strength, model_version="test")


def test_strength_one_divides_by_the_baseline_and_renormalises():
    baseline = single([0.5, 0.25, 0.25])
    # p / b = [0.25/0.5, 0.5/0.25, 0.25/0.25] = [0.5, 2, 1]  ->  / 3.5
    np.testing.assert_allclose(baseline.apply(np.array([0.25, 0.5, 0.25])), [1 / 7, 4 / 7, 2 / 7], rtol=1e-5)
    # the baseline face itself comes out uniform
    np.testing.assert_allclose(baseline.apply(np.array([0.5, 0.25, 0.25])), [1 / 3] * 3, rtol=1e-5)


def test_strength_half_divides_by_the_square_root():
    baseline = single([0.5, 0.25, 0.25], strength=0.5)
    # p / sqrt(b) = [0.25/0.70711, 0.5/0.5, 0.25/0.5] = [0.35355, 1, 0.5], sum 1.85355
    np.testing.assert_allclose(baseline.apply(np.array([0.25, 0.5, 0.25])), [0.190744, 0.539501, 0.269755],
                               rtol=1e-4)


def test_the_baseline_is_the_geometric_mean_of_the_frames():
    baseline = Baseline.from_probabilities(np.array([[0.8, 0.1, 0.1], [0.2, 0.4, 0.4]]), ABC)
    # sqrt(0.8*0.2) = 0.4, sqrt(0.1*0.4) = 0.2: [0.4, 0.2, 0.2] -> normalised [0.5, 0.25, 0.25]
    np.testing.assert_allclose(baseline.log_probabilities, np.log([0.4, 0.2, 0.2]), rtol=1e-9)
    np.testing.assert_allclose(baseline.probabilities, [0.5, 0.25, 0.25], rtol=1e-9)
    assert baseline.frames == 2 and baseline.strength == emoplay.calibration.DEFAULT_STRENGTH


def test_batches_and_zero_probabilities():
    baseline = single([1.0, 0.0, 0.0])  # floored before the log: stays finite
    assert all(math.isfinite(v) for v in baseline.log_probabilities)
    out = baseline.apply(np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]))
    assert out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[1], [1 / 3] * 3, rtol=1e-5)


@pytest.mark.parametrize("strength", [0, -0.5, 1.5, float("nan"), True, "1"])
def test_invalid_strength_says_what_is_allowed(strength):
    with pytest.raises(ValueError, match=r"strength must be a number in \(0, 1\]"):
        single([0.5, 0.25, 0.25], strength=strength)


def test_wrong_shapes_are_refused():
    baseline = single([0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="expected probabilities"):
        baseline.apply(np.ones(4) / 4)
    with pytest.raises(ValueError, match="expected probabilities"):
        Baseline.from_probabilities(np.zeros((0, 3)), ABC)


# -- the calibrator ------------------------------------------------------------------------------------------

NEUTRALISH = np.array([0.1, 0.1, 0.8], np.float32)


def feed(calibrator, frames):
    """frames: (timestamp, confirmed ids, primary id, probabilities or None); returns every event."""
    events = []
    for t, confirmed, primary, p in frames:
        events += calibrator.update(t, set(confirmed), primary, p)
    return events


def test_calibrator_collects_the_primary_face_and_reports_progress():
    calibrator = Calibrator(ABC, CalibrationOptions(seconds=1.0, progress_step=0.25), model_version="m")
    events = feed(calibrator, [(0.1 * i, [], None, None) for i in range(3)])  # no face yet: waits
    assert events == [] and not calibrator.done
    events = feed(calibrator, [(0.3 + 0.1 * i, [7], 7, NEUTRALISH) for i in range(11)])
    names = [type(e).__name__ for e in events]
    assert names == ["CalibrationProgress"] * 4 + ["CalibrationFinished"]
    assert [e.fraction for e in events[:4]] == pytest.approx([0.3, 0.5, 0.8, 1.0], abs=0.051)
    assert events[-1].track_id == 7 and events[-1].frames == 11 and events[-1].seconds == pytest.approx(1.0)
    assert calibrator.done and calibrator.baseline.model_version == "m"
    np.testing.assert_allclose(calibrator.baseline.probabilities, NEUTRALISH, rtol=1e-5)


@pytest.mark.parametrize("frames, reason", [
    ([(0.0, [1, 2], 1, NEUTRALISH)], "several_faces"),
    ([(0.0, [1], 1, NEUTRALISH), (0.1, [1], 1, NEUTRALISH), (0.2, [], None, None)], "face_lost"),
    ([(0.5 * i, [], None, None) for i in range(12)], "no_face"),
    ([(0.0, [1], 1, NEUTRALISH)] + [(0.1 * i, [1], 1, None) for i in range(1, 11)], "too_short"),  # 1 frame < 5
    ([(0.1 * i, [1], 1, np.roll(NEUTRALISH, i)) for i in range(11)], "unstable"),
])
def test_calibrator_failures(frames, reason):
    calibrator = Calibrator(ABC, CalibrationOptions(seconds=1.0))
    events = feed(calibrator, frames)
    assert [type(e).__name__ for e in events if type(e).__name__ != "CalibrationProgress"] == ["CalibrationFailed"]
    assert events[-1].reason == reason and events[-1].reason in emoplay._events.CALIBRATION_FAILURES
    assert calibrator.done and calibrator.baseline is None
    assert feed(calibrator, frames[-1:]) == []  # done: nothing more


def test_calibrator_ended_early_is_too_short():
    calibrator = Calibrator(ABC, CalibrationOptions(seconds=3.0))
    feed(calibrator, [(0.1 * i, [1], 1, NEUTRALISH) for i in range(10)])
    (failed,) = calibrator.end(1.0)
    assert failed.reason == "too_short" and "after 1.0 s of the 3 s" in failed.message


def test_instability_is_the_mean_total_variation_from_the_mean():
    assert instability(np.array([NEUTRALISH, NEUTRALISH])) == 0.0
    # rows [1,0] and [0,1]: mean [0.5,0.5], each row 0.5 away
    assert instability(np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(0.5)


@pytest.mark.parametrize("kwargs", [{"seconds": 0.1}, {"seconds": "3"}, {"min_frames": 0}, {"strength": 2},
                                    {"max_instability": 0}, {"face_timeout_s": 0}, {"face_timeout_s": float("nan")},
                                    {"min_frames": float("nan")}, {"min_frames": 2.5}, {"min_frames": True},
                                    {"progress_step": float("nan")}])
def test_bad_calibration_options(kwargs):
    with pytest.raises((ValueError, TypeError)):
        CalibrationOptions(**kwargs)


@pytest.mark.parametrize("kwargs", [{"seconds": float("nan")}, {"seconds": 0}, {"min_frames": float("nan")},
                                    {"min_frames": 0}, {"min_frames": 2.5}])
def test_bad_automatic_calibration_options(kwargs):
    from emoplay.calibration.per_track import AutoCalibrationOptions

    with pytest.raises((ValueError, TypeError)):
        AutoCalibrationOptions(**kwargs)


# -- the profile ---------------------------------------------------------------------------------------------

def test_profile_round_trip_is_small_and_holds_no_pixels():
    baseline = Baseline.from_probabilities(np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7]]), ABC, model_version="1.1.0")
    profile = export_profile(baseline)
    assert isinstance(profile, bytes) and len(profile) < 400
    back = import_profile(profile, ABC, "1.1.0")
    assert back.class_names == ABC and back.frames == 2 and back.strength == baseline.strength
    np.testing.assert_allclose(back.log_probabilities, baseline.log_probabilities, atol=1e-6)


def test_damaged_or_foreign_profiles_are_refused_with_a_way_out():
    profile = export_profile(single([0.5, 0.25, 0.25]))
    damaged = bytearray(profile)
    damaged[20] ^= 0x01
    with pytest.raises(emoplay.CalibrationError, match="damaged"):
        import_profile(bytes(damaged))
    with pytest.raises(emoplay.CalibrationError, match="not an emoplay calibration profile"):
        import_profile(b"PNG" + profile)
    with pytest.raises(emoplay.CalibrationError, match="made with model test.*runs model 1.2.0: calibrate"):
        import_profile(profile, ABC, "1.2.0")
    with pytest.raises(emoplay.CalibrationError, match="classes"):
        import_profile(profile, ("x", "y", "z"))
    newer = profile[:8] + bytes([9]) + profile[9:]
    with pytest.raises(emoplay.CalibrationError, match="format 9 is not supported"):
        import_profile(newer)
    with pytest.raises(TypeError, match="bytes"):
        import_profile("EMOPCAL")


def test_an_edited_profile_with_a_valid_checksum_but_json_nested_too_deep_is_damaged():
    import struct
    import zlib

    from emoplay.calibration.profile import FORMAT_VERSION, MAGIC

    data = MAGIC + bytes([FORMAT_VERSION]) + b"[" * 2000 + b"]" * 2000  # a hand-edited save file, under the size cap
    with pytest.raises(emoplay.CalibrationError, match="damaged.*RecursionError.*calibrate the player again"):
        import_profile(data + struct.pack(">I", zlib.crc32(data)))
