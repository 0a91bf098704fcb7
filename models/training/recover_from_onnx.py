"""Recover a PyTorch training checkpoint from a shipped emotion model file (int8 QDQ or float32 ONNX).

    python models/training/recover_from_onnx.py models/emotion_cnn.onnx --out runs/recovered-1.1/best.pt

Model 1.1's training checkpoints were not kept (runs/ is not committed), but its ONNX file holds the
weights: export folded each BatchNorm into the convolution before it (weight W' and bias b'), and
int8 quantisation stored W' per output channel as int8 with a scale. This script dequantises the
initializers, puts W' into the convolutions of net.py's EmotionNet and sets every BatchNorm so that
the network computes the same function as the file in *both* modes:

* eval mode: BN(z) = (z - m) / sqrt(v + eps) * gamma + beta with gamma = sqrt(v + eps) and
  beta = m + b' is exactly z + b' for any m, v;
* train mode normalises with the batch's own statistics; choosing m and v as the mean and variance of
  the convolution's output on augmented training batches makes those statistics ~m and ~v, so
  normalising and de-normalising cancel there too and fine-tuning starts from the shipped function.

The checkpoint has train.py's ``best.pt`` layout, so ``train.py --init-from`` and ``export.py`` take it.
It prints the val.npz accuracy of the file (onnxruntime) and of the recovered network (PyTorch, eval
mode, with the file's flip averaging when the file has it) so the two can be compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from augment import AugmentOptions, augment_batch  # noqa: E402
from net import CLASS_NAMES, EmotionNet, FlipAverage  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "fer2013"


def _float_tensors(proto) -> dict[str, np.ndarray]:
    """Every initializer as float, plus the outputs of DequantizeLinear nodes whose inputs are initializers."""
    from onnx import helper, numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant":
            init[node.output[0]] = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
    values = {k: v.astype(np.float32) for k, v in init.items() if v.dtype.kind == "f"}
    for node in proto.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in init:
            continue
        q, scale = init[node.input[0]].astype(np.float32), init[node.input[1]].astype(np.float32)
        zero = init[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:  # per-channel along ``axis``
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        values[node.output[0]] = (q - zero) * scale
    return values


def read_layers(path: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray], dict]:
    """The file's convolutions (folded weight, bias) in graph order, its final linear layer, and its metadata."""
    import onnx

    proto = onnx.load(str(path))
    values = _float_tensors(proto)
    convs = [(values[n.input[1]], values[n.input[2]]) for n in proto.graph.node if n.op_type == "Conv"]
    gemms = [n for n in proto.graph.node if n.op_type == "Gemm"]
    if len(gemms) != 1 or not convs:
        raise SystemExit(f"{path}: expected convolutions and one linear layer, found {len(convs)} and {len(gemms)}")
    gemm = gemms[0]
    weight = values[gemm.input[1]]
    transposed = any(a.name == "transB" and a.i == 1 for a in gemm.attribute)
    linear = (weight if transposed else weight.T, values[gemm.input[2]])
    meta = {p.key: p.value for p in proto.metadata_props}
    return convs, linear, meta


