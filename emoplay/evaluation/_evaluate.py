"""Evaluation of the emotion classifier on labelled images: metrics, robustness, report.

The metric functions are plain numpy. A prediction of ``-1`` means "no prediction" (no face
was detected): it counts as a miss for accuracy and recall, and is left out of the confusion
matrix, precision and calibration, which need a predicted class.

:func:`evaluate` runs the classifier over a :class:`~emoplay.evaluation._datasets.LabeledImages` in one
of two ways: ``faces="crop"`` takes each image as a face crop (FER2013 images are), and
``faces="detect"`` treats each image as a full frame, runs the face detector on it and
classifies the highest-scoring face. The result is an :class:`EvalReport`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ._datasets import LabeledImages
from .._errors import DataError

ECE_BINS = 15
ROBUSTNESS_SEED = 0  # seeds the noise perturbation, so robustness figures repeat exactly
_BATCH = 256  # faces per classifier call in untimed passes (robustness)
NO_FACE = -1  # the prediction recorded for an image in which no face was detected


# --- metrics -----------------------------------------------------------------------------------

def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts [true class, predicted class], int64 [C, C]; predictions < 0 (no face) are left out."""
    y_true, y_pred = _check_labels(y_true, y_pred, n_classes)
    has = y_pred >= 0
    flat = y_true[has] * n_classes + y_pred[has]
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of items predicted correctly; a missing prediction (< 0) is wrong."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("accuracy of zero items is undefined")
    return float(np.mean(y_true == y_pred))


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray,
                        n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 (float64 [C]) and support (int64 [C]).

    Support counts every item of the class, so missing predictions lower recall. A ratio with a
    zero denominator is 0 (a class never predicted has precision 0).
    """
    y_true, y_pred = _check_labels(y_true, y_pred, n_classes)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = np.bincount(y_true, minlength=n_classes)
    precision = np.divide(tp, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n_classes), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return precision, recall, f1, support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean F1 over the classes that occur in ``y_true`` or ``y_pred``."""
    y_true, y_pred = _check_labels(y_true, y_pred, n_classes)
    _, _, f1, support = precision_recall_f1(y_true, y_pred, n_classes)
    present = (support > 0) | (np.bincount(y_pred[y_pred >= 0], minlength=n_classes) > 0)
    if not present.any():
        raise ValueError("macro-F1 of zero items is undefined")
    return float(f1[present].mean())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE: the mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size.

    Confidence is the top probability; bin ``b`` holds confidences in ``(b/n_bins, (b+1)/n_bins]``.
    """
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    if probs.ndim != 2 or labels.shape != (len(probs),):
        raise ValueError(f"probs must be [N, C] and labels [N], got {probs.shape} and {labels.shape}")
    if len(probs) == 0:
        raise ValueError("calibration of zero items is undefined")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, correct, n_bins) - np.bincount(bins, confidence, n_bins))
    return float(gap.sum() / len(probs)) if count.any() else 0.0


def _check_labels(y_true, y_pred, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= n_classes or y_pred.max() >= n_classes):
        raise ValueError(f"labels must be in 0..{n_classes - 1} (predictions may also be {NO_FACE}: no face)")
    return y_true, y_pred


# --- robustness perturbations --------------------------------------------------------------------

def _scale(image: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * factor, 0, 255).round().astype(np.uint8)


def _contrast(image: np.ndarray, factor: float) -> np.ndarray:
    x = image.astype(np.float32)
    mean = x.mean()
    return np.clip(mean + factor * (x - mean), 0, 255).round().astype(np.uint8)


def _noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def _blur(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (5, 5), 1.0, borderType=cv2.BORDER_REPLICATE)


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _occlude_mouth(image: np.ndarray) -> np.ndarray:
    # A mid-grey square a third of the image wide over the mouth of a FER2013-framed face:
    # 16x16 at rows 28-43, columns 16-31 of a 48x48 crop. Positions are relative to the image,
    # so for full frames (faces="detect") it covers the middle-bottom of the frame instead.
    h, w = image.shape[:2]
    side = max(round(min(h, w) / 3), 1)
    top, left = round(0.75 * h - side / 2), round(w / 2 - side / 2)
    out = image.copy()
    out[top:top + side, left:left + side] = 128
    return out


Perturbation = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# name -> (what it does, function of (image, rng)). Images are uint8 gray or BGR; values clip to 0..255.
PERTURBATIONS: dict[str, tuple[str, Perturbation]] = {
    "brightness_plus40": ("pixel values x1.4", lambda im, rng: _scale(im, 1.4)),
    "brightness_minus40": ("pixel values x0.6", lambda im, rng: _scale(im, 0.6)),
    "low_contrast": ("contrast x0.5 around the image mean", lambda im, rng: _contrast(im, 0.5)),
    "noise_sigma10": ("additive Gaussian noise, sigma 10 of 255 (seeded)", lambda im, rng: _noise(im, 10.0, rng)),
    "blur_5x5": ("Gaussian blur 5x5, sigma 1", lambda im, rng: _blur(im)),
    "rotate_plus15": ("rotated 15 deg counter-clockwise, edges replicated", lambda im, rng: _rotate(im, 15.0)),
    "rotate_minus15": ("rotated 15 deg clockwise, edges replicated", lambda im, rng: _rotate(im, -15.0)),
    "occlusion_mouth": ("grey square, 1/3 of the width, over the mouth", lambda im, rng: _occlude_mouth(im)),
}


def perturb(images: np.ndarray | list[np.ndarray], name: str, seed: int = ROBUSTNESS_SEED) -> list[np.ndarray]:
    """The images under one named perturbation; the same seed gives the same images."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; choose from {', '.join(PERTURBATIONS)}")
    fn = PERTURBATIONS[name][1]
    rng = np.random.default_rng(seed)
    return [fn(np.asarray(image), rng) for image in images]


