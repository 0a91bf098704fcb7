"""Train the emoplay emotion CNN on FER2013 (CPU, bf16 autocast), then export it.

Model 1.1 (about 100 minutes on 2 CPU cores)::

    python models/training/train.py --run-dir runs/emotion --export models/emotion_cnn.onnx

The fine-tune of model 1.1 with the ``players`` augmentation tried for model 1.2 (measured, not
shipped) and its exact commands (recover_from_onnx.py, train.py --init-from, export.py) are in
models/EXPERIMENTS.md. On CPUs without AVX-512 BF16 pass ``--precision fp32``.

Recipe (see models/MODEL_CARD.md): SGD + Nesterov with a one-cycle learning
rate, label smoothing, class-balanced loss weights for the rare ``disgust``
class, batch augmentation (augment.py), an exponential moving average (EMA) of
the weights that is evaluated and kept, and early stopping on val.npz.
Everything is seeded; a checkpoint after each epoch lets ``--resume`` pick up
a run exactly where it stopped. The export (export.py) puts test-time flip
averaging inside the ONNX file and quantises it to int8 when that keeps accuracy.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from augment import PRESETS, AugmentOptions, augment_batch, mix_with_neutral  # noqa: E402
from net import CLASS_NAMES, HEAD, STAGE_WIDTHS, EmotionNet, FlipAverage, parse_widths  # noqa: E402

NEUTRAL = CLASS_NAMES.index("neutral")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "fer2013"


@dataclass
class TrainOptions:
    data_dir: str = str(DEFAULT_DATA)
    epochs: int = 68
    widths: str = ",".join(str(w) for w in STAGE_WIDTHS)  # four stage widths of the VGG-style trunk
    head: str = HEAD  # "spatial" (3x3 conv over the last map) or "gap" (global average pooling, model 1.0.0)
    batch_size: int = 128
    max_lr: float = 0.04
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    class_weight_power: float = 0.3  # loss weight ~ (1/frequency) ** power; 0 = unweighted
    ema_decay: float = 0.999
    patience: int = 20  # epochs without a new best EMA val accuracy before stopping
    seed: int = 20261121
    threads: int = 2
    limit_train: int = 0  # use only the first N training images (smoke tests); 0 = all
    limit_val: int = 0
    init_from: str = ""  # start from this checkpoint's weights (a warm restart: a new, shorter cycle)
    pct_start: float = 0.15  # share of the run spent raising the learning rate
    stop_after: int = 0  # end this process after that epoch, as if interrupted (resume with --resume); 0 = never
    precision: str = "bf16"  # "bf16" autocast (fast only on CPUs with AVX-512 BF16) or "fp32"
    teacher: str = ""  # distil from this checkpoint, run on each augmented batch with flip averaging (model 1.2)
    distill_weight: float = 0.5  # share of the loss that matches the teacher; the rest is the labels' loss
    distill_temperature: float = 2.0
    neutral_mix: float = 0.0  # share of expressive faces blended with a neutral face, soft target (augment.py)
    neutral_mix_low: float = 0.35  # the smallest share of the expressive face in such a blend
    neutral_mix_target: float = 1.0  # the blend's target gives neutral (1 - share) * this; 0: the face's label
    labels: str = "fer2013"  # "fer2013" (hard labels) or "ferplus" (the FER+ crowd's vote distributions)
    pixels: str = "equalized"  # "equalized" (train.npz) or "original" (train_original.npz, what a camera gives)
    ferplus_votes: str = ""  # the FER+ votes CSV; empty: data_dir/ferplus_votes.csv
    max_unreadable_votes: int = 4  # with ferplus: leave out faces with more unknown + not-a-face votes than this
    fer2013_share: float = 0.0  # with ferplus: the target's share given to FER2013's own label (0: votes only)
    augment: dict = field(default_factory=lambda: asdict(AugmentOptions()))


PIXEL_FILES = {"equalized": "{split}.npz", "original": "{split}_original.npz"}


def load_split(data_dir: Path, name: str, limit: int = 0,
               pixels: str = "equalized") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if pixels not in PIXEL_FILES:
        raise SystemExit(f"pixels {pixels!r}: choose one of {', '.join(PIXEL_FILES)}")
    path = data_dir / PIXEL_FILES[pixels].format(split=name)
    if not path.exists():
        raise SystemExit(f"no {path}: pass --data-dir pointing at a folder with train.npz and val.npz")
    with np.load(path) as d:
        classes = tuple(str(c) for c in d["classes"])
        if classes != CLASS_NAMES:
            raise SystemExit(f"{path}: classes {classes} differ from {CLASS_NAMES}")
        images, labels = d["images"], d["labels"]
        ids = d["ids"] if "ids" in d.files else np.array([f"{name}_{i}" for i in range(len(labels))])
    if limit:
        images, labels, ids = images[:limit], labels[:limit], ids[:limit]
    return images, labels.astype(np.int64), ids


def crowd_targets(opts: "TrainOptions", ids: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    """FER+ soft targets [N, 7] and the mask of faces kept for ``split`` (see emoplay.evaluation.ferplus).

    Training keeps every face with a seven-class vote and at most ``max_unreadable_votes`` unknown and
    not-a-face votes; validation keeps the faces with a seven-class majority label (the scoring protocol).
    """
    sys.path.insert(0, str(REPO_ROOT))  # the vote reader is the library's, also from a checkout not installed
    from emoplay.evaluation.ferplus import FERPLUS_COLUMNS, read_ferplus_votes

    path = Path(opts.ferplus_votes) if opts.ferplus_votes else Path(opts.data_dir) / "ferplus_votes.csv"
    votes = read_ferplus_votes(path, [str(i) for i in ids], CLASS_NAMES)
    if split == "train":
        unreadable = votes.all_votes[:, [FERPLUS_COLUMNS.index("unknown"), FERPLUS_COLUMNS.index("NF")]].sum(1)
        keep = votes.has_votes & (unreadable <= opts.max_unreadable_votes)
    else:
        keep = votes.majority >= 0
    soft = votes.soft
    if split != "train":  # score on the majority label
        soft = np.eye(len(CLASS_NAMES), dtype=np.float32)[np.maximum(votes.majority, 0)]
    return soft.astype(np.float32), keep


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, mean: float, std: float, batch: int = 512,
            bf16: bool = True) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out.append(model((x[i:i + batch] - mean) / std).float())
    return torch.cat(out)


def load_teacher(path: str, mean: float, std: float) -> torch.nn.Module:
    """A checkpoint's network wrapped in :class:`FlipAverage`, frozen, in eval mode: the distillation target.

    Its output is the log of the mean probabilities of the face and its mirror image, so a one-view student
    learns what the two-view file computes. The teacher must normalise its input as the student does.
    """
    from export import load_checkpoints

    net, (state,) = load_checkpoints([Path(path)])
    if abs(state["mean"] - mean) > 1e-4 or abs(state["std"] - std) > 1e-4:
        raise SystemExit(f"teacher {path} normalises with mean {state['mean']:.4f} std {state['std']:.4f}, the "
                         f"training data with {mean:.4f} {std:.4f}: train the student on the teacher's data")
    teacher = FlipAverage(net.to(memory_format=torch.channels_last)).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def distillation_loss(student_logits: torch.Tensor, teacher_log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at ``temperature``, scaled by its square (Hinton et al. 2015) so that the
    gradient's size does not depend on the temperature."""
    target = F.softmax(teacher_log_probs / temperature, dim=1)
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1), target,
                    reduction="batchmean") * temperature ** 2


