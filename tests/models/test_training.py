"""The training code stays alive: one short epoch on a small subset, exported to a valid ONNX model emoplay loads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support import FER, require_module, require_shared

pytestmark = pytest.mark.slow  # trains, exports and quantises networks with PyTorch

torch = require_module("torch", "training needs PyTorch (pip install -e '.[test]' brings torch==2.13.0)")
require_module("onnx")


@pytest.fixture
def tiny_fer(tmp_path):
    """A small FER-shaped data set: the first 448 real val faces (the shared data is required)."""
    from net import CLASS_NAMES

    with np.load(require_shared(FER / "val.npz")) as d:
        images, labels = d["images"][:448], d["labels"][:448]
    for split in ("train", "val"):
        np.savez(tmp_path / f"{split}.npz", images=images, labels=labels.astype(np.int64),
                 classes=np.array(CLASS_NAMES), ids=np.array([f"x{i}" for i in range(len(labels))]))
    return tmp_path


def test_one_short_epoch_trains_resumes_and_exports(tiny_fer, tmp_path):
    import train
    from export import export_model

    run = tmp_path / "run"
    # float32: bf16 autocast is emulated (~10x slower) on CPUs without AVX-512 BF16; the players preset runs
    # every augmentation model 1.2's fine-tune added
    # narrow stages keep this a check of the code path (train, resume, export, load), not a training run
    args = ["--run-dir", str(run), "--data-dir", str(tiny_fer), "--epochs", "3", "--batch-size", "64",
            "--threads", "1", "--precision", "fp32", "--augment", "players", "--widths", "8,16,32,64"]
    assert train.main(args + ["--stop-after", "1"]) == 0  # as if the run had been interrupted after epoch 1
    history = json.loads((run / "history.json").read_text())
    assert len(history["history"]) == 1 and np.isfinite(history["history"][0]["loss"])
    # resuming continues from the checkpoint rather than starting again, with the run's own options even when
    # the command line leaves some out (their defaults would change the loss mid-run)
    assert train.main(args[:-2] + ["--resume"]) == 0
    resumed = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]  # --stop-after is this process's, not the run's
    assert resumed["options"]["precision"] == "fp32" and resumed["options"]["augment"]["perspective"] > 0
    assert resumed["options"]["widths"] == "8,16,32,64"

    out = tmp_path / "models" / "emotion_cnn.onnx"
    export_model(run / "best.pt", out, data_dir=tiny_fer)  # float32 verified, then int8 tried
    assert (out.parent / "SHA256SUMS").read_text().split()[1] == "emotion_cnn.onnx"

    import emoplay

    clf = emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(out)))
    assert clf.class_names == emoplay.EMOTIONS
    probs = clf.classify_crops(np.zeros((2, 48, 48), np.uint8))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)

    # Several checkpoints make one ensemble file whose output is the mean of the members' probabilities:
    # an ensemble of a network with itself gives that network's probabilities back.
    faces = np.load(tiny_fer / "val.npz")["images"][:16]
    single, pair = tmp_path / "single.onnx", tmp_path / "pair.onnx"
    export_model(run / "best.pt", single, int8=False, data_dir=tiny_fer)
    export_model([run / "best.pt", run / "best.pt"], pair, int8=False, data_dir=tiny_fer)
    one, two = (emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(p)))
                for p in (single, pair))
    assert one.info.architecture.startswith("VGG-style CNN, stage widths 8-16-32-64")
    assert two.info.architecture.startswith("ensemble (mean probabilities) of: VGG-style")
    np.testing.assert_allclose(two.classify_crops(faces), one.classify_crops(faces), atol=1e-5)
    assert two.info.val_accuracy == one.info.val_accuracy


@pytest.mark.parametrize("preset", ["1.1", "players"])
def test_augmentation_is_seeded_and_keeps_range(preset):
    from augment import PRESETS, augment_batch

    opts = PRESETS[preset]
    x = torch.rand(16, 1, 48, 48)
    a = augment_batch(x, torch.Generator().manual_seed(1), opts)
    b = augment_batch(x, torch.Generator().manual_seed(1), opts)
    assert torch.equal(a, b) and a.shape == x.shape
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, augment_batch(x, torch.Generator().manual_seed(2), opts))


def test_players_preset_warps_faces_that_model_1_1s_augmentation_leaves_alone():
    from augment import AugmentOptions, PRESETS, augment_batch

    # Only the geometry: every other transform off. A projective warp (yaw, pitch) and a vertical squash
    # move pixels that rotation, scale and shift set to zero do not.
    still = dict(max_rotation_deg=0.0, scale_range=(1.0, 1.0), max_shift=0.0, brightness=0.0, contrast=0.0,
                 noise_prob=0.0, blur_prob=0.0, erase_prob=0.0)
    x = torch.rand(8, 1, 48, 48).clamp(0.05, 0.95)
    unflipped = torch.Generator().manual_seed(3)
    plain = augment_batch(x, unflipped, AugmentOptions(**still))
    flipped = torch.rand(8, generator=torch.Generator().manual_seed(3)) < 0.5
    assert torch.allclose(plain, torch.where(flipped[:, None, None, None], x.flip(-1), x), atol=1e-5)
    players = PRESETS["players"]
    warped = augment_batch(x, torch.Generator().manual_seed(3),
                           AugmentOptions(**still, perspective=players.perspective, aspect=players.aspect))
    assert float((warped - plain).abs().mean()) > 0.05


def test_neutral_mix_blends_expressive_faces_with_neutral_ones_and_shares_the_target():
    from augment import mix_with_neutral

    neutral, classes = 6, 7
    x = torch.rand(64, 1, 48, 48)
    y = torch.arange(64) % classes  # every class, neutral included
    partners = torch.rand(5, 1, 48, 48)
    gen = torch.Generator().manual_seed(4)
    mixed, target = mix_with_neutral(x, y, partners, neutral, classes, gen, prob=0.5, low=0.4)
    assert torch.allclose(target.sum(1), torch.ones(64))
    changed = (mixed != x).flatten(1).any(1)
    assert 0 < int(changed.sum()) < int((y != neutral).sum())  # about half of the expressive faces
    assert not changed[y == neutral].any()
    for i in changed.nonzero().flatten().tolist():
        lam = float(target[i, y[i]])
        assert 0.4 <= lam <= 1 and float(target[i, neutral]) == pytest.approx(1 - lam, abs=1e-6)
        # the face is lam of itself and 1 - lam of one of the neutral partners
        assert min(float((mixed[i] - lam * x[i] - (1 - lam) * p).abs().max()) for p in partners) < 1e-5
    assert torch.equal(target[~changed], torch.nn.functional.one_hot(y[~changed], classes).float())

    hard_x, hard = mix_with_neutral(x, y, partners, neutral, classes, torch.Generator().manual_seed(4), prob=0.5,
                                    low=0.4, neutral_share=0.0)  # the same blends, each with its face's label
    assert torch.equal(hard_x, mixed) and torch.equal(hard, torch.nn.functional.one_hot(y, classes).float())

    before = gen.get_state()
    same, one_hot = mix_with_neutral(x, y, partners, neutral, classes, gen, prob=0.0, low=0.4)
    assert same is x and torch.equal(gen.get_state(), before)  # off: model 1.1's batches, unchanged
    assert torch.equal(one_hot, torch.nn.functional.one_hot(y, classes).float())


def test_network_shapes_and_checkpoints_from_before_the_options():
    from net import EmotionNet, build, parse_widths

    assert parse_widths("48,96,192,384") == (48, 96, 192, 384) == parse_widths("48-96-192-384")
    with pytest.raises(ValueError, match="four positive stage widths"):
        parse_widths("48,96")
    with pytest.raises(ValueError, match="head"):
        EmotionNet(head="flat")
    x = torch.zeros(2, 1, 48, 48)
    for net in (EmotionNet(), EmotionNet((8, 8, 8, 8), "gap"), build({"widths": "8,16,16,16", "head": "spatial"})):
        assert net.eval()(x).shape == (2, 7)
    old = build(None)  # model 1.0.0's checkpoints carry no widths/head: its 32-64-128-256 GAP network
    assert old.features[0].out_channels == 32 and isinstance(old.classifier[0], torch.nn.AdaptiveAvgPool2d)


def test_recovered_checkpoint_computes_what_the_onnx_file_computes(tiny_fer, tmp_path):
    """recover_from_onnx.py rebuilds a trainable network from a file whose BatchNorms export folded away."""
    from export import export_onnx
    from net import EmotionNet, FlipAverage, build
    from recover_from_onnx import recover

    torch.manual_seed(0)
    net = EmotionNet((8, 16, 32, 64))  # narrow stages: the same layers, a fraction of the time
    with torch.no_grad():  # BatchNorm statistics and affine terms far from identity, so folding them matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    ckpt = tmp_path / "original.pt"
    torch.save({"model": net.state_dict(), "mean": 0.5, "std": 0.25, "val_acc": 0.0, "epoch": 1,
                "options": {"widths": "8,16,32,64", "head": "spatial"}}, ckpt)
    onnx_file = export_onnx(ckpt, tmp_path / "model.onnx", checksums=False)
    report = recover(onnx_file, tmp_path / "recovered.pt", tiny_fer, images=256)
    assert report["flip_average_in_file"] and report["recovered_val_acc"] == pytest.approx(report["file_val_acc"])

    state = torch.load(tmp_path / "recovered.pt", weights_only=False)
    recovered = build(state["options"])
    recovered.load_state_dict(state["model"])
    faces = (torch.from_numpy(np.load(tiny_fer / "val.npz")["images"][:32]).float() / 255 - 0.5) / 0.25
    with torch.no_grad():
        expected = FlipAverage(net.eval())(faces[:, None])
        got = FlipAverage(recovered.eval())(faces[:, None])
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)
    # and the BatchNorms hold real statistics (of the convolutions' outputs), not the folded placeholders
    bn = recovered.features[1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))


def test_distillation_pulls_a_one_view_student_towards_its_flip_averaged_teacher(tiny_fer, tmp_path):
    import train
    from net import FlipAverage, build

    common = ["--data-dir", str(tiny_fer), "--batch-size", "64", "--threads", "1", "--precision", "fp32",
              "--widths", "8,16,32,64", "--epochs", "2"]
    assert train.main(common + ["--run-dir", str(tmp_path / "teacher")]) == 0
    # A teacher with an opinion the labels do not share: it favours "fear" (class 2) on every face.
    state = torch.load(tmp_path / "teacher" / "best.pt", weights_only=False)
    last_bias = [key for key in state["model"] if key.startswith("classifier.")][-1]  # the linear layer's
    state["model"][last_bias][2] += 4.0
    teacher_ckpt = tmp_path / "biased_teacher.pt"
    torch.save(state, teacher_ckpt)
    for name, weight in (("distilled", "1"), ("labels", "0")):
        assert train.main(common + ["--run-dir", str(tmp_path / name), "--teacher", str(teacher_ckpt),
                                    "--distill-weight", weight, "--max-lr", "0.02"]) == 0
    assert json.loads((tmp_path / "distilled" / "history.json").read_text())["options"]["teacher"] == str(teacher_ckpt)

    def load(path):
        saved = torch.load(path, weights_only=False)
        net = build(saved["options"])
        net.load_state_dict(saved["model"])
        return net.eval()

    with np.load(tiny_fer / "train.npz") as d:
        x = (train.to_tensor(d["images"]) - state["mean"]) / state["std"]
    with torch.no_grad():
        target = FlipAverage(load(teacher_ckpt)).eval()(x)
        distilled, labels = (load(tmp_path / name / "best.pt")(x) for name in ("distilled", "labels"))
        gap = {name: float(train.distillation_loss(out, target, 1.0))
               for name, out in (("distilled", distilled), ("labels", labels))}
        fear = {name: float(out.softmax(1)[:, 2].mean()) for name, out in (("distilled", distilled), ("labels", labels))}
    assert float(target.exp()[:, 2].mean()) > 0.5  # the teacher's opinion
    assert gap["distilled"] < 0.5 * gap["labels"], gap
    assert fear["distilled"] > fear["labels"] + 0.2, fear


def test_distillation_loss_and_teacher_checks():
    import train

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
    same = torch.log_softmax(logits, 1)
    assert float(train.distillation_loss(logits, same, 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(train.distillation_loss(logits.flip(1), same, 2.0)) > 0.1


def test_a_teacher_that_normalises_differently_is_refused(tiny_fer, tmp_path):
    import train
    from net import EmotionNet

    ckpt = tmp_path / "teacher.pt"
    torch.save({"model": EmotionNet((8, 16, 32, 64)).state_dict(), "mean": 0.2, "std": 0.3, "val_acc": 0.5,
                "options": {"widths": "8,16,32,64", "head": "spatial"}}, ckpt)
    with pytest.raises(SystemExit, match="train the student on the teacher's data"):
        train.load_teacher(str(ckpt), mean=0.51, std=0.31)


def test_split_mirror_view_gives_the_two_view_files_numbers_through_the_runtime(tiny_fer, tmp_path):
    """models/split_mirror_view.py on a quantised two-view (FlipAverage) file: the one-view file, with the
    mirror view run by EmotionClassifier, classifies exactly as the two-view file did; reproducible bytes."""
    import emoplay
    from export import export_onnx
    from net import EmotionNet
    from quantize import quantize

    from models.split_mirror_view import split

    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    torch.save({"model": EmotionNet((8, 16, 32, 64)).state_dict(), "mean": 0.5, "std": 0.25, "val_acc": 0.0,
                "epoch": 1, "options": {"widths": "8,16,32,64", "head": "spatial"}}, ckpt)
    two_view = tmp_path / "two.onnx"
    quantize(export_onnx(ckpt, tmp_path / "float.onnx", checksums=False), two_view, tiny_fer, calibration=128)
    one_view = split(two_view, tmp_path / "one.onnx", "9.9.9")
    assert split(two_view, tmp_path / "again.onnx", "9.9.9").read_bytes() == one_view.read_bytes()
    with pytest.raises(SystemExit, match="already"):
        split(one_view, tmp_path / "twice.onnx", "9.9.9")

    faces = np.load(tiny_fer / "val.npz")["images"][:200]
    with emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(two_view))) as before, \
            emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(one_view))) as after:
        assert not before.flip_average and after.flip_average  # the metadata turns the runtime's mirror on
        assert (after.info.version, after.info.output, after.info.mirror_view) == ("9.9.9", "probabilities", "runtime")
        expected, got = before.classify_crops(faces), after.classify_crops(faces)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert np.array_equal(got.argmax(1), expected.argmax(1))


def test_pruning_keeps_the_channels_that_carry_the_function(tiny_fer):
    """prune.py keeps each layer's most useful channels: where half of every layer's channels are dead (always
    zero after their ReLU), the narrower network computes exactly what the wide one does; at the same widths
    it is the same network."""
    from net import EmotionNet
    from prune import prune

    torch.manual_seed(0)
    wide = EmotionNet((8, 16, 32, 64)).eval()
    faces = torch.from_numpy(np.load(tiny_fer / "val.npz")["images"][:64]).float()[:, None] / 255 - 0.5
    with torch.no_grad():
        for m in wide.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m is not wide.classifier[1]:
                m.running_var.uniform_(0.5, 2.0)
                dead = torch.randperm(m.num_features)[: m.num_features // 2]
                m.weight[dead], m.bias[dead] = 0.0, -1.0  # these channels are zero after the ReLU
        expected = wide(faces)
        narrow = prune(wide, (4, 8, 16, 32), faces).eval()
        same = prune(wide, (8, 16, 32, 64), faces).eval()
        assert [c.out_channels for c in narrow.features if isinstance(c, torch.nn.Conv2d)] == [4, 4, 8, 8, 16, 16,
                                                                                                32, 32]
        torch.testing.assert_close(narrow(faces), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(same(faces), expected, atol=1e-5, rtol=1e-5)
        # a narrower cut than the live channels loses some of the function
        assert not torch.allclose(prune(wide, (2, 4, 8, 16), faces).eval()(faces), expected, atol=1e-6, rtol=1e-4)
    with pytest.raises(SystemExit, match="must not exceed"):
        prune(wide, (16, 16, 32, 64), faces)


def test_crowd_labels_train_on_vote_shares_and_export_their_contract(tmp_path):
    """--labels ferplus --pixels original: soft targets from the real votes CSV, the original-pixel files, and
    a file whose metadata names both (its val accuracy is against the crowd's majority)."""
    import shutil

    import train
    from export import export_model
    from net import CLASS_NAMES

    from emoplay.evaluation.ferplus import read_ferplus_votes

    votes_csv = require_shared(FER / "ferplus_votes.csv")
    with np.load(require_shared(FER / "val_original.npz")) as d:
        images, labels, ids = d["images"][:384], d["labels"][:384], d["ids"][:384]
    for split in ("train", "val"):
        np.savez(tmp_path / f"{split}_original.npz", images=images, labels=labels, ids=ids,
                 classes=np.array(CLASS_NAMES))
    shutil.copy(votes_csv, tmp_path / "ferplus_votes.csv")
    votes = read_ferplus_votes(votes_csv, [str(i) for i in ids])
    soft, keep = train.crowd_targets(train.TrainOptions(data_dir=str(tmp_path)), ids, "train")
    assert keep.sum() < len(ids) and np.allclose(soft[keep].sum(1), 1)
    np.testing.assert_allclose(soft, votes.soft)  # the targets are the vote shares

    run = tmp_path / "run"
    assert train.main(["--run-dir", str(run), "--data-dir", str(tmp_path), "--epochs", "1", "--batch-size", "64",
                       "--threads", "1", "--precision", "fp32", "--widths", "8,16,32,64", "--labels", "ferplus",
                       "--pixels", "original", "--label-smoothing", "0"]) == 0
    out = tmp_path / "emotion_cnn.onnx"
    export_model(run / "best.pt", out, int8=False, data_dir=tmp_path)
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["emoplay.pixels"] == "original" and meta["emoplay.labels"] == "ferplus-probability"
    assert "FER+ crowd vote distributions" in meta["emoplay.training_data"]
    import emoplay

    clf = emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(out)))
    majority = votes.majority
    crowd = float(np.mean(clf.classify_crops(images[majority >= 0]).argmax(1) == majority[majority >= 0]))
    assert float(meta["emoplay.val_accuracy"]) == pytest.approx(crowd, abs=1e-4)