# --- the evaluation run -------------------------------------------------------------------------

@dataclass(frozen=True)
class EvalReport:
    class_names: tuple[str, ...]
    n: int  # images evaluated
    no_face: int  # images in which the detector found no face (counted as misses); 0 for faces="crop"
    accuracy: float  # correct / n
    macro_f1: float
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    no_face_per_class: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]  # [true][predicted], classified faces only
    ece: float | None  # over classified faces; None when no face was classified
    ms_per_face: float | None  # classifier time per face, one face per call as in a game frame
    faces: str  # "crop" or "detect"
    source: str
    model_version: str
    model_path: str
    threads: int
    flip_average: bool
    robustness: tuple[tuple[str, float], ...] = ()  # (perturbation, accuracy), "clean" first
    # Per-subject calibration (per_subject.py); None when the run was not calibrated.
    calibration: str | None = None  # "per-subject" or "per-subject-auto"
    subject_pattern: str | None = None
    calibration_strength: float | None = None
    subjects: int | None = None
    uncalibrated: int | None = None  # images with a face left uncalibrated: no subject, or no other neutral image
    unmatched: int | None = None  # images whose file name has no subject, with a face found or not
    accuracy_uncalibrated: float | None = None  # the same run without calibration
    recall_uncalibrated: tuple[float, ...] = ()
    # Scored against a crowd's votes (emoplay eval --labels ferplus): the labels are the crowd's majority, and
    # two soft figures compare the probabilities with the vote distributions; None otherwise.
    labels: str = "data"  # "data": the data set's own labels; "ferplus": the FER+ crowd's majority
    soft_cross_entropy: float | None = None  # mean -sum(votes share x log p), nats; lower is better
    crowd_agreement: float | None = None  # mean share of annotators who chose the predicted class

    @property
    def accuracy_on_faces(self) -> float | None:
        """Accuracy over the images in which a face was found."""
        found = self.n - self.no_face
        return sum(self.confusion[i][i] for i in range(len(self.class_names))) / found if found else None

    def to_dict(self) -> dict:
        """A JSON-ready dict (no NaN: undefined figures are None)."""
        return {
            "source": self.source,
            "faces": self.faces,
            "n": self.n,
            "no_face": self.no_face,
            "accuracy": self.accuracy,
            "accuracy_on_faces": self.accuracy_on_faces,
            "macro_f1": self.macro_f1,
            "ece": self.ece,
            "ece_bins": ECE_BINS,
            "ms_per_face": self.ms_per_face,
            "class_names": list(self.class_names),
            "per_class": {
                name: {"precision": self.precision[i], "recall": self.recall[i], "f1": self.f1[i],
                       "support": self.support[i], "no_face": self.no_face_per_class[i]}
                for i, name in enumerate(self.class_names)
            },
            "confusion": [list(row) for row in self.confusion],
            "model": {"version": self.model_version, "path": self.model_path, "threads": self.threads,
                      "flip_average": self.flip_average},
            "robustness": dict(self.robustness) if self.robustness else None,
            "labels": self.labels,
            "soft_cross_entropy": self.soft_cross_entropy,
            "crowd_agreement": self.crowd_agreement,
            **self._calibration_dict(),
        }

    def _calibration_dict(self) -> dict:
        if self.calibration is None:
            return {"calibrated": False}
        return {
            "calibrated": True,
            "subjects": self.subjects,
            "calibration": {"method": self.calibration, "subject_pattern": self.subject_pattern,
                            "strength": self.calibration_strength, "uncalibrated": self.uncalibrated,
                            "unmatched": self.unmatched, "accuracy_uncalibrated": self.accuracy_uncalibrated,
                            "recall_uncalibrated": dict(zip(self.class_names, self.recall_uncalibrated))},
        }

    def _calibration_lines(self) -> list[str]:
        if self.calibration is None:
            return []
        lines = ["", f"calibration {self.calibration} (subject: first group of {self.subject_pattern!r} in the file "
                     f"name; strength {self.calibration_strength:g}): {self.subjects} subjects, each image "
                     "calibrated on its subject's other neutral images",
                 f"  not calibrated: {self.uncalibrated} images with a face (their subject has no other neutral "
                 "image" + (f", or they have none: {self.unmatched} file names match no subject" if self.unmatched
                            else "") + ")",
                 f"  accuracy uncalibrated {self.accuracy_uncalibrated:.4f} -> calibrated {self.accuracy:.4f}",
                 f"  {'class':<10}{'recall uncalibrated':>20}{'calibrated':>12}"]
        for i, name in enumerate(self.class_names):
            lines.append(f"  {name:<10}{self.recall_uncalibrated[i]:>20.3f}{self.recall[i]:>12.3f}")
        return lines

    def to_text(self) -> str:
        """The report as printed by ``emoplay eval``."""
        names = self.class_names
        width = max(10, *(len(name) + 2 for name in names))
        lines = [
            f"data      {self.source}",
            f"labels    {'the FER+ crowd majority' if self.labels == 'ferplus' else 'as given in the data'}",
            f"faces     {self.faces}" + ("" if self.faces == "crop" else
                                          f" (no face detected in {self.no_face} of {self.n} images: "
                                          "counted as misses)"),
            f"model     {self.model_version} ({self.model_path}), threads {self.threads}, "
            f"flip-average {'on' if self.flip_average else 'off'}",
            "",
            f"n             {self.n}",
            f"accuracy      {self.accuracy:.4f}",
        ]
        if self.faces == "detect":
            on_faces = self.accuracy_on_faces
            lines.append(f"  on faces    {'-' if on_faces is None else f'{on_faces:.4f}'}"
                         f" ({self.n - self.no_face} images with a face)")
        lines += [
            f"macro-F1      {self.macro_f1:.4f}",
            f"ECE ({ECE_BINS} bins) {'-' if self.ece is None else f'{self.ece:.4f}'}",
            *([f"soft CE       {self.soft_cross_entropy:.4f} (nats, against the crowd's vote shares)",
               f"crowd agree   {self.crowd_agreement:.4f} (share of annotators who chose the predicted class)"]
              if self.soft_cross_entropy is not None else []),
            f"ms per face   {'-' if self.ms_per_face is None else f'{self.ms_per_face:.2f}'}"
            " (classifier only, one face per call)",
            "",
            f"{'class':<{width}}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"
            + (f"{'no face':>9}" if self.faces == "detect" else ""),
        ]
        for i, name in enumerate(names):
            lines.append(f"{name:<{width}}{self.precision[i]:>10.3f}{self.recall[i]:>8.3f}{self.f1[i]:>8.3f}"
                         f"{self.support[i]:>9d}" + (f"{self.no_face_per_class[i]:>9d}" if self.faces == "detect"
                                                     else ""))
        lines += ["", "confusion (rows: true class, columns: predicted)"]
        cell = max(9, *(len(name) + 1 for name in names))
        header = f"{'':<{width}}" + "".join(f"{name:>{cell}}" for name in names)
        if self.faces == "detect":
            header += f"{'no face':>{cell}}"
        lines.append(header)
        for i, name in enumerate(names):
            row = "".join(f"{count:>{cell}d}" for count in self.confusion[i])
            if self.faces == "detect":
                row += f"{self.no_face_per_class[i]:>{cell}d}"
            lines.append(f"{name:<{width}}{row}")
        lines += self._calibration_lines()
        if self.robustness:
            clean = dict(self.robustness).get("clean", self.accuracy)
            lines += ["", f"robustness (accuracy; change from clean; seed {ROBUSTNESS_SEED})"]
            for key, value in self.robustness:
                what = "as given" if key == "clean" else PERTURBATIONS[key][0]
                change = "" if key == "clean" else f"{value - clean:+8.4f}"
                lines.append(f"{key:<20}{value:>8.4f}{change:>9}   {what}")
        return "\n".join(lines)