class ProgressBar:
    """One line per epoch, redrawn in place: batches done, loss, and an ETA for the run."""

    def __init__(self, total_epochs: int, start_epoch: int, batches_per_epoch: int) -> None:
        self.total = (total_epochs - start_epoch) * batches_per_epoch
        self.per_epoch = batches_per_epoch
        self.done = 0
        self.started = time.monotonic()

    def step(self, epoch: int, batch: int, loss: float) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        bar = "#" * int(20 * (batch + 1) / self.per_epoch)
        sys.stderr.write(f"\repoch {epoch + 1} [{bar:<20}] loss {loss:.3f}  ETA {eta / 60:5.1f} min ")
        sys.stderr.flush()


def train(opts: TrainOptions, run_dir: Path, resume: bool) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    if opts.precision not in ("bf16", "fp32"):
        raise SystemExit(f"precision {opts.precision!r}: choose bf16 or fp32")
    # bf16 autocast is faster on CPUs with AVX-512 BF16 (model 1.1 was trained so) but emulated on AVX2-only
    # CPUs: there one batch of 128 took 140 s in bf16 against 14 s in float32.
    bf16 = opts.precision == "bf16"
    torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    data_dir = Path(opts.data_dir)
    x_train_u8, y_train_np, ids_train = load_split(data_dir, "train", opts.limit_train, opts.pixels)
    x_val_u8, y_val_np, ids_val = load_split(data_dir, "val", opts.limit_val, opts.pixels)
    soft_train = None
    if opts.labels == "ferplus":
        soft_np, keep = crowd_targets(opts, ids_train, "train")
        if not 0.0 <= opts.fer2013_share <= 1.0:
            raise SystemExit(f"fer2013-share {opts.fer2013_share}: give a share between 0 and 1")
        fer2013 = np.eye(len(CLASS_NAMES), dtype=np.float32)[y_train_np]
        soft_np = (1 - opts.fer2013_share) * soft_np + opts.fer2013_share * fer2013
        x_train_u8, soft_np = x_train_u8[keep], soft_np[keep]
        y_train_np = soft_np.argmax(1)
        soft_train = torch.from_numpy(soft_np)
        val_soft, val_keep = crowd_targets(opts, ids_val, "val")
        x_val_u8, y_val_np = x_val_u8[val_keep], val_soft[val_keep].argmax(1)
        print(f"FER+ crowd labels: {len(x_train_u8)} training faces, {len(x_val_u8)} val faces with a majority",
              file=sys.stderr)
        if opts.neutral_mix > 0:
            raise SystemExit("--neutral-mix blends hard labels; with --labels ferplus the crowd's votes are the targets")
    elif opts.labels != "fer2013":
        raise SystemExit(f"labels {opts.labels!r}: choose fer2013 or ferplus")
    x_train, y_train = to_tensor(x_train_u8), torch.from_numpy(y_train_np)
    x_val, y_val = to_tensor(x_val_u8), torch.from_numpy(y_val_np)
    mean, std = float(x_train.mean()), float(x_train.std())
    neutral_faces = x_train[y_train == NEUTRAL]  # partners for --neutral-mix
    if opts.neutral_mix > 0 and not 0 < opts.neutral_mix_low <= 1:
        raise SystemExit(f"neutral-mix-low {opts.neutral_mix_low}: give the expressive share's minimum in (0, 1]")

    counts = np.bincount(y_train_np, minlength=len(CLASS_NAMES)).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1)) ** opts.class_weight_power
    weights = torch.tensor(weights / (weights * counts).sum() * counts.sum(), dtype=torch.float32)

    # channels_last: oneDNN's bf16 convolutions run ~25 % faster on this CPU in that layout.
    model = EmotionNet(parse_widths(opts.widths), opts.head).to(memory_format=torch.channels_last)
    if not 0.0 <= opts.distill_weight <= 1.0:
        raise SystemExit(f"distill-weight {opts.distill_weight}: give a share between 0 and 1")
    teacher = load_teacher(opts.teacher, mean, std) if opts.teacher else None
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=opts.max_lr, momentum=0.9, nesterov=True,
                                weight_decay=opts.weight_decay)
    batches = len(x_train) // opts.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=opts.max_lr, epochs=opts.epochs,
                                                    steps_per_epoch=batches, pct_start=opts.pct_start)
    gen = torch.Generator().manual_seed(opts.seed)
    aug = AugmentOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in opts.augment.items()})
    start_epoch, best_acc, best_epoch, history = 0, -1.0, -1, []

    ckpt_path = run_dir / "last.pt"
    if opts.init_from and not (resume and ckpt_path.exists()):
        start = torch.load(opts.init_from, weights_only=False)
        model.load_state_dict(start["model"])
        ema.load_state_dict(start["model"])
        print(f"starting from the weights of {opts.init_from} (val {start['val_acc']:.4f})", file=sys.stderr)
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best_acc, best_epoch, history = (state["epoch"], state["best_acc"], state["best_epoch"],
                                                      state["history"])
        print(f"resumed from {ckpt_path} at epoch {start_epoch}", file=sys.stderr)

    progress = ProgressBar(opts.epochs, start_epoch, batches)
    for epoch in range(start_epoch, opts.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss, correct = 0.0, 0
        for b in range(batches):
            idx = order[b * opts.batch_size:(b + 1) * opts.batch_size]
            xb, target = mix_with_neutral(x_train[idx], y_train[idx], neutral_faces, NEUTRAL, len(CLASS_NAMES),
                                          gen, opts.neutral_mix, opts.neutral_mix_low, opts.neutral_mix_target)
            xb = ((augment_batch(xb, gen, aug) - mean) / std).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(xb)
            if soft_train is not None:
                target = soft_train[idx]
            elif opts.neutral_mix <= 0:
                target = y_train[idx]
            loss = F.cross_entropy(logits.float(), target, weight=weights, label_smoothing=opts.label_smoothing)
            if teacher is not None:
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    teacher_out = teacher(xb).float()
                loss = ((1 - opts.distill_weight) * loss
                        + opts.distill_weight * distillation_loss(logits.float(), teacher_out,
                                                                  opts.distill_temperature))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                decay = min(opts.ema_decay, (1 + scheduler.last_epoch) / (10 + scheduler.last_epoch))
                for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
                    if pe.dtype.is_floating_point:
                        pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
                    else:
                        pe.copy_(pm)
            total_loss += float(loss.detach())
            correct += int((logits.detach().argmax(1) == y_train[idx]).sum())
            progress.step(epoch, b, total_loss / (b + 1))
        val_acc = float((predict(ema, x_val, mean, std, bf16=bf16).argmax(1) == y_val).float().mean())
        raw_acc = float((predict(model, x_val, mean, std, bf16=bf16).argmax(1) == y_val).float().mean())
        train_acc = correct / (batches * opts.batch_size)  # on the augmented batches, while the weights moved
        history.append({"epoch": epoch + 1, "loss": total_loss / batches, "train_acc_augmented": train_acc,
                        "val_acc_ema": val_acc,
                        "val_acc_raw": raw_acc, "lr": scheduler.get_last_lr()[0]})
        sys.stderr.write(f"\repoch {epoch + 1}/{opts.epochs} loss {total_loss / batches:.3f} "
                         f"train {train_acc:.4f} val {val_acc:.4f} (raw {raw_acc:.4f})" + " " * 20 + "\n")
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch + 1
            torch.save({"model": ema.state_dict(), "mean": mean, "std": std, "val_acc": val_acc,
                        "epoch": epoch + 1, "options": asdict(opts)}, run_dir / "best.pt")
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "best_acc": best_acc,
                    "best_epoch": best_epoch, "history": history}, ckpt_path)
        (run_dir / "history.json").write_text(json.dumps({"options": asdict(opts), "history": history,
                                                          "best_epoch": best_epoch, "best_val_acc": best_acc},
                                                         indent=1))
        if opts.stop_after and epoch + 1 >= opts.stop_after and epoch + 1 < opts.epochs:
            print(f"stopping after epoch {epoch + 1} as asked; continue with --resume", file=sys.stderr)
            return run_dir / "best.pt"
        if epoch + 1 - best_epoch >= opts.patience:
            print(f"early stop: no better val accuracy since epoch {best_epoch}", file=sys.stderr)
            break
    print(f"best EMA val accuracy {best_acc:.4f} at epoch {best_epoch}", file=sys.stderr)
    return run_dir / "best.pt"


