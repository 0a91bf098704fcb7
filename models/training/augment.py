"""Batch augmentation on the CPU, vectorised over the whole batch.

Every transform works on a float batch [B, 1, 48, 48] in [0, 1] and draws its
randomness from one ``torch.Generator`` so a run is reproducible. The set is
chosen for what webcams do to faces: framing differences between detector and
FER2013 crops (scale/shift), head roll (rotation), mirror images (flip),
lighting (brightness/contrast), sensor noise and soft focus (noise/blur), and
hands, hair or glasses over part of the face (random erasing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentOptions:
    max_rotation_deg: float = 15.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    max_shift: float = 0.10  # fraction of the image side
    brightness: float = 0.4  # multiplicative, +-
    contrast: float = 0.4  # around the image mean, +-
    noise_prob: float = 0.2
    noise_sigma: float = 0.04
    blur_prob: float = 0.15
    erase_prob: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.2)


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return torch.rand(n, generator=gen) * (high - low) + low


def augment_batch(x: torch.Tensor, gen: torch.Generator, opts: AugmentOptions = AugmentOptions()) -> torch.Tensor:
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)

    angle = _uniform(gen, b, -opts.max_rotation_deg, opts.max_rotation_deg) * math.pi / 180
    scale = _uniform(gen, b, *opts.scale_range)
    tx = _uniform(gen, b, -opts.max_shift, opts.max_shift) * 2
    ty = _uniform(gen, b, -opts.max_shift, opts.max_shift) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(gen, b, 1 - opts.contrast, 1 + opts.contrast)[:, None, None, None]
    bright = _uniform(gen, b, 1 - opts.brightness, 1 + opts.brightness)[:, None, None, None]
    x = ((x - mean) * contrast + mean) * bright

    blur = (torch.rand(b, generator=gen) < opts.blur_prob)[:, None, None, None]
    soft = F.interpolate(F.interpolate(x, scale_factor=0.5, mode="area"), size=(h, w), mode="bilinear",
                         align_corners=False)
    x = torch.where(blur, soft, x)

    noisy = (torch.rand(b, generator=gen) < opts.noise_prob)[:, None, None, None]
    sigma = _uniform(gen, b, 0, opts.noise_sigma)[:, None, None, None]
    x = x + noisy * sigma * torch.randn(x.shape, generator=gen)

    erase = torch.rand(b, generator=gen) < opts.erase_prob
    area = _uniform(gen, b, *opts.erase_area) * h * w
    aspect = torch.exp(_uniform(gen, b, math.log(0.3), math.log(3.3)))
    eh = torch.sqrt(area * aspect).clamp(1, h)
    ew = torch.sqrt(area / aspect).clamp(1, w)
    y0 = torch.rand(b, generator=gen) * (h - eh)
    x0 = torch.rand(b, generator=gen) * (w - ew)
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    box = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None])
           & (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]) & erase[:, None, None])
    fill = torch.rand(b, generator=gen)[:, None, None].expand(b, h, w)
    x = torch.where(box[:, None], fill[:, None], x)
    return x.clamp(0, 1)
