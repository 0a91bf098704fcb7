"""The emotion CNN: a small VGG-style network for 48x48 grey faces.

Four stages of two 3x3 conv + BatchNorm + ReLU, each followed by 2x2 max
pooling (48 -> 24 -> 12 -> 6 -> 3), then a head. The shipped network uses
stage widths 48-96-192-384 and the ``spatial`` head: one 3x3 convolution over
the whole 3x3 map (it keeps where on the face a feature fired: mouth corners
and brows sit in known places in an aligned crop), BatchNorm, ReLU, dropout and
a linear layer to the 7 FER2013 classes. ~3.5 M parameters, ~250 M MACs per
face; int8 keeps it under a millisecond on one CPU core.

The ``gap`` head (global average pooling, dropout, linear) is the one model
1.0.0 used. A plain flattened 3x3 x C head without the BatchNorm diverged under
SGD at lr >= 0.01 in our probes; the normalised spatial head does not.
"""

from __future__ import annotations

import torch
from torch import nn

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
STAGE_WIDTHS = (48, 96, 192, 384)
HEAD = "spatial"
HEAD_WIDTH = 256
INPUT_SIZE = 48
HEADS = ("spatial", "gap")


def parse_widths(text: str) -> tuple[int, ...]:
    """``"48,96,192,384"`` -> (48, 96, 192, 384), as stored in training options."""
    widths = tuple(int(part) for part in str(text).replace("-", ",").split(",") if part.strip())
    if len(widths) != 4 or min(widths) < 1:
        raise ValueError(f"widths {text!r}: give four positive stage widths, e.g. 48,96,192,384")
    return widths


def _stage(in_channels: int, out_channels: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(2):
        layers += [
            nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
    layers.append(nn.MaxPool2d(2))
    return layers


class EmotionNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = STAGE_WIDTHS, head: str = HEAD, num_classes: int = len(CLASS_NAMES),
                 dropout: float = 0.4) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head {head!r}: choose one of {', '.join(HEADS)}")
        layers: list[nn.Module] = []
        channels = 1
        for width in widths:
            layers += _stage(channels, width)
            channels = width
        self.features = nn.Sequential(*layers)
        if head == "gap":
            self.classifier = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes)
            )
        else:
            side = INPUT_SIZE // 2 ** len(widths)
            self.classifier = nn.Sequential(
                nn.Conv2d(channels, HEAD_WIDTH, side, bias=False), nn.BatchNorm2d(HEAD_WIDTH), nn.ReLU(inplace=True),
                nn.Flatten(), nn.Dropout(dropout), nn.Linear(HEAD_WIDTH, num_classes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build(options: dict | None) -> EmotionNet:
    """The network a checkpoint's training options describe (checkpoints from before the options: 1.0.0's)."""
    options = options or {}
    return EmotionNet(parse_widths(options.get("widths", "32,64,128,256")), options.get("head", "gap"))


class Ensemble(nn.Module):
    """Several networks on the same input; the output is the log of their mean probabilities.

    emoplay applies softmax to the output, and softmax(log(mean p)) = mean p, so the runtime sees
    the averaged probabilities with no change to its contract.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x).softmax(1) for m in self.members]).mean(0).log()


class FlipAverage(nn.Module):
    """A network run on the face and on its mirror image; the output is the log of the two probabilities' mean.

    Test-time flip averaging inside the model file: the runtime's one call per batch of faces does both
    views (one batch of 2N), so its cost is in every figure that times the model.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.net(torch.cat([x, x.flip(-1)])).softmax(1)
        return p.reshape(2, -1, p.shape[1]).mean(0).log()
