"""Saliency maps from the real shipped model on real FER2013 val faces (and the real face detector)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import emoplay
import emoplay.explain
from emoplay.explain import OcclusionOptions, RiseOptions, SaliencyExplainer, SaliencyOptions, saliency_map

FAST = OcclusionOptions(patch=12, stride=6)  # 7 x 7 positions: 50 model runs per face, keeps the tests quick


@pytest.fixture(scope="module")
def explainer():
    with SaliencyExplainer(SaliencyOptions(method="occlusion", occlusion=FAST)) as ex:
        yield ex


@pytest.fixture(scope="module")
def detecting():
    with SaliencyExplainer(SaliencyOptions(faces="detect", method="occlusion", occlusion=FAST)) as ex:
        yield ex


def first_of(labels, classes, name):
    return int(np.flatnonzero(labels == classes.index(name))[0])


@pytest.mark.slow
def test_maps_have_the_crops_shape_are_finite_and_repeat_exactly(explainer, fer_val):
    images, labels, classes = fer_val
    faces = images[[first_of(labels, classes, "happy"), first_of(labels, classes, "surprise")]]
    first = explainer.explain_crops(faces)
    again = explainer.explain_crops(faces)
    for a, b, crop in zip(first, again, faces):
        assert a.saliency.shape == crop.shape and a.saliency.dtype == np.float32
        assert np.isfinite(a.saliency).all()
        assert a.saliency.max() > 0  # hiding some part of a real face lowers the probability
        np.testing.assert_array_equal(a.saliency, b.saliency)  # deterministic
        np.testing.assert_array_equal(a.crop, crop)
    # The unoccluded probabilities are the classifier's own.
    plain = explainer.classifier.classify_crops(faces)
    np.testing.assert_allclose([f.probabilities for f in first], plain, atol=1e-5)
    assert [f.predicted for f in first] == [classes[i] for i in plain.argmax(1)]
    assert all(f.target == f.predicted for f in first)


def test_map_of_an_image_has_the_images_shape(explainer, fer_val):
    import cv2

    images, _, _ = fer_val
    wide = cv2.cvtColor(cv2.resize(images[0], (150, 120), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    heat = explainer.saliency_map(wide)
    assert heat.shape == (120, 150) and heat.dtype == np.float32 and np.isfinite(heat).all()
    # It is the crop's map resampled: the peaks agree in relative position (within one stride).
    face = explainer.explain(wide)[0]
    small = np.array(np.unravel_index(np.argmax(face.saliency), face.saliency.shape)) / 48
    large = np.array(np.unravel_index(np.argmax(heat), heat.shape)) / (120, 150)
    assert np.abs(small - large).max() <= FAST.stride / 48 + 1e-9


def test_hiding_the_peak_costs_more_than_hiding_the_coolest_spot(explainer, fer_val):
    # The map is oriented and placed right: hiding where it is hottest lowers the explained class's
    # probability more than hiding where it is coolest (a transposed or flipped map fails this).
    images, labels, classes = fer_val
    fill = round(255 * explainer.classifier.info.mean)
    for name in ("happy", "surprise", "angry"):
        crop = images[first_of(labels, classes, name)]
        face = explainer.explain_crops(crop[None])[0]
        target = classes.index(face.target)

        def hidden_at(index):
            y, x = np.unravel_index(index, crop.shape)
            half, p = FAST.patch // 2, FAST.patch
            y0, x0 = int(np.clip(y - half, 0, 48 - p)), int(np.clip(x - half, 0, 48 - p))
            occluded = crop.copy()
            occluded[y0:y0 + p, x0:x0 + p] = fill
            return float(explainer.classifier.classify_crops(occluded[None])[0, target])

        assert hidden_at(np.argmax(face.saliency)) < hidden_at(np.argmin(face.saliency)), name


def frame_with(face48: np.ndarray, top: int, left: int, side: int = 192) -> np.ndarray:
    """A 480x640 BGR frame: the face enlarged to ``side`` pixels on a plain background of its mean grey."""
    import cv2

    frame = np.full((480, 640), int(face48.mean()), np.uint8)
    frame[top:top + side, left:left + side] = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def inside(point, region) -> bool:
    x, y, w, h = region
    return x <= point[1] < x + w and y <= point[0] < y + h


@pytest.mark.slow
def test_the_map_follows_the_face_when_it_moves_in_the_frame(detecting, fer_val):
    images, _, _ = fer_val
    shift = np.array([200, 400])  # rows, columns
    checked, tried = 0, 0
    for index in range(12):
        face48 = images[index]
        frames = frame_with(face48, 40, 40), frame_with(face48, 40 + shift[0], 40 + shift[1])
        faces = [detecting.explain(f) for f in frames]
        tried += 1
        if not all(len(found) == 1 for found in faces):
            continue  # a FER face the detector misses on a plain background: take the next one
        (a,), (b,) = faces
        heat_a, heat_b = (f.saliency_in_image(frames[0].shape) for f in (a, b))
        assert heat_a.shape == heat_b.shape == (480, 640) and np.isfinite(heat_a).all()
        if checked == 0:  # the frame-level API gives the same map
            np.testing.assert_array_equal(detecting.saliency_map(frames[0]), heat_a)
        for heat, face, other in ((heat_a, a, b), (heat_b, b, a)):
            x, y, w, h = face.region
            outside = heat.copy()
            outside[max(y, 0):y + h, max(x, 0):x + w] = 0
            assert not outside.any()  # nothing outside the face's crop
            peak = np.unravel_index(np.argmax(heat), heat.shape)
            assert inside(peak, face.region) and not inside(peak, other.region)
        # Where the map's weight lies moves with the face (a map that stayed put would be off by 450 px).
        moved = centroid(heat_b) - centroid(heat_a)
        assert np.abs(moved - shift).max() < 0.35 * a.box[2], (index, moved)
        checked += 1
        if checked == 3:
            break
    assert checked == 3, f"the detector found only {checked} of {tried} val faces in both frames"


def centroid(heat: np.ndarray) -> np.ndarray:
    weight = np.clip(heat, 0, None)
    rows, cols = np.indices(heat.shape)
    return np.array([(weight * rows).sum(), (weight * cols).sum()]) / weight.sum()


def test_no_face_gives_no_explanation_and_an_all_zero_map(detecting):
    blank = np.full((240, 320, 3), 128, np.uint8)
    assert detecting.explain(blank) == []
    heat = detecting.saliency_map(blank)
    assert heat.shape == (240, 320) and not heat.any()


def test_a_chosen_class_is_explained_instead_of_the_predicted_one(fer_val):
    images, labels, classes = fer_val
    crop = images[first_of(labels, classes, "happy")]
    with SaliencyExplainer(SaliencyOptions(method="occlusion", occlusion=FAST, target="sad")) as ex:
        face = ex.explain(crop)[0]
    assert face.target == "sad" and face.predicted == "happy"
    assert face.saliency.shape == (48, 48) and np.isfinite(face.saliency).all()


def test_one_off_function_returns_the_map_and_writes_nothing(fer_val, tmp_path, monkeypatch):
    images, _, _ = fer_val
    monkeypatch.chdir(tmp_path)
    heat = saliency_map(images[3], SaliencyOptions(rise=RiseOptions(masks=60)))
    assert heat.shape == (48, 48) and np.isfinite(heat).all()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, match", [
    (lambda: OcclusionOptions(patch=0), "patch"),
    (lambda: OcclusionOptions(patch=4, stride=8), "stride"),
    (lambda: SaliencyOptions(faces="guess"), "faces"),
    (lambda: SaliencyOptions(method="gradients"), "method"),
    (lambda: RiseOptions(masks=0), "masks"),
    (lambda: RiseOptions(keep=1.0), "keep"),
    (lambda: SaliencyExplainer(SaliencyOptions(rise=RiseOptions(grid=64))), "finer"),
    (lambda: SaliencyOptions(faces="detect", detector=emoplay.DetectorOptions(video_mode=True)), "video_mode"),
    (lambda: SaliencyExplainer(SaliencyOptions(target="bored")), "not a class"),
    (lambda: SaliencyExplainer(SaliencyOptions(method="occlusion", occlusion=OcclusionOptions(patch=64, stride=8))),
     "larger"),
])
def test_invalid_options_are_rejected_with_a_message(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_crops_are_a_clear_error(explainer):
    with pytest.raises(ValueError, match=r"uint8 \[N, 48, 48\]"):
        explainer.explain_crops(np.zeros((2, 32, 32), np.uint8))


def test_public_names_load_no_heavy_library():
    code = ("import sys, emoplay.explain; "
            "emoplay.explain.SaliencyExplainer, emoplay.explain.saliency_map, emoplay.explain.OcclusionOptions, "
            "emoplay.explain.RiseOptions; "
            "print(','.join(m for m in ('cv2', 'onnxruntime', 'mediapipe') if m in sys.modules))")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""


# -- random masks: the default, for single faces ------------------------------------------------------------------

def ckplus_smiles(n: int) -> np.ndarray:
    """The first ``n`` CK+ happy crops: broad, posed smiles the model is sure of."""
    import cv2

    from tests.support import SHARED, require_shared

    files = sorted(require_shared(SHARED / "data" / "ckplus" / "happy").glob("*.png"))[:n]
    return np.stack([cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (48, 48), interpolation=cv2.INTER_AREA)
                     for f in files])


def test_random_mask_maps_repeat_exactly_and_the_default_method_is_random_masks(fer_val):
    images, _, _ = fer_val
    assert SaliencyOptions().method == "rise"
    with SaliencyExplainer(SaliencyOptions(rise=RiseOptions(masks=80))) as ex:
        first, again = ex.explain_crops(images[:2]), ex.explain_crops(images[:2])
        plain = ex.classifier.classify_crops(images[:2])
    for a, b in zip(first, again):
        assert a.saliency.shape == (48, 48) and a.saliency.dtype == np.float32 and np.isfinite(a.saliency).all()
        np.testing.assert_array_equal(a.saliency, b.saliency)  # a fixed seed: deterministic
        assert -1 <= a.saliency.min() <= a.saliency.max() <= 1 and a.saliency.max() > 0
    np.testing.assert_allclose([f.probabilities for f in first], plain, atol=1e-5)


@pytest.mark.slow
def test_on_confident_smiles_random_masks_rank_the_pixels_better_than_occlusion_and_chance():
    # The faithfulness check (deletion curve): hiding the map's top-ranked pixels first must lower the
    # explained class's probability faster than hiding them in a random order. On a broad smile an 8-pixel
    # grey square barely moves the probability, and the occlusion map ranks no better than chance.
    from emoplay.explain._faithfulness import faithfulness, random_faithfulness

    smiles = ckplus_smiles(3)
    areas = {"rise": [], "occlusion": [], "random": []}
    with SaliencyExplainer(SaliencyOptions()) as rise, \
            SaliencyExplainer(SaliencyOptions(method="occlusion")) as occlusion:
        for k, crop in enumerate(smiles):
            by_rise, by_occlusion = rise.explain_crops(crop[None])[0], occlusion.explain_crops(crop[None])[0]
            assert by_rise.predicted == by_occlusion.predicted == "happy"
            target = by_rise.class_names.index("happy")
            areas["rise"].append(faithfulness(rise.classifier, crop, target, by_rise.saliency))
            areas["occlusion"].append(faithfulness(rise.classifier, crop, target, by_occlusion.saliency))
            areas["random"].append(random_faithfulness(rise.classifier, crop, target, seed=k))
    deletion = {name: np.mean([a.deletion for a in got]) for name, got in areas.items()}
    insertion = {name: np.mean([a.insertion for a in got]) for name, got in areas.items()}
    assert deletion["rise"] < deletion["random"] and deletion["rise"] < deletion["occlusion"], deletion
    assert insertion["rise"] > insertion["random"], insertion  # insertion does not separate the two methods
