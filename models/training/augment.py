"""Batch augmentation on the CPU, vectorised over the whole batch.

Every transform works on a float batch [B, 1, 48, 48] in [0, 1] and draws its
randomness from one ``torch.Generator`` so a run is reproducible. The set is
chosen for what webcams do to faces: framing differences between detector and
FER2013 crops (scale/shift), head roll (rotation), mirror images (flip),
lighting (brightness/contrast), sensor noise and soft focus (noise/blur), and
hands, hair or glasses over part of the face (random erasing).

The ``players`` preset (model 1.2) adds what real players' cameras do that
FER2013 rarely shows: head yaw and pitch (a projective warp; pitched-down
faces looking at a phone), a face squashed or stretched vertically, gamma and
stronger lighting changes, histogram equalisation (a rank transform blended in)
and low-resolution faces (downscaled, then scaled back up). Every new transform
is off in the defaults and draws no random numbers when off, so the default
options (model 1.1's) give exactly the batches they always gave.

:func:`mix_with_neutral` (``train.py --neutral-mix``) is aimed at faint expressions, the faces model
1.1 calls neutral: it blends some expressive faces with a neutral training face and gives the blend
a soft target with the same shares, so that a face with part of an expression says so in part.
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
    perspective: float = 0.0  # max |projective coefficient| for yaw (x) and pitch (y); 0 = off
    aspect: float = 0.0  # vertical scale jitter, +- (a pitched head looks shorter); 0 = off
    gamma: float = 0.0  # max |log gamma|; 0 = off
    equalize_prob: float = 0.0  # share of faces blended with their histogram-equalised self
    downscale_prob: float = 0.0  # share of faces brought down to 16-32 px and back
    downscale_sizes: tuple[int, ...] = (16, 24, 32)


PRESETS = {
    "1.1": AugmentOptions(),
    "players": AugmentOptions(max_rotation_deg=20.0, brightness=0.5, contrast=0.5, perspective=0.3, aspect=0.12,
                              gamma=0.5, equalize_prob=0.3, downscale_prob=0.15),
}


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return torch.rand(n, generator=gen) * (high - low) + low


def _projective_grid(shape, theta: torch.Tensor, gen: torch.Generator, opts: AugmentOptions) -> torch.Tensor:
    """Sampling grid of a projective warp (yaw, pitch, vertical squash) followed by the affine ``theta``.

    Output point (u, v) samples the input at theta @ (u / d, v * s / d, 1) with d = 1 + px * u + py * v:
    px != 0 shrinks one side of the face and enlarges the other, as a turned head does; py does the same
    between forehead and chin (a head pitched down or up); s squashes or stretches the face vertically.
    """
    b = shape[0]
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(b, 2, 3)
    base = F.affine_grid(identity, list(shape), align_corners=False)  # [B, H, W, 2] of (u, v)
    px = _uniform(gen, b, -opts.perspective, opts.perspective)[:, None, None]
    py = _uniform(gen, b, -opts.perspective, opts.perspective)[:, None, None]
    s = _uniform(gen, b, 1 - opts.aspect, 1 + opts.aspect)[:, None, None]
    u, v = base[..., 0], base[..., 1]
    d = 1 + px * u + py * v
    uv = torch.stack([u / d, v * s / d, torch.ones_like(u)], -1)  # [B, H, W, 3]
    return torch.einsum("bhwk,bjk->bhwj", uv, theta)


def _equalize_some(x: torch.Tensor, gen: torch.Generator, prob: float) -> torch.Tensor:
    """Blend a share of the faces with their histogram-equalised version (the rank of each pixel)."""
    b = x.shape[0]
    amount = _uniform(gen, b, 0.5, 1.0)[:, None]
    chosen = torch.rand(b, generator=gen) < prob
    flat = x.reshape(b, -1).clone()
    picked = flat[chosen]
    ranks = picked.argsort(1).argsort(1).float() / (flat.shape[1] - 1)
    flat[chosen] = picked * (1 - amount[chosen]) + ranks * amount[chosen]
    return flat.reshape(x.shape)


def _downscale_some(x: torch.Tensor, gen: torch.Generator, opts: AugmentOptions) -> torch.Tensor:
    """A share of the faces brought down to one of ``downscale_sizes`` pixels and back: low-resolution faces."""
    b, _, h, w = x.shape
    which = torch.randint(len(opts.downscale_sizes), (b,), generator=gen)
    chosen = torch.rand(b, generator=gen) < opts.downscale_prob
    out = x
    for i, size in enumerate(opts.downscale_sizes):
        small = F.interpolate(F.interpolate(x, size=(size, size), mode="area"), size=(h, w), mode="bilinear",
                              align_corners=False)
        out = torch.where((chosen & (which == i))[:, None, None, None], small, out)
    return out


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
    if opts.perspective > 0 or opts.aspect > 0:
        grid = _projective_grid(x.shape, theta, gen, opts)
    else:
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    if opts.gamma > 0:
        gamma = torch.exp(_uniform(gen, b, -opts.gamma, opts.gamma))[:, None, None, None]
        x = x.clamp(1e-4, 1) ** gamma
    if opts.equalize_prob > 0:
        x = _equalize_some(x, gen, opts.equalize_prob)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(gen, b, 1 - opts.contrast, 1 + opts.contrast)[:, None, None, None]
    bright = _uniform(gen, b, 1 - opts.brightness, 1 + opts.brightness)[:, None, None, None]
    x = ((x - mean) * contrast + mean) * bright

    blur = (torch.rand(b, generator=gen) < opts.blur_prob)[:, None, None, None]
    soft = F.interpolate(F.interpolate(x, scale_factor=0.5, mode="area"), size=(h, w), mode="bilinear",
                         align_corners=False)
    x = torch.where(blur, soft, x)
    if opts.downscale_prob > 0:
        x = _downscale_some(x, gen, opts)

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


def mix_with_neutral(x: torch.Tensor, y: torch.Tensor, neutral_faces: torch.Tensor, neutral: int, classes: int,
                     gen: torch.Generator, prob: float, low: float,
                     neutral_share: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft targets [B, classes] for labels ``y``, and ``x`` with a share ``prob`` of its expressive faces
    blended with random ``neutral_faces``: ``lam * face + (1 - lam) * neutral face``, lam uniform in
    [``low``, 1]. The blend's target puts ``(1 - lam) * neutral_share`` on ``neutral`` and the rest on the
    face's class (``neutral_share`` 1: the blend's own shares; 0: the expression's label, so that a faint
    expression is still called what it is). ``prob`` 0: one-hot targets, ``x`` itself, and no random
    numbers drawn."""
    target = F.one_hot(y, classes).float()
    if prob <= 0:
        return x, target
    picked = (torch.rand(len(y), generator=gen) < prob) & (y != neutral)
    lam = _uniform(gen, int(picked.sum()), low, 1.0)
    partners = neutral_faces[torch.randint(len(neutral_faces), (len(lam),), generator=gen)]
    x = x.clone()
    shares = lam.view(-1, 1, 1, 1)
    x[picked] = shares * x[picked] + (1 - shares) * partners
    to_neutral = (1 - lam) * neutral_share
    mixed = target[picked] * (1 - to_neutral)[:, None]
    mixed[:, neutral] += to_neutral
    target[picked] = mixed
    return x, target
