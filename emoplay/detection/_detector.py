"""Face detection with MediaPipe's BlazeFace models (short and full range), run on onnxruntime.

Result in, result out: :meth:`FaceDetector.detect` takes a frame (RGB, or BGR/gray/4-channel) and
returns :class:`Detections` (an empty object when there is no face, never
``None``). Boxes are ``x, y, width, height`` in frame pixels, clamped to the
frame; keypoints are 6 (x, y) points per face in frame pixels.

The models are Google's ``face_detection_short_range.tflite`` and
``face_detection_full_range_sparse.tflite`` (Apache-2.0), converted to ONNX once
by ``models/convert_face_detector.py``; :class:`DetectorOptions` ``range``
chooses one, or lets the detector switch between them (``_auto.py``); letterboxing,
anchor decoding, the score threshold and weighted non-max suppression follow
MediaPipe's face detector graphs, and ``tests/detection/test_detector_reference.py``
checks the result against detections recorded with MediaPipe itself. Nothing
here loads MediaPipe or TFLite, and nothing opens a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import MAX_THREADS, check_flag, check_number
from .._errors import ModelError, SensorClosedError
from .._frames import check_pixels
from .._model_files import check_model_file, shipped_model
from .._onnxruntime import import_onnxruntime
from ._anchors import MODELS, BlazeFaceModel, ssd_anchor_centres
from ._auto import RangeChooser
from ._decode import NUM_KEYPOINTS, decode
from ._letterbox import Letterbox
from ._decode import Candidates
from ._nms import weighted_nms
from ._tiles import MIN_TILE_SHARE, auto_grid, check_tiles, overlap_px, tile_grid

_INPUT, _BOXES, _SCORES = "input", "regressors", "classificators"


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))  # [N, 4] x, y, w, h
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))  # [N]
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_KEYPOINTS, 2), np.float32))  # [N, 6, 2]

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class NormalizedDetections:
    """What the model found, as MediaPipe reports it: fractions of the frame, not clamped, no size filter.

    ``boxes`` [N, 4] x, y, width, height; ``keypoints`` [N, 6, 2] x, y; ``scores`` [N], best first.
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


RANGES = ("short", "full", "auto")


@dataclass(frozen=True)
class DetectorOptions:
    """How faces are found.

    ``range`` picks the BlazeFace model:

    * ``"short"`` (default): the short-range model (128x128 input), for a face near the camera, from about
      15 % of the frame's longer side up (a player within about 2 m of a webcam);
    * ``"full"``: the full-range model (192x192 input), for faces from about 8 % of the longer side up (a couch
      or a table 2-5 m away, a group: 100 px in a 1280x720 frame, 50 px in 640x360); it costs about twice the
      short-range model per frame (``models/detector_ranges.py`` measures how far each reaches);
    * ``"auto"``: full range while no face or any small face is found, short range once only faces of at least
      20 % of the longer side were found on 3 detections in a row; back to full range at once when the short
      range finds no face or one under 15 % (hysteresis), and a full-range look every 10th detection for a
      player further back. Still images (``video_mode=False``) get full range.

    ``tiles`` finds faces too small for the full-range model on the whole frame (50-90 px in a 1280x720
    frame), by running it on overlapping tiles as well (``_tiles.py``); it works with ``range="full"`` and with
    ``"auto"`` whenever the full-range model runs:

    * ``"off"`` (default): the whole frame only;
    * ``"auto"``: as many tiles as make a 50 px face at least 10 % of a tile's longer side: 4x2 for 1280x720
      (116 of 119 faces of 50-90 px found on group frames, against 14 on the whole frame), 2x1 for 854x480
      and 640x360, 6x3 for 1920x1080, none for a frame of up to 500 px; at most 8 per side, so in frames
      wider than about 2,600 px a 50 px face is under 10 % of a tile. Each detection then runs the model once
      per tile plus once for the whole frame: about 7 times the work at 1280x720, 2.7 times at 854x480,
      14 times at 1920x1080
      (``models/detector_tiles.py`` measures faces found, false ones, ids and cost);
    * ``(cols, rows)``: that grid, 1-8 each.

    Tiles overlap by 12 % of the frame's longer side; a face found by several passes (the whole frame, tiles
    that overlap) becomes one through the weighted non-max suppression, keypoints included. A face found on a
    tile is kept only if it is at least 8 % of the tile's longer side (smaller ones there were mostly false).

    ``model_path`` replaces the short-range model and ``full_range_model_path`` the full-range one (None: the
    shipped, checksum-verified files).
    """

    model_path: str | None = None  # None: the shipped, checksum-verified short-range model
    min_confidence: float = 0.5
    min_suppression: float = 0.3  # IoU above which candidates merge into one face
    video_mode: bool = True  # frames of one stream with increasing timestamps (detection itself is per frame)
    min_face_size: int = 12  # pixels; smaller boxes are dropped (PipelineOptions.min_face_px: reported, not read)
    threads: int = 1  # onnxruntime intra-op threads
    range: str = "short"  # "short", "full" or "auto" (see above)
    full_range_model_path: str | None = None  # None: the shipped, checksum-verified full-range model
    full_range_min_confidence: float = 0.6  # min_confidence of the full-range model (MediaPipe's for it)
    tiles: str | tuple[int, int] = "off"  # "off", "auto" or (cols, rows): the full-range model on tiles (see above)

    def __post_init__(self) -> None:
        if self.range not in RANGES:
            raise ValueError(f"DetectorOptions.range must be one of {', '.join(map(repr, RANGES))}, got "
                             f"{self.range!r}")
        check_tiles(self.tiles, self.range)
        check_number("DetectorOptions", "min_confidence", self.min_confidence, low=0, high=1, low_open=True,
                     high_open=True)
        check_number("DetectorOptions", "full_range_min_confidence", self.full_range_min_confidence, low=0, high=1,
                     low_open=True, high_open=True)
        check_number("DetectorOptions", "min_suppression", self.min_suppression, low=0, high=1, high_open=True)
        check_number("DetectorOptions", "min_face_size", self.min_face_size, low=1, integer=True)
        check_number("DetectorOptions", "threads", self.threads, low=1, high=MAX_THREADS, integer=True)
        check_flag("DetectorOptions", "video_mode", self.video_mode)


