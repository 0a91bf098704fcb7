"""Export a training checkpoint to ONNX with emoplay's preprocessing contract as metadata.

    python models/training/export.py runs/emotion/best.pt --out models/emotion_cnn.onnx [--float32]

The runtime reads everything it needs from the metadata (``emoplay.*`` keys):
input size, normalisation, class names, version, training data and validation
accuracy. The exported graph is checked against PyTorch on real and random
inputs before the file is written, then quantised to int8 if that keeps accuracy
within 0.5 point and is faster (quantize.py), and models/SHA256SUMS is updated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from net import CLASS_NAMES, INPUT_SIZE, EmotionNet  # noqa: E402

MODEL_VERSION = "1.0.0"
TRAINING_DATA = "FER2013 Training split (28,709 images); selected on PublicTest (val.npz)"


def update_checksums(model_path: Path) -> None:
    sums_path = model_path.parent / "SHA256SUMS"
    lines = {}
    if sums_path.exists():
        for line in sums_path.read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            lines[name.strip()] = digest
    lines[model_path.name] = hashlib.sha256(model_path.read_bytes()).hexdigest()
    sums_path.write_text("".join(f"{d}  {n}\n" for n, d in sorted(lines.items())))


def export_onnx(checkpoint: Path, out: Path, version: str = MODEL_VERSION, checksums: bool = True) -> Path:
    import onnx
    import onnxruntime as ort

    state = torch.load(checkpoint, weights_only=False)
    model = EmotionNet()
    model.load_state_dict(state["model"])
    model.eval()
    dummy = torch.zeros(1, 1, INPUT_SIZE, INPUT_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated but gives a plain, small graph for this static CNN.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, dummy, str(raw), input_names=["face"], output_names=["logits"],
                              dynamic_axes={"face": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                              dynamo=False)
        proto = onnx.load(str(raw))
    metadata = {
        "emoplay.input_size": str(INPUT_SIZE),
        "emoplay.input_format": "gray float32 NCHW, value = (pixel / 255 - mean) / std",
        "emoplay.mean": repr(state["mean"]),
        "emoplay.std": repr(state["std"]),
        "emoplay.class_names": json.dumps(list(CLASS_NAMES)),
        "emoplay.output": "logits",
        "emoplay.model_version": version,
        "emoplay.training_data": TRAINING_DATA,
        "emoplay.val_accuracy": f"{state['val_acc']:.4f}",
        "emoplay.epoch": str(state["epoch"]),
        # Where a FER2013 crop sits around a MediaPipe face box: measured by detecting 533 of 600 val faces
        # upscaled to 240 px (crop side = 1.2 x box side, box centre at 0.506 / 0.565 of the crop).
        "emoplay.crop_scale": "1.2",
        "emoplay.crop_center_x": "0.506",
        "emoplay.crop_center_y": "0.565",
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "emoplay models/training/export.py"
    onnx.checker.check_model(proto)

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    probe = rng.standard_normal((16, 1, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(probe)).numpy()
    got = session.run(None, {"face": probe})[0]
    err = float(np.abs(expected - got).max())
    if err > 1e-3 or not np.array_equal(expected.argmax(1), got.argmax(1)):
        raise SystemExit(f"ONNX output differs from PyTorch (max abs error {err:.2e}); not writing {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    if checksums:
        update_checksums(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), max |onnx - torch| = {err:.2e}, "
          f"val accuracy {state['val_acc']:.4f} at epoch {state['epoch']}", file=sys.stderr)
    return out


def export_model(checkpoint: Path, out: Path, version: str = MODEL_VERSION, int8: bool = True,
                 data_dir: Path | None = None) -> Path:
    """Export float32 (verified against PyTorch); with ``int8``, ship the int8 model if it earns its place.

    The int8 model is kept only if its val.npz accuracy is within 0.5 point of float32 and it is faster
    (models/training/quantize.py); its metadata then records the quantisation and its own accuracy.
    """
    if not int8:
        return export_onnx(checkpoint, out, version)
    import shutil

    import onnx
    from quantize import DEFAULT_DATA, quantize

    with tempfile.TemporaryDirectory() as tmp:
        fp32, q8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export_onnx(checkpoint, fp32, version, checksums=False)
        result = quantize(fp32, q8, data_dir or DEFAULT_DATA)
        print(json.dumps(result), file=sys.stderr)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not result["keep_int8"]:
            print("int8 does not meet the bar (within 0.5 point and faster): shipping float32", file=sys.stderr)
            shutil.copyfile(fp32, out)
        else:
            proto = onnx.load(str(q8))
            meta = {p.key: p for p in proto.metadata_props}
            meta["emoplay.val_accuracy"].value = f"{result['int8']['accuracy']:.4f}"
            extra = proto.metadata_props.add()
            extra.key = "emoplay.quantization"
            extra.value = (f"int8 static QDQ, per-channel weights, calibrated on 1000 training images; float32 val "
                           f"accuracy {result['float32']['accuracy']:.4f}, int8 {result['int8']['accuracy']:.4f}")
            onnx.save(proto, str(out))
    update_checksums(out)
    print(f"shipped {out} ({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "emotion_cnn.onnx")
    parser.add_argument("--version", default=MODEL_VERSION)
    parser.add_argument("--float32", action="store_true", help="ship float32 without trying int8")
    parser.add_argument("--data-dir", type=Path, help="FER2013 folder for int8 calibration and checks")
    args = parser.parse_args(argv)
    export_model(args.checkpoint, args.out, args.version, int8=not args.float32, data_dir=args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
