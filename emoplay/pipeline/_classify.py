"""Emotion classification of face crops with our ONNX CNN and onnxruntime.

The preprocessing contract (input size, normalisation, class names, how a
FER2013 crop is framed around a detector box) is read from the model's
``emoplay.*`` metadata, so a retrained model brings its own contract. All
faces of a frame are classified in one batch. Crops live for one call: the
reused input batch is zeroed as soon as the model has run, and freed by close().
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import MAX_THREADS, check_number
from .._errors import ModelError, SensorClosedError
from .._model_files import EMOTION_MODEL, check_model_file, shipped_model
from .._onnxruntime import import_onnxruntime

_REQUIRED_KEYS = ("emoplay.input_size", "emoplay.mean", "emoplay.std", "emoplay.class_names",
                  "emoplay.model_version")


@dataclass(frozen=True)
class ClassifierOptions:
    model_path: str | None = None  # None: the shipped, checksum-verified model
    threads: int = 1  # onnxruntime intra-op threads; a game gives us a sliver of one core
    # Also classify the mirrored crop and average the two views' probabilities. None: as the model file says
    # (emoplay.mirror_view = "runtime": on; model 1.1.2 and later, the shipped one included). A file that mirrors
    # inside its graph (1.1.1 and before) needs none: leave it off there.
    flip_average: bool | None = None
    # onnxruntime's int8 kernels (see int8_kernels_for): "fast" u8 x s8; "exact" u8 x u8, which cannot saturate on
    # x86-64 CPUs without VNNI but costs more; "auto": exact only where the fast ones would saturate for this model.
    int8_kernels: str = "auto"

    def __post_init__(self) -> None:
        check_number("ClassifierOptions", "threads", self.threads, low=1, high=MAX_THREADS, integer=True)
        if self.flip_average not in (None, True, False):
            raise TypeError(f"ClassifierOptions.flip_average must be True, False or None, got {self.flip_average!r}")
        if self.int8_kernels not in INT8_KERNELS:
            raise ValueError(f"ClassifierOptions.int8_kernels must be one of {', '.join(INT8_KERNELS)}, "
                             f"got {self.int8_kernels!r}")


INT8_KERNELS = ("auto", "fast", "exact")
# onnxruntime's session option for the u8 x u8 kernels on x86-64 (onnxruntime_session_options_config_keys.h).
EXACT_INT8_CONFIG = "session.x64quantprecision"


def int8_kernels_for(choice: str, quantization: str | None, weight_bits: str | None = None) -> str:
    """"fast" or "exact" for a model whose ``emoplay.quantization`` metadata is ``quantization`` (None: float).

    ``weight_bits`` is the ``emoplay.weight_bits`` metadata (model 1.2 on: "7" or "8"); files without it
    (models 1.1.x) say "7-bit" in their quantization text when their weights are 7-bit.

    "auto" picks "exact" only for an int8 model with full-range (8-bit) weights on an x86-64 CPU without VNNI:
    there the fast kernels sum pairs of products in 16 bits, which saturates, and the shipped model 1.1.0 lost
    1.5 points on FER2013 val (70.08 % -> 68.54 %, models/EXPERIMENTS.md). Models exported with 7-bit weights
    (models/training/quantize.py ``reduce_range``) cannot saturate and keep the fast kernels everywhere.
    """
    if choice != "auto":
        return choice
    from .._cpu import int8_sums_saturate

    if quantization is None:
        return "fast"  # a float model has no int8 kernels to choose
    full_range = weight_bits != "7" if weight_bits is not None else "7-bit" not in quantization
    return "exact" if full_range and int8_sums_saturate() else "fast"


@dataclass(frozen=True)
class ModelInfo:
    path: str
    input_size: int
    mean: float
    std: float
    class_names: tuple[str, ...]
    version: str
    val_accuracy: float | None
    training_data: str
    crop_scale: float
    crop_center: tuple[float, float]  # where the detector box centre sits in the crop, as fractions
    architecture: str = ""  # e.g. "VGG-style CNN, stage widths 48-96-192-384, spatial head, 3.52 M parameters"
    output: str = "logits"  # what the file outputs per face: "logits" or "probabilities" (emoplay.output)
    mirror_view: str = "none"  # "runtime": emoplay runs the mirror view (1.1.2); "none": in the graph or none
    # The pixels the model expects (emoplay.pixels): "original", a crop as the camera gives it, or "equalized",
    # FER2013's contrast stretch and histogram equalisation applied to each crop first (equalize_crop). Files
    # without the key are run on original pixels, as they always were.
    pixels: str = "original"
    labels: str = "fer2013"  # what the model learned from (emoplay.labels): "fer2013" or "ferplus-probability"
    # An explicit calibration's default strength for this model (emoplay.calibration_strength, chosen by
    # models/calibration_strength.py); files without it get calibration.baseline.DEFAULT_STRENGTH.
    calibration_strength: float = 0.75


PIXEL_VERSIONS = ("original", "equalized")


def equalize_crop(face: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """FER2013's pixel filter on one gray uint8 crop: contrast x1.2 with clipping, then histogram equalisation
    (``cv2.equalizeHist(cv2.convertScaleAbs(face, alpha=1.2))``, as the equalised FER2013 copy was made)."""
    import cv2

    return cv2.equalizeHist(cv2.convertScaleAbs(face, alpha=1.2), dst=out)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs.astype(np.float32, copy=False)


def _strength(text: str | None) -> float:
    from ..calibration.baseline import DEFAULT_STRENGTH, check_strength

    return DEFAULT_STRENGTH if text is None else check_strength(float(text))


def _choice(meta: dict[str, str], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = meta.get(key, default)
    if value not in allowed:
        raise ValueError(f"{key} is {value!r}, not one of {', '.join(allowed)}")
    return value


class EmotionClassifier:
    def __init__(self, options: ClassifierOptions = ClassifierOptions()) -> None:
        ort = import_onnxruntime()

        self.options = options
        path = Path(options.model_path) if options.model_path else shipped_model(EMOTION_MODEL)
        check_model_file(path, "emotion model")
        so = ort.SessionOptions()
        so.intra_op_num_threads = options.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = self._open(ort, path, so)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.int8_kernels = int8_kernels_for(options.int8_kernels, meta.get("emoplay.quantization"),
                                             meta.get("emoplay.weight_bits"))
        if self.int8_kernels == "exact":  # the kernels are chosen when the session is made: open it again
            so.add_session_config_entry(EXACT_INT8_CONFIG, "1")
            self._session = self._open(ort, path, so)
        self.info = self._read_info(path, meta)
        # Whether this classifier runs the mirror view itself (classify_crops: both views; classify_views: one).
        self.flip_average = (self.info.mirror_view == "runtime" if options.flip_average is None
                             else options.flip_average)
        self._input_name = self._session.get_inputs()[0].name
        size = self.info.input_size
        self._scale = np.float32(1.0 / (255.0 * self.info.std))
        self._offset = np.float32(self.info.mean / self.info.std)
        self._batch = np.zeros((8, 1, size, size), np.float32)  # reused between calls, zeroed after each

    @staticmethod
    def _open(ort, path: Path, so):
        try:
            return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped exceptions for bad files
            raise ModelError(f"{path} is not a valid ONNX model ({e}); reinstall emoplay or re-export it") from e

    @staticmethod
    def _read_info(path: Path, meta: dict[str, str]) -> ModelInfo:
        missing = [k for k in _REQUIRED_KEYS if k not in meta]
        if missing:
            raise ModelError(f"{path} lacks emoplay metadata {missing}; export it with models/training/export.py")
        try:
            return ModelInfo(
                path=str(path),
                input_size=int(meta["emoplay.input_size"]),
                mean=float(meta["emoplay.mean"]),
                std=float(meta["emoplay.std"]),
                class_names=tuple(json.loads(meta["emoplay.class_names"])),
                version=meta["emoplay.model_version"],
                val_accuracy=float(meta["emoplay.val_accuracy"]) if "emoplay.val_accuracy" in meta else None,
                training_data=meta.get("emoplay.training_data", ""),
                crop_scale=float(meta.get("emoplay.crop_scale", "1.2")),
                crop_center=(float(meta.get("emoplay.crop_center_x", "0.5")),
                             float(meta.get("emoplay.crop_center_y", "0.5"))),
                architecture=meta.get("emoplay.architecture", ""),
                output=_choice(meta, "emoplay.output", ("logits", "probabilities"), "logits"),
                mirror_view=_choice(meta, "emoplay.mirror_view", ("runtime", "none"), "none"),
                pixels=_choice(meta, "emoplay.pixels", PIXEL_VERSIONS, "original"),
                labels=meta.get("emoplay.labels", "fer2013"),
                calibration_strength=_strength(meta.get("emoplay.calibration_strength")),
            )
        except (ValueError, TypeError) as e:
            raise ModelError(f"{path} has malformed emoplay metadata ({e}); re-export it") from e

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    def crop_box(self, box: tuple[int, int, int, int] | np.ndarray) -> tuple[int, int, int]:
        """The square crop (x, y, side) around a detector box, framed like a FER2013 face."""
        x, y, w, h = (float(v) for v in box)
        side = max(w, h) * self.info.crop_scale
        cx_frac, cy_frac = self.info.crop_center
        x0 = x + w / 2 - cx_frac * side
        y0 = y + h / 2 - cy_frac * side
        return int(round(x0)), int(round(y0)), max(int(round(side)), 1)

    def crop_faces(self, frame: np.ndarray, boxes: np.ndarray, color_order: str = "bgr") -> np.ndarray:
        """Square gray crops [N, size, size] uint8; parts outside the frame are filled by edge replication.

        ``frame``: gray (HxW), or BGR/RGB/BGRA/RGBA (``color_order``) of which only the faces' regions are
        converted to gray (the same crops as from the gray frame, without converting the whole frame).
        """
        import cv2

        from .._frames import gray_of

        size = self.info.input_size
        out = np.empty((len(boxes), size, size), np.uint8)
        if frame.ndim == 3 and frame.shape[2] == 1:
            frame = frame[:, :, 0]
        h, w = frame.shape[:2]
        for i, box in enumerate(boxes):
            x0, y0, side = self.crop_box(box)
            # Clamp the crop to the frame, then pad what fell outside (a face at the edge keeps its framing).
            cx0, cy0 = max(x0, 0), max(y0, 0)
            cx1, cy1 = min(x0 + side, w), min(y0 + side, h)
            if cx1 <= cx0 or cy1 <= cy0:
                out[i] = 0
                continue
            patch = frame[cy0:cy1, cx0:cx1]
            if patch.ndim == 3:
                patch = gray_of(patch, color_order)
            if (cx0, cy0, cx1, cy1) != (x0, y0, x0 + side, y0 + side):
                patch = cv2.copyMakeBorder(patch, cy0 - y0, y0 + side - cy1, cx0 - x0, x0 + side - cx1,
                                           cv2.BORDER_REPLICATE)
            out[i] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
        return out

    def classify_crops(self, faces: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C] for gray face crops [N, size, size] uint8 (one batch). With
        ``flip_average``, each face is run with its mirror image in the same batch and the two views'
        probabilities are averaged (for model 1.1.2, exactly what 1.1.1 computed inside its graph)."""
        faces = self._check_faces(faces)
        n = len(faces)
        if n == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        if not self.flip_average:
            return self._run(faces)
        views = self._run(faces, both=True, normalise=False)
        return self.combine_views([views[:n], views[n:]])

    def classify_views(self, faces: np.ndarray, mirrored, raw: bool = False) -> np.ndarray:
        """Probabilities [N, C] of one view per face: face i as it is, or its mirror image where
        ``mirrored[i]``. For a classifier that runs the mirror view itself (``flip_average``): the pipeline
        refreshes a stable face with one view at a time (PipelineOptions.alternate_views). ``raw``: the
        file's output as it is, to be averaged with another view by ``combine_views``."""
        if not self.flip_average:
            raise ValueError("classify_views needs a classifier that runs the mirror view itself "
                             "(a model file with emoplay.mirror_view = 'runtime', flip_average not False)")
        faces = self._check_faces(faces)
        mirrored = np.asarray(mirrored, bool).reshape(-1)
        if len(mirrored) != len(faces):
            raise ValueError(f"mirrored has {len(mirrored)} flags for {len(faces)} faces")
        if len(faces) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        return self._run(faces, mirrored=mirrored, normalise=not raw)

    def combine_views(self, views: list[np.ndarray]) -> np.ndarray:
        """Probabilities [N, C] from one or two ``raw`` outputs [N, C] of classify_views (the same faces' two
        views): their float32 mean, normalised as classify_crops does, so that both views of a face give
        classify_crops' numbers bit for bit."""
        if len(views) == 1:
            return self._normalise(views[0])
        if len(views) != 2:
            raise ValueError(f"a face has one or two views, got {len(views)}")
        return self._normalise((views[0] + views[1]) / np.float32(2))

    def _check_faces(self, faces: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise SensorClosedError("this EmotionClassifier was closed; create a new one")
        faces = np.asarray(faces)
        size = self.info.input_size
        if faces.ndim != 3 or faces.shape[1:] != (size, size):
            raise ValueError(f"faces must be [N, {size}, {size}] gray crops, got shape {faces.shape}")
        return faces

    def _run(self, faces: np.ndarray, mirrored: np.ndarray | None = None, both: bool = False,
             normalise: bool = True) -> np.ndarray:
        """One model call: probabilities [N, C] of ``faces`` (those flagged in ``mirrored`` flipped
        left-right), or [2N, C] with ``both`` (the faces, then their mirror images). ``normalise=False``:
        a probabilities file's output as it is, for averaging views first."""
        n, size = len(faces), self.info.input_size
        count = 2 * n if both else n
        if len(self._batch) < count:
            self._batch = np.empty((count, 1, size, size), np.float32)
        batch = self._batch[:count]
        if self.info.pixels == "equalized":
            faces = np.stack([equalize_crop(face) for face in faces])
        np.multiply(faces, self._scale, out=batch[:n, 0])
        batch[:n, 0] -= self._offset
        if both:
            batch[n:] = batch[:n, :, :, ::-1]
        elif mirrored is not None and mirrored.any():
            batch[mirrored] = batch[mirrored][:, :, :, ::-1]
        try:
            out = self._session.run(None, {self._input_name: batch})[0]
        finally:
            batch.fill(0)  # the normalised crops live for this call only
        if self.info.output == "logits":
            return _softmax(out)
        return self._normalise(out) if normalise else out.astype(np.float32, copy=False)

    @staticmethod
    def _normalise(probs: np.ndarray) -> np.ndarray:
        """Probabilities that sum to 1, through the log as model 1.1.1's output went (its Log, then softmax
        here), so that 1.1.2 with its mirror view run here gives 1.1.1's numbers."""
        with np.errstate(divide="ignore"):
            return _softmax(np.log(probs))

    def classify(self, frame: np.ndarray, boxes: np.ndarray, color_order: str = "bgr") -> np.ndarray:
        """Probabilities [N, C] for the faces at ``boxes`` in one frame (gray, or colour as for crop_faces)."""
        return self.classify_crops(self.crop_faces(frame, boxes, color_order))

    def close(self) -> None:
        self._session = None
        self._batch = np.zeros((0, 1, self.info.input_size, self.info.input_size), np.float32)

    def __enter__(self) -> "EmotionClassifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