def evaluate(data: LabeledImages, classifier, faces: str = "crop", detector=None,
             robustness: bool = False, calibration: str | None = None, subject_pattern: str | None = None,
             calibration_strength: float | None = None, crowd_votes: np.ndarray | None = None,
             progress: Callable[[int], None] | None = None) -> EvalReport:
    """Classify every image of ``data`` and measure the results.

    ``classifier`` is an :class:`~emoplay.pipeline._classify.EmotionClassifier`; ``detector`` a
    :class:`~emoplay.detection.FaceDetector` in image mode, needed for ``faces="detect"``.
    ``calibration`` ("per-subject" or "per-subject-auto", with ``subject_pattern``) calibrates each
    image on its subject's other neutral images (emoplay/evaluation/per_subject.py). ``crowd_votes``
    [N, C] (vote shares per image, in ``data.class_names`` order; see emoplay.evaluation.ferplus) marks
    ``data``'s labels as the crowd's majority and adds the soft figures. ``progress(done)`` is called as
    the images are classified (``done`` of ``len(data)``).
    """
    if calibration is not None and robustness:
        raise ValueError("robustness and calibration cannot be measured in one run: pick one")
    if calibration is not None and not subject_pattern:
        raise ValueError("per-subject calibration needs a subject pattern (a regular expression with one group)")
    if faces not in ("crop", "detect"):
        raise ValueError(f"faces must be 'crop' or 'detect', got {faces!r}")
    if faces == "detect" and detector is None:
        raise ValueError("faces='detect' needs a FaceDetector (video_mode=False)")
    if len(data) == 0:
        raise DataError(f"{data.source} holds no images")
    class_names = tuple(classifier.class_names)
    labels = _to_model_labels(data, class_names)
    n_classes = len(class_names)

    predicted, probs, seconds = _predict(data.images, classifier, faces, detector, timed=True, progress=progress)
    calibrated = {}
    if calibration is not None:
        predicted, probs, calibrated = _calibrate(data, labels, predicted, probs, classifier, calibration,
                                                  subject_pattern, calibration_strength)
    found = predicted >= 0
    precision, recall, f1, support = precision_recall_f1(labels, predicted, n_classes)
    no_face_per_class = np.bincount(labels[~found], minlength=n_classes)
    results = [("clean", accuracy(labels, predicted))]
    if robustness:
        for name in PERTURBATIONS:
            changed = perturb(data.images, name)
            results.append((name, accuracy(labels, _predict(changed, classifier, faces, detector)[0])))
    soft = {}
    if crowd_votes is not None:
        soft = _soft_figures(np.asarray(crowd_votes, np.float64), data, class_names, probs, predicted)
    info = classifier.info
    return EvalReport(
        class_names=class_names,
        n=len(labels),
        no_face=int((~found).sum()),
        accuracy=results[0][1],
        macro_f1=macro_f1(labels, predicted, n_classes),
        precision=tuple(float(v) for v in precision),
        recall=tuple(float(v) for v in recall),
        f1=tuple(float(v) for v in f1),
        support=tuple(int(v) for v in support),
        no_face_per_class=tuple(int(v) for v in no_face_per_class),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion_matrix(labels, predicted, n_classes)),
        ece=expected_calibration_error(probs[found], labels[found]) if found.any() else None,
        ms_per_face=1000.0 * seconds / found.sum() if found.any() else None,
        faces=faces,
        source=data.source,
        model_version=info.version,
        model_path=info.path,
        threads=classifier.options.threads,
        flip_average=classifier.flip_average,
        robustness=tuple(results) if robustness else (),
        **calibrated,
        **soft,
    )