class _BlazeFace:
    """One BlazeFace model on onnxruntime: its session, anchors and letterbox."""

    def __init__(self, model: BlazeFaceModel, path: str | None, threads: int) -> None:
        self.model = model
        file = Path(path) if path else shipped_model(model.file)
        option = "model_path" if model.range == "short" else "full_range_model_path"
        check_model_file(file, f"{model.range}-range face detector model", option)
        self.session = _open_session(file, threads, model)
        self.anchors = ssd_anchor_centres(model.input_size, model.strides, model.anchors_per_layer)
        self.letterbox = Letterbox(model.input_size)

    def detect(self, pixels: np.ndarray, color_order: str, options: "DetectorOptions") -> NormalizedDetections:
        tensor = self.letterbox.prepare(pixels, color_order)
        try:
            regressors, logits = self.session.run([_BOXES, _SCORES], {_INPUT: tensor})
        finally:
            self.letterbox.clear()  # its downscaled copy of the frame lives for this call only
        min_score = options.min_confidence if self.model.range == "short" else options.full_range_min_confidence
        faces = weighted_nms(decode(regressors[0], logits[0], self.anchors, min_score, self.model.input_size),
                             options.min_suppression)
        corners = self.letterbox.to_frame(faces.boxes)
        boxes = np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)
        return NormalizedDetections(boxes, self.letterbox.to_frame(faces.keypoints), faces.scores)

    def detect_tiled(self, pixels: np.ndarray, color_order: str, options: "DetectorOptions") -> NormalizedDetections:
        """The whole frame and each tile of ``options.tiles``, their faces merged (see ``_tiles.py``)."""
        whole = self.detect(pixels, color_order, options)
        height, width = pixels.shape[:2]
        tiles = tile_grid(width, height, auto_grid(width, height) if options.tiles == "auto" else options.tiles)
        if not tiles:
            return whole
        size = np.array([width, height], np.float32)
        largest = overlap_px(width, height)
        boxes, keypoints, scores = [whole.boxes], [whole.keypoints], [whole.scores]
        for tile in tiles:
            found = self.detect(pixels[tile.top:tile.bottom, tile.left:tile.right], color_order, options)
            tile_size = np.array([tile.right - tile.left, tile.bottom - tile.top], np.float32)
            face_px = found.boxes[:, 3] * tile_size[1]
            # Faces larger than the overlap are the whole frame's: on a tile that cuts one, part of it is a "face".
            keep = (face_px >= MIN_TILE_SHARE * tile_size.max()) & (face_px <= largest)
            # Fractions of the tile -> of the frame.
            extent, origin = tile_size / size, np.array([tile.left, tile.top], np.float32) / size
            boxes.append(np.concatenate([found.boxes[keep, :2] * extent + origin, found.boxes[keep, 2:] * extent], 1))
            keypoints.append(found.keypoints[keep] * extent + origin)
            scores.append(found.scores[keep])
        box = np.concatenate(boxes).astype(np.float32)
        corners = np.concatenate([box[:, :2], box[:, :2] + box[:, 2:]], axis=1)
        faces = weighted_nms(Candidates(corners, np.concatenate(keypoints).astype(np.float32),
                                        np.concatenate(scores).astype(np.float32)), options.min_suppression)
        merged = np.concatenate([faces.boxes[:, :2], faces.boxes[:, 2:] - faces.boxes[:, :2]], axis=1)
        return NormalizedDetections(merged, faces.keypoints, faces.scores)


