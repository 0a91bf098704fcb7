"""Narrow a trained emotion network: keep each convolution's most useful channels, as a fine-tune's start.

    python models/training/prune.py runs/recovered-1.1/best.pt --widths 32,64,128,256 --out runs/pruned/best.pt

A student with narrower stages (``net.py`` widths) costs about (new / old)^2 of the multiply-adds: widths
32-64-128-256 are 44 % of 48-96-192-384's. Training one from scratch takes dozens of epochs; starting from
the wide network's own channels keeps most of what it learned, so a short distillation fine-tune
(``train.py --init-from OUT --teacher CKPT``) can recover the rest.

Which channels: a channel's importance is its mean activation after the ReLU on training faces times the
L1 norm of the weights the next layer reads it with (its first-order share of the next layer's input).
The kept channels' convolution weights, BatchNorm parameters and running statistics are copied as they
are; the next layer keeps only the matching input channels. The checkpoint has train.py's ``best.pt``
layout (options name the new widths), so ``train.py --init-from`` and ``export.py`` take it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from net import EmotionNet, build, parse_widths  # noqa: E402
from train import DEFAULT_DATA, load_split, predict, to_tensor  # noqa: E402


def _conv_bn_pairs(net: EmotionNet) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """The network's convolutions whose output channels can be pruned, each with its BatchNorm, in order."""
    layers = list(net.features)
    return [(layer, layers[i + 1]) for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]


def _next_conv(net: EmotionNet, index: int) -> nn.Conv2d:
    """The convolution that reads the ``index``-th pruned convolution's output (the head's for the last)."""
    convs = [c for c, _ in _conv_bn_pairs(net)] + [net.classifier[0]]
    return convs[index + 1]


@torch.no_grad()
def channel_importance(net: EmotionNet, faces: torch.Tensor) -> list[torch.Tensor]:
    """Per pruned convolution: mean post-ReLU activation per channel x L1 norm of the next layer's weights."""
    net.eval()
    pairs = _conv_bn_pairs(net)
    sums = [torch.zeros(bn.num_features) for _, bn in pairs]

    def record(k: int):
        def hook(_module, _inputs, out: torch.Tensor) -> None:
            sums[k].add_(out.relu().mean((0, 2, 3)))
        return hook

    hooks = [bn.register_forward_hook(record(k)) for k, (_, bn) in enumerate(pairs)]
    try:
        for batch in faces.split(256):
            net(batch)
    finally:
        for hook in hooks:
            hook.remove()
    return [s * _next_conv(net, k).weight.abs().sum((0, 2, 3)) for k, s in enumerate(sums)]


def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, keep: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(src, name)[keep])


@torch.no_grad()
def prune(net: EmotionNet, widths: tuple[int, ...], faces: torch.Tensor) -> EmotionNet:
    """A network of the same design with ``widths``, holding ``net``'s most important channels."""
    if not isinstance(net.classifier[0], nn.Conv2d):
        raise SystemExit("prune.py narrows networks with the spatial head (model 1.1's)")
    old_widths = [conv.out_channels for conv, _ in _conv_bn_pairs(net)][1::2]
    if any(new > old for new, old in zip(widths, old_widths)):
        raise SystemExit(f"widths {widths} must not exceed the network's own {tuple(old_widths)}")
    small = EmotionNet(widths, "spatial")
    # two convolutions per stage: both keep the stage's width
    keeps = [scores.topk(widths[k // 2]).indices.sort().values
             for k, scores in enumerate(channel_importance(net, faces))]
    inputs = torch.tensor([0])
    for (src, src_bn), (dst, dst_bn), keep in zip(_conv_bn_pairs(net), _conv_bn_pairs(small), keeps):
        dst.weight.copy_(src.weight[keep][:, inputs])
        _copy_bn(dst_bn, src_bn, keep)
        inputs = keep
    small.classifier[0].weight.copy_(net.classifier[0].weight[:, inputs])
    _copy_bn(small.classifier[1], net.classifier[1], torch.arange(net.classifier[1].num_features))
    small.classifier[5].load_state_dict(net.classifier[5].state_dict())
    return small


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a train.py best.pt (e.g. recover_from_onnx.py's)")
    parser.add_argument("--widths", required=True, help="the narrower stage widths, e.g. 32,64,128,256")
    parser.add_argument("--out", required=True, help="where the pruned best.pt goes")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--faces", type=int, default=2048, help="training faces that measure the channels")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    state = torch.load(args.checkpoint, weights_only=False)
    net = build(state["options"])
    net.load_state_dict(state["model"])
    mean, std = state["mean"], state["std"]
    pixels = state["options"].get("pixels", "equalized")
    x_train, _, _ = load_split(Path(args.data_dir), "train", pixels=pixels)
    pick = np.random.default_rng(0).choice(len(x_train), size=min(args.faces, len(x_train)), replace=False)
    faces = (to_tensor(x_train[np.sort(pick)]) - mean) / std
    small = prune(net, parse_widths(args.widths), faces)

    x_val, y_val, _ = load_split(Path(args.data_dir), "val", pixels=pixels)  # FER2013's labels, as a check
    x_val_t, y_val_t = to_tensor(x_val), torch.from_numpy(y_val)
    acc = {name: float((predict(m, x_val_t, mean, std, bf16=False).argmax(1) == y_val_t).float().mean())
           for name, m in (("before", net), ("pruned", small))}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    options = dict(state["options"], widths=",".join(map(str, parse_widths(args.widths))), head="spatial")
    torch.save({"model": small.state_dict(), "mean": mean, "std": std, "val_acc": acc["pruned"],
                "epoch": 0, "options": options, "pruned_from": str(args.checkpoint)}, out)
    print(json.dumps({"val_acc_one_view": acc, "widths": options["widths"], "checkpoint": str(out)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