PER_PROCESS = ("threads", "stop_after")  # how this process runs, not what the run trains


def saved_options(run_dir: Path, given: TrainOptions) -> TrainOptions:
    """The options a resumed run continues with: those it started with (history.json), not the command
    line's, whose defaults would silently change the loss, the schedule or the data mid-run. Only how this
    process runs (``PER_PROCESS``) comes from the command line; other differences are listed on stderr."""
    history = run_dir / "history.json"
    if not history.exists():
        return given  # nothing to resume: train() starts afresh
    saved = json.loads(history.read_text())["options"]
    now = json.loads(json.dumps(asdict(given)))  # tuples as the JSON's lists, so equal values compare equal
    differs = [f"{k} {now[k]!r} (the run's: {v!r})" for k, v in saved.items() if k not in PER_PROCESS and now.get(k) != v]
    if differs:
        print("resuming with the run's own options; ignored from the command line: " + "; ".join(differs),
              file=sys.stderr)
    return TrainOptions(**{**saved, **{k: getattr(given, k) for k in PER_PROCESS}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(REPO_ROOT / "runs" / "emotion"),
                        help="where checkpoints and history.json go")
    parser.add_argument("--resume", action="store_true", help="continue from run-dir/last.pt")
    parser.add_argument("--export", metavar="ONNX", help="export the best checkpoint to this ONNX file")
    parser.add_argument("--float32", action="store_true", help="with --export: ship float32, do not try int8")
    parser.add_argument("--no-flip-average", action="store_true",
                        help="with --export: one view per face (by default the file averages the face and its mirror)")
    parser.add_argument("--augment", dest="augment_preset", choices=sorted(PRESETS), default="1.1",
                        help="augmentation preset (augment.py): 1.1 = model 1.1's, players = model 1.2's stronger set")
    defaults = TrainOptions()
    for name, value in asdict(defaults).items():
        if isinstance(value, (int, float, str)):
            parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    args = parser.parse_args(argv)
    opts = TrainOptions(**{k: getattr(args, k) for k in asdict(defaults) if k != "augment" and hasattr(args, k)},
                        augment=asdict(PRESETS[args.augment_preset]))
    if args.resume:
        opts = saved_options(Path(args.run_dir), opts)
    best = train(opts, Path(args.run_dir), args.resume)
    if args.export:
        from export import export_model

        export_model(best, Path(args.export), int8=not args.float32, data_dir=Path(opts.data_dir),
                     flip_average=not args.no_flip_average)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
