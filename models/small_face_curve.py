"""The emotion model's accuracy against the face's height in pixels, through the detector and the classifier.

Each labelled face (a sample of FER2013 val, and the CK+ crops) is resized so that it is N pixels tall
(``cv2.INTER_AREA`` down, bicubic up), framed with its replicated border (a frame of 4N x 4N, the face a
quarter of its side, so both detector ranges find it), and run through ``emoplay eval --faces detect``'s
path: the detector finds the face, the classifier crops it from the N-pixel frame, as the pipeline does
from a camera frame, and classifies it. The frame holds only N pixels of face, as a real frame with a face
N pixels tall does; how far each detector range reaches in a large frame is measured separately
(``models/detector_ranges.py``).

Prints, per data set and height: the median height of the detector's box (what the pipeline compares with
``PipelineOptions.min_face_px``), faces found, accuracy of the found faces, and the share of found faces
whose top probability is at least the debouncer's confidence floor (0.35; below it the face is
``unknown`` anyway). The source faces are 48 px, so from 48 px up the curve is flat by construction.

    python models/small_face_curve.py [--fer 1000] [--range short|full]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HEIGHTS = (16, 20, 24, 28, 32, 40, 48, 64, 96)


def framed(face: np.ndarray, height: int) -> np.ndarray:
    """A gray face resized to ``height`` px, in the middle of a 4x its size frame of its replicated border."""
    import cv2

    interpolation = cv2.INTER_AREA if height < face.shape[0] else cv2.INTER_CUBIC
    small = cv2.resize(face, (height, height), interpolation=interpolation)
    margin = 3 * height // 2
    return cv2.copyMakeBorder(small, margin, margin, margin, margin, cv2.BORDER_REPLICATE)


def curve(data, classifier, detector, floor: float) -> list[tuple[int, float, int, float, float]]:
    """Per height: (face px, median detector box height, faces found, accuracy of the found faces, share of found
    faces whose top probability is at least ``floor``). The best-scoring detection of a frame is classified."""
    from emoplay.evaluation._evaluate import _to_model_labels

    labels = _to_model_labels(data, tuple(classifier.class_names))
    rows = []
    for height in HEIGHTS:
        boxes, correct, confident = [], [], []
        for face, label in zip(data.images, labels):
            frame = framed(face if face.ndim == 2 else face[:, :, 0], height)
            found = detector.detect(frame)
            if not len(found):
                continue
            box = found.boxes[int(np.argmax(found.scores)):][:1]
            probs = classifier.classify_crops(classifier.crop_faces(frame, box))[0]
            boxes.append(int(box[0, 3]))
            correct.append(int(np.argmax(probs)) == label)
            confident.append(float(probs.max()) >= floor)
        rows.append((height, float(np.median(boxes)) if boxes else 0.0, len(boxes),
                     float(np.mean(correct)) if boxes else 0.0, float(np.mean(confident)) if boxes else 0.0))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = REPO.parent / "shared" / "data"
    parser.add_argument("--fer", type=int, default=1000, help="FER2013 val faces, sampled (default 1000)")
    parser.add_argument("--val", type=Path, default=shared / "fer2013" / "val.npz")
    parser.add_argument("--ckplus", type=Path, default=shared / "ckplus")
    parser.add_argument("--range", choices=("short", "full"), default="short", help="detector range (default short)")
    args = parser.parse_args(argv)

    from emoplay import ClassifierOptions, DebounceOptions
    from emoplay.detection import DetectorOptions, FaceDetector
    from emoplay.evaluation._datasets import load_labeled_images
    from emoplay.pipeline import EmotionClassifier

    floor = DebounceOptions().confidence_floor
    sets = [("FER2013 val", load_labeled_images(args.val, limit=args.fer)),
            ("CK+", load_labeled_images(args.ckplus))]
    with EmotionClassifier(ClassifierOptions()) as classifier, \
            FaceDetector(DetectorOptions(video_mode=False, range=args.range, min_face_size=1)) as detector:
        print(f"model {classifier.info.version} ({Path(classifier.info.path).name}), detector range {args.range}, "
              f"confidence floor {floor}")
        for name, data in sets:
            print(f"\n{name}: {len(data)} faces ({data.source})")
            print("face px   box px   found   accuracy (found)   top prob >= floor")
            for height, box, found, correct, confident in curve(data, classifier, detector, floor):
                print(f"{height:7d}   {box:6.0f}   {found / len(data):5.1%}   {correct:16.1%}   {confident:17.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
