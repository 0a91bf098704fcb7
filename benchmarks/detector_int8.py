"""Would an int8 face detector pay? Quantise BlazeFace statically and compare it with the shipped float32 one.

    python benchmarks/detector_int8.py [--videos DIR] [--rounds 2]

Calibrates on every 20th frame of the shared videos (through the detector's own letterbox), quantises
with onnxruntime (QDQ, per-channel 7-bit weights, uint8 activations: what the emotion model uses),
then on the other sampled frames prints: one-thread CPU ms per inference of each model (interleaved
rounds, process CPU time, so a loaded machine inflates both alike), and how far the int8 model's face
scores and box regressions are from the float32 ones. Nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def letterboxed_frames(videos: Path, step: int = 10) -> list[np.ndarray]:
    import cv2

    from emoplay.detection._letterbox import Letterbox

    letterbox, frames = Letterbox(128), []
    for video in sorted(videos.glob("*.m*")):
        capture = cv2.VideoCapture(str(video))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(letterbox.prepare(frame, "bgr").copy())
            index += 1
        capture.release()
    if not frames:
        raise SystemExit(f"no videos in {videos}: pass --videos pointing at ../shared/data/videos")
    return frames


def session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from emoplay.detection._decode import sigmoid_scores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "videos")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    frames = letterboxed_frames(args.videos)
    calibration, test = frames[::2], frames[1::2]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._frames = iter(calibration)

        def get_next(self):
            frame = next(self._frames, None)
            return None if frame is None else {"input": frame}

    with tempfile.TemporaryDirectory() as tmp:
        prepared, quantised = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(REPO / "models" / "face_detector.onnx"), str(prepared))
        quantize_static(str(prepared), str(quantised), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
        models = {"float32": session(REPO / "models" / "face_detector.onnx"), "int8": session(quantised)}
        for model in models.values():
            model.run(None, {"input": test[0]})
        for round_ in range(args.rounds):
            for name, model in models.items():
                start = time.process_time()
                for frame in test:
                    model.run(None, {"input": frame})
                print(f"round {round_ + 1} {name}: {(time.process_time() - start) / len(test) * 1000:.2f} CPU ms "
                      f"per inference ({len(test)} frames)")
        score_diff, box_diff = [], []
        for frame in test:
            (reg_f, logit_f), (reg_q, logit_q) = (m.run(["regressors", "classificators"], {"input": frame})
                                                  for m in models.values())
            score_diff.append(np.abs(sigmoid_scores(logit_f) - sigmoid_scores(logit_q)).max())
            box_diff.append(np.abs(reg_f - reg_q)[..., :4].max())
    print(f"int8 against float32: face score difference max {max(score_diff):.3f}, median {np.median(score_diff):.3f};"
          f" box regression difference max {max(box_diff):.1f} px of the 128 px input")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