def _architecture(convs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[tuple[int, ...], str]:
    if len(convs) not in (8, 9):
        raise SystemExit(f"the file has {len(convs)} convolutions: not a four-stage EmotionNet (8, + 1 spatial head)")
    widths = tuple(w.shape[0] for w, _ in convs[:8][1::2])
    return widths, "spatial" if len(convs) == 9 else "gap"


def build_network(convs, linear) -> EmotionNet:
    """EmotionNet with the folded weights and every BatchNorm set to add the folded bias (eval mode)."""
    widths, head = _architecture(convs)
    net = EmotionNet(widths, head).eval()
    modules = list(net.features) + list(net.classifier)
    pairs = [(m, modules[i + 1]) for i, m in enumerate(modules) if isinstance(m, torch.nn.Conv2d)]
    if len(pairs) != len(convs):
        raise SystemExit(f"the file has {len(convs)} convolutions, EmotionNet{widths} {head} has {len(pairs)}")
    with torch.no_grad():
        for (conv, bn), (w, b) in zip(pairs, convs):
            conv.weight.copy_(torch.from_numpy(w))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(float(np.sqrt(1.0 + bn.eps)))
            bn.bias.copy_(torch.from_numpy(b))
        fc = net.classifier[-1]
        fc.weight.copy_(torch.from_numpy(linear[0]))
        fc.bias.copy_(torch.from_numpy(linear[1]))
    return net


@torch.no_grad()
def match_batch_statistics(net: EmotionNet, x: torch.Tensor, batch: int = 256) -> None:
    """Set each BatchNorm's m, v to its input's statistics on ``x`` and gamma, beta so eval mode is unchanged."""
    modules = list(net.features) + list(net.classifier)
    bns = [modules[i + 1] for i, m in enumerate(modules) if isinstance(m, torch.nn.Conv2d)]
    sums = {bn: [0.0, 0.0, 0] for bn in bns}

    def hook(bn, inputs, _output):
        z = inputs[0].double()
        acc = sums[bn]
        acc[0] = acc[0] + z.sum(dim=(0, 2, 3))
        acc[1] = acc[1] + (z * z).sum(dim=(0, 2, 3))
        acc[2] += z.shape[0] * z.shape[2] * z.shape[3]

    handles = [bn.register_forward_hook(hook) for bn in bns]
    net.eval()
    for i in range(0, len(x), batch):
        net(x[i:i + batch])
    for h in handles:
        h.remove()
    for bn in bns:
        total, squares, n = sums[bn]
        mean = total / n
        var = (squares / n - mean * mean).clamp_min(1e-6)
        folded_bias = bn.bias.double() - bn.running_mean.double() * bn.weight.double() / (bn.running_var.double()
                                                                                             + bn.eps).sqrt()
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.weight.copy_((var + bn.eps).sqrt().float())
        bn.bias.copy_((mean + folded_bias).float())


def _onnx_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    logits = np.concatenate([session.run(None, {name: x[i:i + 256]})[0] for i in range(0, len(x), 256)])
    return float((logits.argmax(1) == y).mean())


@torch.no_grad()
def _torch_accuracy(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray) -> float:
    model.eval()
    logits = torch.cat([model(x[i:i + 256]) for i in range(0, len(x), 256)])
    return float((logits.argmax(1).numpy() == y).mean())


def recover(model_path: Path, out: Path, data_dir: Path, images: int = 4096, seed: int = 0) -> dict:
    convs, linear, meta = read_layers(model_path)
    if "emoplay.class_names" in meta and tuple(json.loads(meta["emoplay.class_names"])) != CLASS_NAMES:
        raise SystemExit(f"{model_path}: class names differ from {CLASS_NAMES}")
    mean, std = float(meta["emoplay.mean"]), float(meta["emoplay.std"])
    net = build_network(convs, linear)
    with np.load(data_dir / "train.npz") as d:
        pick = np.random.default_rng(seed).choice(len(d["labels"]), min(images, len(d["labels"])), replace=False)
        train_x = torch.from_numpy(d["images"][np.sort(pick)]).float().div_(255.0).unsqueeze(1)
    gen = torch.Generator().manual_seed(seed)
    # Training sees augmented faces; its batch statistics are those of augmented faces.
    match_batch_statistics(net, (augment_batch(train_x, gen, AugmentOptions()) - mean) / std)

    with np.load(data_dir / "val.npz") as d:
        val_u8, y_val = d["images"], d["labels"].astype(np.int64)
    x_val = (val_u8.astype(np.float32) / 255.0 - mean) / std
    flip = "mirror" in meta.get("emoplay.architecture", "")
    file_acc = _onnx_accuracy(model_path, x_val[:, None], y_val)
    xt = torch.from_numpy(x_val).unsqueeze(1)
    torch_acc = _torch_accuracy(FlipAverage(net) if flip else net, xt, y_val)
    single_acc = _torch_accuracy(net, xt, y_val)
    # train mode on a plain batch: how close fine-tuning's first forward pass is to the file's function
    probe = (train_x[:512] - mean) / std
    with torch.no_grad():
        eval_out = net.eval()(probe)
        train_out = net.train()(probe)
    net.eval()
    agree = float((eval_out.argmax(1) == train_out.argmax(1)).float().mean())
    report = {"file": str(model_path), "file_val_acc": file_acc, "recovered_val_acc": torch_acc,
              "recovered_val_acc_one_view": single_acc, "flip_average_in_file": flip,
              "train_vs_eval_mode_argmax_agreement": agree,
              "train_vs_eval_mode_max_abs_logit_diff": float((eval_out - train_out).abs().max())}
    widths, head = _architecture(convs)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "mean": mean, "std": std, "val_acc": single_acc,
                "epoch": int(meta.get("emoplay.epoch", "0").split("+")[0] or 0),
                "options": {"widths": ",".join(map(str, widths)), "head": head},
                "recovered_from": str(model_path), "recovered_from_version": meta.get("emoplay.model_version", "")},
               out)
    report["checkpoint"] = str(out)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, nargs="?", default=REPO_ROOT / "models" / "emotion_cnn.onnx")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "recovered" / "best.pt")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--images", type=int, default=4096, help="augmented training images for BN statistics")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    print(json.dumps(recover(args.model, args.out, args.data_dir, args.images), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
