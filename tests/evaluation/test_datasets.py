"""Readers of labelled images: npz, fer2013.csv and class folders, written in tmp_path."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.support import few_faces
from emoplay.evaluation._datasets import (
    FER2013_CLASSES,
    LabeledImages,
    load_labeled_images,
    read_fer_csv,
    read_image,
    read_image_folder,
    read_npz,
)
from emoplay._errors import DataError


def write_csv(path, rows, header=("emotion", "pixels", "Usage")):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def pixels_text(image: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in image.ravel())


@pytest.fixture(scope="module")
def faces():
    return few_faces()


# --- npz ---------------------------------------------------------------------------------------

def test_npz_is_read_as_written(tmp_path, faces):
    images, labels = faces
    ids = np.array([f"PublicTest_{i}" for i in range(len(labels))])
    path = tmp_path / "val.npz"
    np.savez(path, images=images, labels=labels, classes=np.array(FER2013_CLASSES), ids=ids)

    data = load_labeled_images(path)

    assert isinstance(data, LabeledImages)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.labels.dtype == np.int64
    assert data.class_names == FER2013_CLASSES
    assert data.names == tuple(ids)
    assert str(path) in data.source and "npz" in data.source
    assert len(data) == len(labels)


def test_npz_keeps_its_own_class_order(tmp_path, faces):
    images, labels = faces
    classes = tuple(reversed(FER2013_CLASSES))
    np.savez(tmp_path / "r.npz", images=images, labels=labels, classes=np.array(classes))
    assert read_npz(tmp_path / "r.npz").class_names == classes


@pytest.mark.parametrize("arrays, message", [
    ({"images": np.zeros((2, 48, 48), np.uint8)}, "lacks"),
    ({"images": np.zeros((2, 48, 48), np.float32), "labels": np.zeros(2, np.int64)}, "uint8"),
    ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.zeros(3, np.int64)}, "labels must be"),
    ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.array([0, 7])}, "0..6"),
    ({"images": np.zeros((0, 48, 48), np.uint8), "labels": np.zeros(0, np.int64)}, "no images"),
])
def test_npz_with_wrong_contents_is_a_data_error(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        read_npz(tmp_path / "bad.npz")


def test_a_file_that_is_not_an_npz_is_a_data_error(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_labeled_images(tmp_path / "x.npz")


def test_a_truncated_npz_is_a_data_error(tmp_path, faces):
    images, labels = faces
    np.savez(tmp_path / "full.npz", images=images, labels=labels, classes=np.array(FER2013_CLASSES))
    data = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])  # a download cut short
    with pytest.raises(DataError, match="cut.npz is not a readable .npz"):
        load_labeled_images(tmp_path / "cut.npz")


@pytest.mark.parametrize("name", ["classes", "ids"])
def test_npz_names_that_are_not_a_list_are_a_data_error(tmp_path, faces, name):
    images, labels = faces
    np.savez(tmp_path / "x.npz", images=images, labels=labels, **{name: np.array("angry")})
    with pytest.raises(DataError, match=f"{name} must be a 1-d array of names, got one of shape \\(\\)"):
        read_npz(tmp_path / "x.npz")


# --- fer2013.csv -------------------------------------------------------------------------------

@pytest.fixture
def fer_csv(tmp_path, faces):
    images, labels = faces
    usages = ["Training", "PublicTest", "PrivateTest"]
    rows = [(int(label), pixels_text(image), usages[i % 3]) for i, (image, label) in enumerate(zip(images, labels))]
    return write_csv(tmp_path / "fer2013.csv", rows), images, labels, [r[2] for r in rows]


@pytest.mark.parametrize("usage", ["Training", "PublicTest", "PrivateTest"])
def test_csv_usage_picks_the_split(fer_csv, usage):
    path, images, labels, usages = fer_csv
    chosen = np.array([u == usage for u in usages])

    data = load_labeled_images(path, usage=usage)

    np.testing.assert_array_equal(data.images, images[chosen])
    np.testing.assert_array_equal(data.labels, labels[chosen])
    assert data.class_names == FER2013_CLASSES
    assert f"Usage {usage}" in data.source
    assert data.names[0] == f"line {2 + usages.index(usage)}"


def test_csv_default_split_is_public_test(fer_csv):
    path, _, _, usages = fer_csv
    assert len(read_fer_csv(path)) == usages.count("PublicTest")


def test_csv_saved_with_a_byte_order_mark_is_read(fer_csv):
    path, images, labels, usages = fer_csv
    bom = path.with_name("excel.csv")
    bom.write_bytes("\ufeff".encode("utf-8") + path.read_bytes())  # Excel's "CSV UTF-8"
    data = read_fer_csv(bom)
    np.testing.assert_array_equal(data.images, read_fer_csv(path).images)
    assert len(data) == usages.count("PublicTest") > 0


def test_csv_without_usage_column_is_read_whole(tmp_path, faces):
    images, labels = faces
    path = write_csv(tmp_path / "train.csv", [(int(l), pixels_text(i)) for i, l in zip(images, labels)],
                     header=("emotion", "pixels"))
    data = read_fer_csv(path, usage="PrivateTest")
    np.testing.assert_array_equal(data.images, images)
    assert "all rows" in data.source


def test_csv_with_an_unknown_usage_is_a_value_error(fer_csv):
    with pytest.raises(ValueError, match="usage"):
        read_fer_csv(fer_csv[0], usage="Test")


GOOD = " ".join(["7"] * 2304)


@pytest.mark.parametrize("rows, message", [
    ([("0", " ".join(["7"] * 2303), "PublicTest")], r"line 2: 2303 pixels, expected 2304"),
    ([("0", GOOD, "PublicTest"), ("3", GOOD.replace("7", "x", 1), "PublicTest")], "line 3: pixels must be"),
    ([("0", GOOD.replace("7", "300", 1), "PublicTest")], "0..255"),
    ([("9", GOOD, "PublicTest")], "line 2: emotion '9'"),
    ([("happy", GOOD, "PublicTest")], "emotion 'happy'"),
    ([("0", GOOD)], "line 2: 2 fields"),
    ([("0", GOOD, "Training")], "no rows with Usage PublicTest.*found: Training.*--usage"),
])
def test_bad_csv_rows_are_data_errors_naming_the_line(tmp_path, rows, message):
    path = write_csv(tmp_path / "fer2013.csv", rows)
    with pytest.raises(DataError, match=message):
        load_labeled_images(path)


def test_csv_without_the_fer_columns_is_a_data_error(tmp_path):
    path = write_csv(tmp_path / "other.csv", [("a", "b")], header=("name", "value"))
    with pytest.raises(DataError, match="emotion and pixels"):
        read_fer_csv(path)


def test_empty_and_binary_csv_are_data_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_fer_csv(tmp_path / "empty.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(DataError):
        read_fer_csv(tmp_path / "bin.csv")


# --- image folders -----------------------------------------------------------------------------

LOSSLESS = (".png", ".tif", ".tiff", ".gif")
ALL_KINDS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif")


def write_image(path, image):
    import cv2

    if path.suffix == ".gif":  # this OpenCV writes no gray GIFs; Pillow does, losslessly
        from PIL import Image

        Image.fromarray(image).save(path)
    else:
        assert cv2.imwrite(str(path), image), path


def write_class_tree(root, images, labels, kinds=ALL_KINDS):
    """<class>/<n><suffix>, cycling through the image formats; returns {relative name: (image, label)}."""
    written = {}
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / FER2013_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:03d}{kinds[i % len(kinds)]}"
        write_image(path, image)
        written[str(path.relative_to(root))] = (image, int(label))
    return written


def test_class_folders_of_every_image_format_are_read(tmp_path, faces):
    images, labels = faces
    written = write_class_tree(tmp_path, images, labels)
    (tmp_path / "happy" / "notes.txt").write_text("not an image")
    (tmp_path / "happy" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / "README.md").write_text("FER2013 as images")

    data = load_labeled_images(tmp_path)

    assert sorted(data.names) == sorted(written)
    assert data.class_names == FER2013_CLASSES
    assert "image folders" in data.source
    for name, image, label in zip(data.names, data.images, data.labels):
        source, source_label = written[name]
        assert label == source_label
        assert image.dtype == np.uint8 and image.shape[:2] == (48, 48)
        gray = image if image.ndim == 2 else image[:, :, 0]
        if name.endswith(LOSSLESS):
            np.testing.assert_array_equal(gray, source, err_msg=name)
        else:  # jpeg: lossy, but the same picture
            assert np.abs(gray.astype(int) - source).mean() < 6, name
    assert {n.rsplit(".", 1)[1] for n in data.names} == {k[1:] for k in ALL_KINDS}


def test_colour_images_stay_bgr(tmp_path):
    import cv2

    image = np.zeros((30, 40, 3), np.uint8)
    image[:, :, 2] = 200  # red in BGR
    (tmp_path / "sad").mkdir()
    cv2.imwrite(str(tmp_path / "sad" / "a.png"), image)
    data = read_image_folder(tmp_path)
    np.testing.assert_array_equal(data.images[0], image)
    assert data.labels.tolist() == [FER2013_CLASSES.index("sad")]


def test_class_folder_names_match_in_any_case(tmp_path, faces):
    images, _ = faces
    (tmp_path / "Happy").mkdir()
    write_image(tmp_path / "Happy" / "a.png", images[0])
    assert read_image_folder(tmp_path).labels.tolist() == [FER2013_CLASSES.index("happy")]


def test_split_folders_point_to_the_split(tmp_path, faces):
    images, labels = faces
    write_class_tree(tmp_path / "train", images[:5], labels[:5])
    write_class_tree(tmp_path / "test", images, labels)

    with pytest.raises(DataError, match=r"split folders \(test, train\).*point --data at one split"):
        load_labeled_images(tmp_path)
    assert len(load_labeled_images(tmp_path / "test")) == len(labels)


def test_unknown_class_folder_is_a_data_error(tmp_path, faces):
    images, labels = faces
    write_class_tree(tmp_path, images[:3], labels[:3])
    (tmp_path / "contempt").mkdir()
    with pytest.raises(DataError, match=r"unknown class folder.*contempt.*angry, disgust"):
        read_image_folder(tmp_path)


def test_unreadable_image_is_a_data_error_naming_it(tmp_path, faces):
    images, labels = faces
    write_class_tree(tmp_path, images[:3], labels[:3])
    (tmp_path / "angry" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match=r"broken\.jpg is not a readable image"):
        read_image_folder(tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda root: None, "no class folders"),
    (lambda root: (root / "Bored").mkdir(), "unknown class folder"),
    (lambda root: (root / "angry").mkdir(), "hold no images"),
    (lambda root: ((root / "angry").mkdir(), (root / "x.png").write_bytes(b"")), "outside class folders"),
])
def test_folders_without_usable_images_are_data_errors(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(DataError, match=message):
        read_image_folder(tmp_path)


def test_read_image_drops_alpha(tmp_path):
    import cv2

    bgra = np.full((10, 12, 4), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert read_image(tmp_path / "a.png").shape == (10, 12, 3)


# --- any layout ----------------------------------------------------------------------------------

def test_missing_path_and_unknown_layout_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist.*fer2013.csv"):
        load_labeled_images(tmp_path / "nope.npz")
    (tmp_path / "faces.txt").write_text("hi")
    with pytest.raises(DataError, match="unknown data layout '.txt'"):
        load_labeled_images(tmp_path / "faces.txt")


def test_limit_takes_the_same_ordered_sample_in_every_layout(tmp_path, faces):
    images, labels = faces
    np.savez(tmp_path / "d.npz", images=images, labels=labels, classes=np.array(FER2013_CLASSES))
    write_csv(tmp_path / "d.csv", [(int(l), pixels_text(i), "PublicTest") for i, l in zip(images, labels)])

    a = load_labeled_images(tmp_path / "d.npz", limit=5)
    b = load_labeled_images(tmp_path / "d.npz", limit=5)
    c = load_labeled_images(tmp_path / "d.csv", limit=5)
    other = load_labeled_images(tmp_path / "d.npz", limit=5, seed=1)

    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.images, c.images)
    assert not np.array_equal(a.images, other.images)
    assert len(a) == 5 and "random sample of 5 of" in a.source
    rows = [next(i for i in range(len(images)) if np.array_equal(images[i], x)) for x in a.images]
    assert rows == sorted(rows)  # original order kept
    assert len(load_labeled_images(tmp_path / "d.npz", limit=10_000)) == len(labels)
    with pytest.raises(ValueError, match="limit"):
        load_labeled_images(tmp_path / "d.npz", limit=0)


def test_limit_in_a_folder(tmp_path, faces):
    images, labels = faces
    write_class_tree(tmp_path, images, labels, kinds=(".png",))
    data = read_image_folder(tmp_path, limit=4)
    assert len(data) == 4 and len(data.images) == 4
