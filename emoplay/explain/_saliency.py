"""The library API of ``emoplay explain``: saliency maps of the emotion model's decisions as arrays.

    from emoplay.explain import SaliencyExplainer, SaliencyOptions

    with SaliencyExplainer(SaliencyOptions(faces="detect")) as explainer:
        for face in explainer.explain(frame):      # a BGR/RGB/gray uint8 array
            face.saliency                            # float32 [48, 48] over face.crop
            face.predicted, face.probabilities
        heat = explainer.saliency_map(frame)         # float32, the frame's height x width

Offline by design: it takes arrays the host hands it (a study's stored images, a screenshot the
player chose), never hooks the camera, and writes nothing; writing PNGs is the CLI's job
(:mod:`emoplay.explain._overlay`). Methods and their limits: :mod:`emoplay.explain._rise` (random
masks, the default: meaningful for one face) and :mod:`emoplay.explain._occlusion` (a sliding grey
square: cheaper, for averages over many faces). :mod:`emoplay.explain._faithfulness` measures how
well a map ranks the pixels the decision depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..pipeline._classify import ClassifierOptions, EmotionClassifier
from ..detection import DetectorOptions
from ._occlusion import OcclusionOptions, occlusion_maps
from ._rise import RiseOptions, random_masks, rise_maps

FACE_MODES = ("crop", "detect", "auto")
SQUARE = 1.2  # faces="auto": an image at most this much wider than tall (or taller than wide) is a face crop
METHODS = ("rise", "occlusion")


@dataclass(frozen=True)
class SaliencyOptions:
    faces: str = "crop"  # "crop": the whole image is one face crop; "detect": find faces with the detector;
    # "auto": a square image (within SQUARE) is a face crop, any other is searched with the detector
    method: str = "rise"  # "rise": random masks (see _rise.py); "occlusion": a sliding grey square
    rise: RiseOptions = field(default_factory=RiseOptions)
    occlusion: OcclusionOptions = field(default_factory=OcclusionOptions)
    target: str | None = None  # class to explain, e.g. "happy"; None: each face's predicted class
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    detector: DetectorOptions = field(default_factory=lambda: DetectorOptions(video_mode=False))

    def __post_init__(self) -> None:
        if self.faces not in FACE_MODES:
            raise ValueError(f"faces must be 'crop', 'detect' or 'auto', got {self.faces!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be 'rise' or 'occlusion', got {self.method!r}")
        if self.faces != "crop" and self.detector.video_mode:
            raise ValueError("explain runs on single images: use DetectorOptions(video_mode=False)")


@dataclass(frozen=True, eq=False)  # holds arrays: compare the fields you need
class FaceSaliency:
    """One face: what the model saw, what it said, and where its decision came from."""

    crop: np.ndarray  # uint8 [S, S]: the gray crop the model classified (S = the model's input size)
    saliency: np.ndarray  # float32 [S, S] over ``crop``: how much the explained class's probability depends on
    # each pixel, in probability (rise: seen minus hidden; occlusion: the drop when hidden); higher matters more
    probabilities: np.ndarray  # float32 [C], the unoccluded crop's class probabilities
    class_names: tuple[str, ...]
    target: str  # the class whose probability the map explains
    region: tuple[int, int, int, int]  # x, y, width, height of the crop in the image (may reach outside it)
    box: tuple[int, int, int, int] | None = None  # the detector's box (faces="detect"), else None

    @property
    def predicted(self) -> str:
        return self.class_names[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    def saliency_in_image(self, shape: tuple[int, ...]) -> np.ndarray:
        """The map resampled onto an image of ``shape`` (height, width, ...); zero outside the crop."""
        import cv2

        height, width = shape[:2]
        x, y, w, h = self.region
        out = np.zeros((height, width), np.float32)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if x1 <= x0 or y1 <= y0:
            return out
        resized = cv2.resize(self.saliency, (w, h), interpolation=cv2.INTER_LINEAR)
        out[y0:y1, x0:x1] = resized[y0 - y:y1 - y, x0 - x:x1 - x]
        return out


class SaliencyExplainer:
    """Saliency maps for the shipped (or a given) emotion model; close it, or use ``with``."""

    def __init__(self, options: SaliencyOptions = SaliencyOptions(),
                 classifier: EmotionClassifier | None = None) -> None:
        self.options = options
        self._detector = None
        self._own_classifier = classifier is None
        self.classifier = classifier if classifier is not None else EmotionClassifier(options.classifier)
        names = self.classifier.class_names
        if options.target is not None and options.target not in names:
            self.close()
            raise ValueError(f"target {options.target!r} is not a class of the model ({', '.join(names)})")
        try:  # a patch larger than the input, or a grid finer than it, fails now
            size = self.classifier.info.input_size
            options.occlusion.positions(size) if options.method == "occlusion" else random_masks(options.rise, size)
        except ValueError:
            self.close()
            raise

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def explain(self, image: np.ndarray, color_order: str = "bgr") -> list[FaceSaliency]:
        """One entry per face: exactly one for faces="crop", zero or more (best score first) for "detect"
        (``box`` is the detector's box then, None for a crop)."""
        from .._frames import check_pixels, to_gray, to_rgb_and_gray

        pixels = check_pixels(image)
        if self.faces_mode(pixels.shape) == "crop":
            from ..evaluation._evaluate import _face_crops

            height, width = pixels.shape[:2]
            crops = _face_crops([to_gray(pixels, color_order)], self.classifier.info.input_size)
            return self._explained(crops, [(0, 0, width, height)], [None])
        rgb, gray = to_rgb_and_gray(pixels, color_order)
        found = self._face_detector().detect(rgb)
        order = np.argsort(-found.scores, kind="stable")
        boxes = found.boxes[order]
        regions = []
        for box in boxes:
            x, y, side = self.classifier.crop_box(box)
            regions.append((x, y, side, side))
        return self._explained(self.classifier.crop_faces(gray, boxes), regions,
                               [tuple(int(v) for v in box) for box in boxes])

    def faces_mode(self, shape: tuple[int, ...]) -> str:
        """"crop" or "detect": how an image of ``shape`` (height, width, ...) is read under the options' faces."""
        if self.options.faces != "auto":
            return self.options.faces
        height, width = shape[:2]
        return "crop" if max(height, width) <= SQUARE * min(height, width) else "detect"

    def explain_crops(self, crops: np.ndarray, targets: np.ndarray | None = None) -> list[FaceSaliency]:
        """Maps for gray crops [N, S, S] uint8 already framed like the model's input; ``targets`` are
        class indices to explain per crop (default: the options' target, else the predicted class)."""
        crops = np.asarray(crops)
        size = self.classifier.info.input_size
        if crops.ndim != 3 or crops.shape[1:] != (size, size) or crops.dtype != np.uint8:
            raise ValueError(f"crops must be uint8 [N, {size}, {size}], got {crops.dtype} {crops.shape}")
        return self._explained(crops, [(0, 0, size, size)] * len(crops), [None] * len(crops), targets)

    def saliency_map(self, image: np.ndarray, color_order: str = "bgr") -> np.ndarray:
        """float32 [height, width] of ``image``: each face's map placed where its crop came from
        (overlapping faces: the larger magnitude wins); all zeros when no face was found."""
        pixels = np.asarray(image)
        out = np.zeros(pixels.shape[:2], np.float32)
        for face in self.explain(image, color_order):
            placed = face.saliency_in_image(pixels.shape)
            out = np.where(np.abs(placed) > np.abs(out), placed, out)
        return out

    def _explained(self, crops: np.ndarray, regions, boxes, targets: np.ndarray | None = None) -> list[FaceSaliency]:
        if len(crops) == 0:
            return []
        names = self.class_names
        if targets is None and self.options.target is not None:
            targets = np.full(len(crops), names.index(self.options.target))
        if self.options.method == "rise":
            maps, probs = rise_maps(self.classifier, crops, targets, self.options.rise)
        else:
            maps, probs = occlusion_maps(self.classifier, crops, targets, self.options.occlusion)
        chosen = probs.argmax(axis=1) if targets is None else np.asarray(targets)
        return [FaceSaliency(crop=crops[i].copy(), saliency=maps[i], probabilities=probs[i], class_names=names,
                             target=names[int(chosen[i])], region=regions[i], box=boxes[i])
                for i in range(len(crops))]

    def _face_detector(self):
        if self._detector is None:
            from ..detection import FaceDetector

            self._detector = FaceDetector(self.options.detector)
        return self._detector

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None
        if self._own_classifier and self.classifier is not None:
            self.classifier.close()

    def __enter__(self) -> "SaliencyExplainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def saliency_map(image: np.ndarray, options: SaliencyOptions = SaliencyOptions(), color_order: str = "bgr",
                 ) -> np.ndarray:
    """The saliency map of ``image`` as float32 [height, width] (one-off; reuse a
    :class:`SaliencyExplainer` for many images: it loads the model once)."""
    with SaliencyExplainer(options) as explainer:
        return explainer.saliency_map(image, color_order)
