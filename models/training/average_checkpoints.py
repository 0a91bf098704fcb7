"""Average the weights of checkpoints of one network (a "model soup"), e.g. a model and its fine-tuned self.

    python models/training/average_checkpoints.py runs/recovered-1.1/best.pt runs/emotion-v12/best.pt \
        --out runs/soup/best.pt

Floating-point entries (weights, BatchNorm statistics) are averaged, integer ones (batch counters) are
taken from the first checkpoint; the mean, std and options come from the first (the others' must
agree within 1e-3). The result has
train.py's ``best.pt`` layout, so export.py takes it; its ``val_acc`` is unknown (export measures it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def average(paths: list[Path], out: Path) -> Path:
    states = [torch.load(p, weights_only=False) for p in paths]
    first = states[0]
    for path, state in zip(paths[1:], states[1:]):
        # a fine-tune on a subset of the training images computes a mean and std a few 1e-4 away: same input
        same_input = abs(state["mean"] - first["mean"]) < 1e-3 and abs(state["std"] - first["std"]) < 1e-3
        if not same_input or state["model"].keys() != first["model"].keys():
            raise SystemExit(f"{path} is not the same network with the same input normalisation as {paths[0]}")
    model = {}
    for key, value in first["model"].items():
        if value.dtype.is_floating_point:
            model[key] = torch.stack([s["model"][key].float() for s in states]).mean(0)
        else:
            model[key] = value.clone()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**{k: v for k, v in first.items() if k != "model"}, "model": model, "val_acc": float("nan"),
                "epoch": "+".join(str(s.get("epoch", "?")) for s in states), "averaged_from": [str(p) for p in paths]},
               out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(average(args.checkpoint, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
