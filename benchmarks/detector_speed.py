"""Face detection time per 640x480 frame, one thread: ``emoplay.detection.FaceDetector.detect`` and its stages.

    python benchmarks/detector_speed.py [--repeats 500] [--json]

It times whatever ``emoplay`` the interpreter imports, on the frames ``emoplay bench`` uses, so the
same script run with an older emoplay (for example one whose detector was MediaPipe's) measures that
one on this machine. It also times the colour conversion the pipeline does per frame. ``detect_cpu_ms`` is the process's CPU time per call (all threads), which a busy
machine inflates much less than the wall time ``detect_ms``. With emoplay's own detector it also times the stages: letterbox (frame → model
input), the ONNX model, and decoding + weighted NMS. Measure on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def timed_ms(run, repeats: int, clock=time.perf_counter) -> list[float]:
    for _ in range(20):  # warm-up: first runs allocate
        run()
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        times.append((clock() - start) * 1000)
    return times


def median_ms(run, repeats: int, clock=time.perf_counter) -> float:
    return statistics.median(timed_ms(run, repeats, clock))


def measure(repeats: int) -> dict[str, float | str]:
    import emoplay
    from bench import bench_frames
    from emoplay._frames import to_gray, to_rgb_and_gray

    frames, where = bench_frames()
    rgb = to_rgb_and_gray(frames[0])[0]
    out: dict[str, float | str] = {"frames": where}
    # What the pipeline converts per frame: both views (the detector used to need RGB), or gray alone (the
    # detector now takes the BGR frame and fixes the colour order on its 128x128 input).
    out["rgb_and_gray_ms"] = median_ms(lambda: to_rgb_and_gray(frames[0]), repeats)
    out["gray_only_ms"] = median_ms(lambda: to_gray(frames[0]), repeats)
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        assert len(detector.detect(rgb)) == 1, "the benchmark frame must show one face"
        times = timed_ms(lambda: detector.detect(rgb), repeats)
        out["detect_ms"] = statistics.median(times)
        out["detect_min_ms"] = min(times)  # the fastest call: what a busy machine spoils least
        # CPU time of the whole process (every thread: MediaPipe ran its graph on threads of its own): on a busy
        # machine this moves much less than the wall time.
        out["detect_cpu_ms"] = median_ms(lambda: detector.detect(rgb), repeats, time.process_time)
        letterbox = getattr(detector, "_letterbox", None)
        if letterbox is not None:  # emoplay's own detector: its stages
            from emoplay.detection._decode import decode
            from emoplay.detection._nms import weighted_nms

            tensor = letterbox.prepare(rgb)
            session, anchors, options = detector._session, detector._anchors, detector.options
            regressors, logits = session.run(["regressors", "classificators"], {"input": tensor})
            out["letterbox_ms"] = median_ms(lambda: letterbox.prepare(rgb), repeats)
            out["model_ms"] = median_ms(lambda: session.run(["regressors", "classificators"], {"input": tensor}),
                                        repeats)
            out["decode_nms_ms"] = median_ms(lambda: weighted_nms(
                decode(regressors[0], logits[0], anchors, options.min_confidence), options.min_suppression), repeats)
    return out


def model_alternatives(repeats: int) -> dict[str, float]:
    """Fastest call of the detector model alone: onnxruntime at each graph optimisation level, and LiteRT.

    LiteRT (``ai-edge-litert``, in the ``convert`` extra) runs the original tflite file with XNNPACK, one thread.
    """
    import numpy as np

    from emoplay._onnxruntime import import_onnxruntime
    from emoplay._model_files import models_dir

    ort = import_onnxruntime()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    out = {}
    for level in ("ORT_ENABLE_ALL", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_BASIC"):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        session = ort.InferenceSession(str(models_dir() / "face_detector.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        out[f"model_min_ms_{level.lower()}"] = min(timed_ms(lambda: session.run(None, {"input": x}), repeats))
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return out
    interpreter = Interpreter(model_path=str(models_dir() / "face_detector.tflite"), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]

    def litert():
        interpreter.set_tensor(index, x)
        interpreter.invoke()

    out["model_min_ms_litert_xnnpack"] = min(timed_ms(litert, repeats))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--alternatives", action="store_true",
                        help="also time the model alone at each onnxruntime optimisation level, and on LiteRT")
    args = parser.parse_args(argv)
    result = measure(args.repeats)
    if args.alternatives:
        result.update(model_alternatives(args.repeats))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>14}: {value:.3f}" if isinstance(value, float) else f"{key:>14}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