def _soft_figures(votes: np.ndarray, data: LabeledImages, class_names: tuple[str, ...], probs: np.ndarray,
                  predicted: np.ndarray) -> dict:
    """The report's crowd fields: soft cross-entropy and crowd agreement over the faces classified."""
    if votes.shape != (len(data), len(data.class_names)):
        raise ValueError(f"crowd_votes must be [{len(data)}, {len(data.class_names)}], got {votes.shape}")
    votes = votes[:, [data.class_names.index(name) for name in class_names]]  # into the model's class order
    found = predicted >= 0
    if not found.any():
        return dict(labels="ferplus")
    p = np.clip(probs[found].astype(np.float64), 1e-7, 1.0)
    cross_entropy = float(-(votes[found] * np.log(p)).sum(axis=1).mean())
    agreement = float(votes[found, predicted[found]].mean())
    return dict(labels="ferplus", soft_cross_entropy=cross_entropy, crowd_agreement=agreement)


def _calibrate(data: LabeledImages, labels: np.ndarray, predicted: np.ndarray, probs: np.ndarray, classifier,
               method: str, pattern: str, strength: float | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Per-subject calibrated predictions and probabilities, and the report's calibration fields. ``strength``
    None: the runtime's default for ``method`` (an explicit calibration's, or automatic mode's)."""
    from .per_subject import calibrate_per_subject, subjects_of

    if not data.names:
        raise DataError(f"{data.source} has no file names; per-subject calibration needs them (use an image folder)")
    subjects = subjects_of(data.names, pattern)
    if all(subject is None for subject in subjects):
        raise DataError(f"--subject-pattern {pattern!r} finds a subject in none of the {len(subjects)} file names "
                        f"(e.g. {Path(data.names[0]).name}); its first group must match the subject id")
    class_names = tuple(classifier.class_names)
    found = predicted >= 0
    result = calibrate_per_subject(probs, labels, found, subjects, class_names, method=method, strength=strength,
                                   model_version=classifier.info.version,
                                   model_strength=classifier.info.calibration_strength)
    recall_uncalibrated = precision_recall_f1(labels, predicted, len(class_names))[1]
    fields = dict(calibration=method, subject_pattern=pattern, calibration_strength=result.strength,
                  subjects=result.subjects, uncalibrated=int((found & ~result.calibrated).sum()),
                  unmatched=result.unmatched, accuracy_uncalibrated=accuracy(labels, predicted),
                  recall_uncalibrated=tuple(float(v) for v in recall_uncalibrated))
    return np.where(found, result.probabilities.argmax(axis=1), NO_FACE), result.probabilities, fields


def _to_model_labels(data: LabeledImages, class_names: tuple[str, ...]) -> np.ndarray:
    """The data's labels as indices into the model's classes (matched by name)."""
    index = {name: i for i, name in enumerate(class_names)}
    used = np.unique(data.labels)
    missing = [data.class_names[i] for i in used if data.class_names[i] not in index]
    if missing:
        raise DataError(f"{data.source}: classes {missing} are not classes of the model "
                        f"({', '.join(class_names)}); rename them or drop those images")
    lookup = np.array([index.get(name, -1) for name in data.class_names], np.int64)
    return lookup[data.labels]


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


def _face_crops(images, size: int) -> np.ndarray:
    """Each image taken as a face crop: gray, resized to size x size when it is not already."""
    import cv2

    if isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[1:] == (size, size):
        return images
    crops = np.empty((len(images), size, size), np.uint8)
    for i, image in enumerate(images):
        gray = _gray(np.asarray(image))
        if gray.shape != (size, size):
            shrink = gray.shape[0] >= size and gray.shape[1] >= size
            gray = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        crops[i] = gray
    return crops


def _predict(images, classifier, faces: str, detector, timed: bool = False,
             progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Predicted class per image (NO_FACE where none was found), probabilities [N, C], seconds spent
    in the classifier (measured one face per call when ``timed``, else 0 and batched)."""
    n_classes = len(classifier.class_names)
    n = len(images)
    probs = np.zeros((n, n_classes), np.float32)
    found = np.ones(n, bool)
    if faces == "crop":
        crops = _face_crops(images, classifier.info.input_size)
    else:
        crops = np.empty((n, classifier.info.input_size, classifier.info.input_size), np.uint8)
        from .._frames import to_rgb_and_gray

        for i, image in enumerate(images):
            rgb, gray = to_rgb_and_gray(np.asarray(image), "bgr")
            detections = detector.detect(rgb)
            if len(detections) == 0:
                found[i] = False
                continue
            best = int(np.argmax(detections.scores))
            crops[i] = classifier.crop_faces(gray, detections.boxes[best:best + 1])[0]
    index = np.flatnonzero(found)
    seconds = 0.0
    if timed:
        for done, i in enumerate(index, start=1):
            start = time.perf_counter()
            probs[i] = classifier.classify_crops(crops[i:i + 1])[0]
            seconds += time.perf_counter() - start
            if progress is not None:
                progress(done)
    else:
        for start in range(0, len(index), _BATCH):
            chunk = index[start:start + _BATCH]
            probs[chunk] = classifier.classify_crops(crops[chunk])
    predicted = np.where(found, probs.argmax(axis=1), NO_FACE)
    return predicted, probs, seconds


def plot_confusion(report: EvalReport, path: str | Path) -> None:
    """Write the confusion matrix as a PNG: cells coloured by row share, labelled with count and %."""
    from .._plotting import matplotlib_figure

    Figure, FigureCanvasAgg = matplotlib_figure("emoplay eval --plot")

    names = list(report.class_names)
    counts = np.array(report.confusion, np.int64)
    columns = names
    if report.no_face:
        counts = np.column_stack([counts, report.no_face_per_class])
        columns = names + ["no face"]
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

    fig = Figure(figsize=(1.2 * len(columns) + 2.4, 1.0 * len(names) + 2.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            dark = share[i, j] > 0.55
            ax.text(j, i, f"{counts[i, j]}\n{100 * share[i, j]:.0f}%", ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right")
    ax.set_yticks(range(len(names)), [f"{name} ({report.support[i]})" for i, name in enumerate(names)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true class (images)")
    ax.set_title(f"emoplay model {report.model_version}, faces: {report.faces}\n"
                 f"n {report.n}, accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class (row)")
    fig.tight_layout()
    fig.savefig(path, format="png")
