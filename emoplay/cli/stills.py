"""``emoplay watch --stills``: each image of a folder as a separate photo, not as frames of a video.

A stream confirms a face only after it was found on a few frames in a row and holds an emotion
before it reports it (emoplay.pipeline), which is right for a camera and wrong for a folder of
unrelated photos: one or two photos never show a face at all. Here every image is searched with
the face detector on its own and each face's emotion is the classifier's top class.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StillFace:
    box: tuple[int, int, int, int]  # x, y, width, height in the image
    emotion: str  # the most likely class
    confidence: float
    probabilities: dict[str, float]


def image_files(folder: Path) -> list[Path]:
    from ..evaluation._datasets import IMAGE_SUFFIXES

    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def read_stills(files: list[Path], threads: int = 1) -> Iterator[tuple[Path, list[StillFace]]]:
    """Per image, best detection first: its faces with their emotions (DataError for an unreadable image)."""
    from ..detection import DetectorOptions, FaceDetector
    from ..evaluation._datasets import read_image
    from ..pipeline._classify import ClassifierOptions, EmotionClassifier

    with FaceDetector(DetectorOptions(video_mode=False)) as detector, \
            EmotionClassifier(ClassifierOptions(threads=threads)) as classifier:
        names = classifier.class_names
        for path in files:
            image = read_image(path)
            found = detector.detect(image, color_order="bgr")
            order = sorted(range(len(found.boxes)), key=lambda i: -float(found.scores[i]))
            boxes = found.boxes[order]
            probs = classifier.classify(image, boxes, color_order="bgr") if len(boxes) else []
            yield path, [StillFace(tuple(int(v) for v in box), names[int(p.argmax())], float(p.max()),
                                   {n: round(float(v), 4) for n, v in zip(names, p)}) for box, p in zip(boxes, probs)]


def print_stills(files: list[Path], threads: int, as_json: bool) -> int:
    """Print each image's faces (one JSON object per image with ``as_json``); 0, or 1 when no image had a face."""
    any_face = False
    for path, faces in read_stills(files, threads):
        any_face = any_face or bool(faces)
        if as_json:
            print(json.dumps({"image": path.name, "faces": [{"face": k, "box": list(f.box), "emotion": f.emotion,
                                                             "confidence": round(f.confidence, 4),
                                                             "probabilities": f.probabilities}
                                                            for k, f in enumerate(faces, start=1)]}), flush=True)
        elif not faces:
            print(f"{path.name}: no face found", flush=True)
        for k, face in enumerate([] if as_json else faces, start=1):
            print(f"{path.name}: face {k} at {face.box}: {face.emotion} ({face.confidence:.2f})", flush=True)
    return 0 if any_face else 1