class FaceDetector:
    def __init__(self, options: DetectorOptions = DetectorOptions()) -> None:
        self.options = options
        wanted = ("short", "full") if options.range == "auto" else (options.range,)
        paths = {"short": options.model_path, "full": options.full_range_model_path}
        self._models: dict[str, _BlazeFace] | None = {r: _BlazeFace(MODELS[r], paths[r], options.threads)
                                                     for r in wanted}
        self._chooser = RangeChooser() if options.range == "auto" and options.video_mode else None
        self.last_range: str | None = None  # the model the last frame ran ("short" or "full")

    def next_range(self) -> str:
        """The model the next frame will run: ``"short"`` or ``"full"`` (with ``range="auto"``, as chosen now)."""
        if self._chooser is not None:
            return self._chooser.next_range()
        return "full" if self.options.range == "auto" else self.options.range

    def detect_normalized(self, pixels: np.ndarray, color_order: str = "rgb") -> NormalizedDetections:
        """Faces in one uint8 frame, in fractions of the frame (see :class:`NormalizedDetections`).

        ``pixels``: HxWx3 RGB by default; also gray, BGR (``color_order="bgr"``), RGBA or BGRA, which the
        detector converts on its small model input rather than on the whole frame.
        """
        if self._models is None:
            raise SensorClosedError("this FaceDetector was closed; create a new one")
        if color_order not in ("rgb", "bgr"):
            raise ValueError(f"color_order must be 'rgb' or 'bgr', got {color_order!r}")
        pixels = check_pixels(pixels)
        used = self.next_range()
        model = self._models[used]
        if used == "full" and self.options.tiles != "off":
            found = model.detect_tiled(pixels, color_order, self.options)
        else:
            found = model.detect(pixels, color_order, self.options)
        self.last_range = used
        if self._chooser is not None:
            height, width = pixels.shape[:2]
            self._chooser.observe(used, found.boxes[:, 3] * height / max(width, height))
        return found

    def detect(self, pixels: np.ndarray, timestamp: float | None = None, color_order: str = "rgb") -> Detections:
        """Faces in one uint8 frame (RGB unless ``color_order="bgr"``; gray and 4-channel frames work too).

        ``timestamp`` (seconds) is required in video mode.
        """
        if self.options.video_mode and timestamp is None and self._models is not None:
            raise ValueError("video mode needs a timestamp per frame (seconds, increasing)")
        found = self.detect_normalized(pixels, color_order)
        if not len(found):
            return Detections()
        height, width = pixels.shape[:2]
        size = np.array([width, height], np.float32)
        # Whole pixels as MediaPipe gives them (truncated), then clamped to the frame.
        origin = (found.boxes[:, :2] * size).astype(np.int32)
        extent = (found.boxes[:, 2:] * size).astype(np.int32)
        start = np.maximum(origin, 0)
        end = np.minimum(origin + extent, np.array([width, height]))
        keep = np.min(end - start, axis=1) >= self.options.min_face_size
        if not keep.any():
            return Detections()
        boxes = np.concatenate([start, end - start], axis=1)[keep].astype(np.int32)
        return Detections(boxes, found.scores[keep], (found.keypoints[keep] * size).astype(np.float32))

    def reset(self) -> None:
        """A new stream starts. Each frame is detected on its own; with ``range="auto"`` the choice of model
        starts again from full range."""
        if self._chooser is not None:
            self._chooser.reset()

    def close(self) -> None:
        self._models = None

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_session(path: Path, threads: int, model: BlazeFaceModel):
    ort = import_onnxruntime()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped exceptions for bad files
        raise ModelError(f"{path} is not a valid ONNX model ({e}); reinstall emoplay or convert it again with "
                         "models/convert_face_detector.py") from e
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    side, anchors = model.input_size, model.num_anchors
    if (inputs.get(_INPUT) != [1, side, side, 3] or outputs.get(_BOXES) != [1, anchors, 16]
            or outputs.get(_SCORES) != [1, anchors, 1]):
        option = "model_path" if model.range == "short" else "full_range_model_path"
        raise ModelError(f"{path} is not a BlazeFace {model.range}-range face detector (inputs {inputs}, outputs "
                         f"{outputs}); pass {option}=None for the shipped one")
    return session
