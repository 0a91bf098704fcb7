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
from net import CLASS_NAMES, INPUT_SIZE, Ensemble, FlipAverage, build  # noqa: E402

MODEL_VERSION = "2.1.0"
TRAINING_DATA = {
    "fer2013": "FER2013 Training split (28,709 images), FER2013 labels; selected on PublicTest (val.npz)",
    "ferplus": "FER2013 Training split, FER+ crowd vote distributions as soft targets (faces with a "
               "seven-class vote and at most {unreadable} unknown or not-a-face votes); selected on PublicTest's "
               "FER+ majority labels",
}
# emoplay.labels: what the model learned from, and so what emoplay.val_accuracy scores against.
LABEL_SOURCES = {"fer2013": "fer2013", "ferplus": "ferplus-probability"}


def update_checksums(model_path: Path) -> None:
    sums_path = model_path.parent / "SHA256SUMS"
    lines = {}
    if sums_path.exists():
        for line in sums_path.read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            lines[name.strip()] = digest
    lines[model_path.name] = hashlib.sha256(model_path.read_bytes()).hexdigest()
    sums_path.write_text("".join(f"{d}  {n}\n" for n, d in sorted(lines.items())))


def describe(model: torch.nn.Module) -> str:
    if isinstance(model, FlipAverage):
        return describe(model.net) + "; mean of the face and its mirror image"
    if isinstance(model, Ensemble):
        return "ensemble (mean probabilities) of: " + "; ".join(describe(m) for m in model.members)
    widths = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)][1::2]
    head = "global-average-pooling" if isinstance(model.classifier[0], torch.nn.AdaptiveAvgPool2d) else "spatial"
    params = sum(p.numel() for p in model.parameters())
    return f"VGG-style CNN, stage widths {'-'.join(map(str, widths))}, {head} head, {params / 1e6:.2f} M parameters"


def load_checkpoints(checkpoints: list[Path]) -> tuple[torch.nn.Module, list[dict]]:
    """One checkpoint's network, or an :class:`Ensemble` of several; and their states, in order."""
    members, states = [], []
    for path in checkpoints:
        state = torch.load(path, weights_only=False)
        if states and (state["mean"], state["std"]) != (states[0]["mean"], states[0]["std"]):
            raise SystemExit(f"{path} normalises its input differently from {checkpoints[0]}: cannot ensemble them")
        member = build(state.get("options"))
        member.load_state_dict(state["model"])
        members.append(member.eval())
        states.append(state)
    model = members[0] if len(members) == 1 else Ensemble(members).eval()
    return model, states


def export_onnx(checkpoint: Path | list[Path], out: Path, version: str = MODEL_VERSION,
                checksums: bool = True, flip_average: bool = True) -> Path:
    import onnx
    import onnxruntime as ort

    checkpoints = [checkpoint] if isinstance(checkpoint, Path) else list(checkpoint)
    model, states = load_checkpoints(checkpoints)
    state = states[0]
    if flip_average:
        model = FlipAverage(model).eval()
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
    options = state.get("options") or {}
    labels = options.get("labels", "fer2013")
    metadata = {
        "emoplay.input_size": str(INPUT_SIZE),
        # the pixels the model was trained on; "equalized": the runtime applies FER2013's contrast stretch and
        # histogram equalisation to each crop (emoplay.pipeline's EmotionClassifier)
        "emoplay.pixels": options.get("pixels", "equalized"),
        "emoplay.labels": LABEL_SOURCES[labels],
        "emoplay.input_format": "gray float32 NCHW, value = (pixel / 255 - mean) / std",
        "emoplay.mean": repr(state["mean"]),
        "emoplay.std": repr(state["std"]),
        "emoplay.class_names": json.dumps(list(CLASS_NAMES)),
        "emoplay.output": "logits",
        "emoplay.model_version": version,
        "emoplay.training_data": TRAINING_DATA[labels].format(unreadable=options.get("max_unreadable_votes", 4)),
        "emoplay.val_accuracy": f"{state['val_acc']:.4f}",
        "emoplay.epoch": "+".join(str(s["epoch"]) for s in states),
        "emoplay.architecture": describe(model),
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
          f"{describe(model)}", file=sys.stderr)
    return out


def export_model(checkpoint: Path | list[Path], out: Path, version: str = MODEL_VERSION, int8: bool = True,
                 data_dir: Path | None = None, flip_average: bool = True,
                 calibration_strength: float | None = None) -> Path:
    """Export float32 (verified against PyTorch); with ``int8``, ship the int8 model if it earns its place.

    The int8 model is kept only if its val.npz accuracy is within 0.5 point of float32 and it is faster
    (models/training/quantize.py). The shipped file's metadata records the val.npz accuracy measured on
    that very file (and, for int8, the quantisation and the float32 accuracy).
    """
    import onnx
    from quantize import DEFAULT_DATA, measure_on_val, quantize

    data_dir = data_dir or DEFAULT_DATA
    with tempfile.TemporaryDirectory() as tmp:
        fp32, q8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export_onnx(checkpoint, fp32, version, checksums=False, flip_average=flip_average)
        if int8:
            result = quantize(fp32, q8, data_dir)
            print(json.dumps(result), file=sys.stderr)
            if not result["keep_int8"]:
                print("int8 does not meet the bar (within 0.5 point and faster): shipping float32", file=sys.stderr)
        else:
            result = {"float32": measure_on_val(fp32, data_dir), "keep_int8": False}
        proto = onnx.load(str(q8 if result["keep_int8"] else fp32))
        meta = {p.key: p for p in proto.metadata_props}
        meta["emoplay.val_accuracy"].value = f"{result['int8' if result['keep_int8'] else 'float32']['accuracy']:.4f}"
        if result["keep_int8"]:
            extra = proto.metadata_props.add()
            extra.key = "emoplay.quantization"
            extra.value = (f"int8 static QDQ, per-channel 7-bit weights (no 16-bit saturation on CPUs without VNNI), "
                           f"calibrated on 1000 training images; float32 val "
                           f"accuracy {result['float32']['accuracy']:.4f}, int8 {result['int8']['accuracy']:.4f}")
            bits = proto.metadata_props.add()
            bits.key, bits.value = "emoplay.weight_bits", "7"  # what the runtime's int8_kernels="auto" reads
        if calibration_strength is not None:  # chosen for this model by models/calibration_strength.py
            entry = proto.metadata_props.add()
            entry.key, entry.value = "emoplay.calibration_strength", f"{calibration_strength:g}"
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(proto, str(out))
    update_checksums(out)
    print(f"shipped {out} ({out.stat().st_size / 1e6:.2f} MB), val accuracy {meta['emoplay.val_accuracy'].value}",
          file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, nargs="+",
                        help="a training checkpoint (best.pt); several make one ensemble model")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "emotion_cnn.onnx")
    parser.add_argument("--version", default=MODEL_VERSION)
    parser.add_argument("--float32", action="store_true", help="ship float32 without trying int8")
    parser.add_argument("--no-flip-average", action="store_true",
                        help="one view per face (by default the file averages the face and its mirror image)")
    parser.add_argument("--data-dir", type=Path, help="FER2013 folder for int8 calibration and checks")
    parser.add_argument("--calibration-strength", type=float, metavar="S",
                        help="an explicit calibration's default strength for this model (models/calibration_strength.py)")
    args = parser.parse_args(argv)
    export_model(args.checkpoint, args.out, args.version, int8=not args.float32, data_dir=args.data_dir,
                 flip_average=not args.no_flip_average, calibration_strength=args.calibration_strength)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
