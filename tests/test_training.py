"""The training code stays alive: one short epoch on a small subset, exported to a valid ONNX model emoplay loads."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import FER, REPO, require_module, require_shared

torch = require_module("torch", "training needs PyTorch (pip install -e '.[test]' brings torch==2.13.0)")
require_module("onnx")
sys.path.insert(0, str(REPO / "models" / "training"))


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
    args = ["--run-dir", str(run), "--data-dir", str(tiny_fer), "--epochs", "2", "--batch-size", "64",
            "--threads", "1"]
    assert train.main(args + ["--stop-after", "1"]) == 0  # as if the run had been interrupted after epoch 1
    history = json.loads((run / "history.json").read_text())
    assert len(history["history"]) == 1 and np.isfinite(history["history"][0]["loss"])
    # resuming continues from the checkpoint rather than starting again
    assert train.main(args + ["--resume"]) == 0
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())["history"]] == [1, 2]

    out = tmp_path / "models" / "emotion_cnn.onnx"
    export_model(run / "best.pt", out, data_dir=tiny_fer)  # float32 verified, then int8 tried
    assert (out.parent / "SHA256SUMS").read_text().split()[1] == "emotion_cnn.onnx"

    import emoplay

    clf = emoplay.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(out)))
    assert clf.class_names == emoplay.EMOTIONS
    probs = clf.classify_crops(np.zeros((2, 48, 48), np.uint8))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)

    # Several checkpoints make one ensemble file whose output is the mean of the members' probabilities:
    # an ensemble of a network with itself gives that network's probabilities back.
    faces = np.load(tiny_fer / "val.npz")["images"][:16]
    single, pair = tmp_path / "single.onnx", tmp_path / "pair.onnx"
    export_model(run / "best.pt", single, int8=False, data_dir=tiny_fer)
    export_model([run / "best.pt", run / "best.pt"], pair, int8=False, data_dir=tiny_fer)
    one, two = (emoplay.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(p))) for p in (single, pair))
    assert one.info.architecture.startswith("VGG-style CNN, stage widths 48-96-192-384")
    assert two.info.architecture.startswith("ensemble (mean probabilities) of: VGG-style")
    np.testing.assert_allclose(two.classify_crops(faces), one.classify_crops(faces), atol=1e-5)
    assert two.info.val_accuracy == one.info.val_accuracy


def test_augmentation_is_seeded_and_keeps_range():
    from augment import augment_batch

    x = torch.rand(16, 1, 48, 48)
    a = augment_batch(x, torch.Generator().manual_seed(1))
    b = augment_batch(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, augment_batch(x, torch.Generator().manual_seed(2)))


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
