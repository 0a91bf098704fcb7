"""``emoplay explain`` in-process on real val faces: the PNGs it writes, and clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoplay.cli import main

FAST = ["--masks", "60"]  # random masks: 61 model runs per face, quick, same code path as the default 500
FAST_OCCLUSION = ["--method", "occlusion", "--patch", "12", "--stride", "6"]  # 50 model runs per face


def write_faces(folder, fer_val, names=("happy", "surprise")):
    import cv2

    images, labels, classes = fer_val
    folder.mkdir(exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), images[int(np.flatnonzero(labels == classes.index(name))[0])])
        paths.append(path)
    return paths


def read_png(path):
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a readable PNG"
    return image


@pytest.mark.slow
def test_a_folder_gives_one_png_per_face_and_a_contact_sheet(tmp_path, fer_val, capsys):
    write_faces(tmp_path / "faces", fer_val)
    out = tmp_path / "out"
    assert main(["explain", str(tmp_path / "faces"), "--out", str(out), *FAST]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["contact_sheet.png", "happy_saliency.png",
                                                     "surprise_saliency.png"]
    panel = read_png(out / "happy_saliency.png")
    assert panel.shape[0] >= 192 and panel.shape[1] >= 2 * 192  # the crop and its overlay at 4x, bars beside
    sheet = read_png(out / "contact_sheet.png")
    assert sheet.shape[1] == 2 * panel.shape[1]  # two panels side by side
    # The overlay is coloured (the plain crop beside it is gray).
    overlay = panel[28:28 + 192, 16 + 192:16 + 2 * 192].astype(int)
    assert np.abs(overlay[:, :, 2] - overlay[:, :, 0]).max() > 60
    text = capsys.readouterr().out
    assert "happy.png (whole image as a face crop): happy" in text and "ms per face" in text
    assert "surprise.png (whole image as a face crop): surprise" in text
    assert "2 face(s) in 2 image(s) (2 read as a face crop)" in text and "random masks: 60" in text


def test_without_out_nothing_is_written_and_json_is_one_object_per_face(tmp_path, fer_val, capsys):
    (path,) = write_faces(tmp_path, fer_val, names=("happy",))
    before = sorted(tmp_path.rglob("*"))
    assert main(["explain", str(path), "--json", *FAST]) == 0
    assert sorted(tmp_path.rglob("*")) == before
    (line,) = capsys.readouterr().out.splitlines()
    face = json.loads(line)
    assert face["predicted"] == face["explained"] == "happy"
    assert set(face["probabilities"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert 0 <= face["peak_xy"][0] < 48 and 0 <= face["peak_xy"][1] < 48 and face["peak"] > 0
    assert face["faces"] == "crop"


def test_detect_finds_the_face_in_a_frame_and_names_its_png(tmp_path, fer_val, capsys):
    import cv2

    from tests.support import face_frame

    images, labels, classes = fer_val
    frame = face_frame(images[int(np.flatnonzero(labels == classes.index("happy"))[0])])
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    out = tmp_path / "out"
    assert main(["explain", str(tmp_path / "frame.png"), "--faces", "detect", "--out", str(out), *FAST]) == 0
    assert [p.name for p in out.iterdir()] == ["frame_face1_saliency.png"]
    read_png(out / "frame_face1_saliency.png")
    assert "frame.png (face found by the detector): happy" in capsys.readouterr().out


@pytest.mark.slow
def test_class_grid_writes_the_figure_and_prints_the_region_table(tmp_path, fer_val, capsys):
    images, labels, classes = fer_val
    keep = np.concatenate([np.flatnonzero(labels == c)[:1] for c in range(len(classes))])
    np.savez(tmp_path / "seven.npz", images=images[keep], labels=labels[keep], classes=np.array(classes))
    out = tmp_path / "card"
    assert main(["explain", "--class-grid", "--data", str(tmp_path / "seven.npz"), "--out", str(out),
                 "--patch", "16", "--stride", "8"]) == 0
    grid = read_png(out / "saliency_by_class.png")
    assert grid.shape[1] >= 7 * 144  # seven class columns at 3x
    text = capsys.readouterr().out
    assert "mouth/chin" in text and "border" in text and "saliency_by_class.png" in text
    for name in classes:
        assert f"\n{name} " in text


@pytest.mark.slow
def test_class_grid_per_class_takes_at_most_n_faces_of_each_class(tmp_path, fer_val, capsys):
    images, labels, classes = fer_val
    keep = np.concatenate([np.flatnonzero(labels == c)[:3] for c in range(len(classes))])
    keep = keep[labels[keep] != classes.index("disgust")][:-1]  # no disgust, and one class with only 2
    np.savez(tmp_path / "some.npz", images=images[keep], labels=labels[keep], classes=np.array(classes))
    assert main(["explain", "--class-grid", "--data", str(tmp_path / "some.npz"), "--per-class", "2", "--json",
                 "--patch", "16", "--stride", "8"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"] == {"angry": 2, "disgust": 0, "fear": 2, "happy": 2, "sad": 2, "surprise": 2,
                                "neutral": 2}
    assert "at most 2 per class" in result["source"]
    assert result["region_shares"]["happy"]["border"] >= 0


@pytest.mark.parametrize("make_args, code, message", [
    (lambda d: [str(d / "missing.png")], 2, "does not exist"),
    (lambda d: [str(d / "notes.png")], 2, "not a readable image"),
    (lambda d: [str(d / "empty")], 2, "holds no images"),
    (lambda d: [str(d / "gray.png"), "--faces", "detect", "--out", str(d / "new")], 1, "no face found"),
    (lambda d: [str(d / "gray.png"), "--out", str(d / "notes.png")], 2, "is a file, not a folder"),
    (lambda d: [str(d / "gray.png"), "--class", "bored"], 2, "not a class of the model"),
    (lambda d: [str(d / "gray.png"), *FAST_OCCLUSION, "--patch", "64"], 2, "larger than the model"),
    (lambda d: [str(d / "gray.png"), *FAST_OCCLUSION, "--patch", "4", "--stride", "8"], 2, "stride"),
    (lambda d: ["--class-grid", "--data", str(d / "x.npz"), "--method", "rise"], 2, "for single images"),
    (lambda d: [], 2, "give an image or a folder"),
    (lambda d: ["--class-grid"], 2, "needs --data"),
    (lambda d: ["--class-grid", "--data", str(d / "missing.npz")], 2, "does not exist"),
    (lambda d: ["--class-grid", "--data", str(d / "x.npz"), "--limit", "5", "--per-class", "2"], 2, "not both"),
    (lambda d: [str(d / "gray.png"), "--per-class", "2"], 2, "go with --class-grid"),
    (lambda d: [str(d / "gray.png"), "--model", "/dev/null"], 2, "emotion model /dev/null is not a regular file"),
    (lambda d: [str(d / "gray.png"), "--model", str(d / "empty")], 2, "is not a regular file"),
    (lambda d: [str(d / "gray.png"), "--model", str(d / "gone.onnx")], 2, "gone.onnx does not exist"),
])
def test_bad_input_is_one_clear_line_and_an_exit_code(tmp_path, capsys, make_args, code, message):
    import cv2

    (tmp_path / "notes.png").write_text("not an image\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here\n")
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((240, 320), 128, np.uint8))
    before = sorted(tmp_path.rglob("*"))
    assert main(["explain", *FAST, *make_args(tmp_path)]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written on failure


def test_a_folder_with_one_unreadable_file_explains_the_rest_and_says_what_it_skipped(tmp_path, fer_val, capsys):
    write_faces(tmp_path / "faces", fer_val, names=("happy",))
    (tmp_path / "faces" / "broken.png").write_bytes(b"\x89PNG not really")
    assert main(["explain", str(tmp_path / "faces"), *FAST]) == 0
    captured = capsys.readouterr()
    assert "skipped broken.png" in captured.err and "happy.png (whole image as a face crop): happy" in captured.out


def test_class_grid_refuses_to_write_into_its_data_folder(tmp_path, fer_val, capsys):
    import cv2

    images, labels, classes = fer_val
    data = tmp_path / "faces"
    for c in (0, 3):
        (data / classes[c]).mkdir(parents=True)
        cv2.imwrite(str(data / classes[c] / "a.png"), images[int(np.flatnonzero(labels == c)[0])])
    assert main(["explain", "--class-grid", "--data", str(data), "--out", str(data)]) == 2
    assert "is the input folder" in capsys.readouterr().err
    assert not (data / "saliency_by_class.png").exists()


@pytest.mark.slow
def test_inputs_whose_names_would_collide_get_distinct_pngs(tmp_path, fer_val, capsys):
    import cv2

    images = fer_val[0]
    folder = tmp_path / "in"
    folder.mkdir()
    for k, name in enumerate(("a.png", "a.jpg", "a_png.bmp")):
        cv2.imwrite(str(folder / name), images[k])
    out = tmp_path / "out"
    assert main(["explain", str(folder), "--out", str(out), *FAST]) == 0
    written = sorted(p.name for p in out.glob("*_saliency.png"))
    assert len(written) == 3, written  # one per face: none written over another


def test_a_video_frame_is_searched_for_faces_a_square_crop_is_read_whole(tmp_path, video, capsys):
    # A 640x360 frame of a broadly smiling man: read whole as one "face crop" it came out sad; by default a frame
    # that is not square is searched with the face detector, and the output says which way each image was read.
    import cv2

    from emoplay import EndOfStream, VideoFileSource

    source = VideoFileSource(video("single_face.mp4"))
    source.open()
    try:
        frames = []
        while True:
            try:
                frames.append(source.read(1.0).pixels)
            except EndOfStream:
                break
    finally:
        source.close()
    frame = frames[-10]  # the smile, near the end
    assert frame.shape[:2] == (360, 640)
    cv2.imwrite(str(tmp_path / "smile.png"), frame)
    assert main(["explain", str(tmp_path / "smile.png"), *FAST]) == 0
    out = capsys.readouterr().out
    assert "smile.png (face found by the detector): happy" in out
    assert "1 face(s) in 1 image(s) (1 searched with the face detector)" in out
    assert main(["explain", str(tmp_path / "smile.png"), "--faces", "crop", *FAST]) == 0
    assert "smile.png (whole image as a face crop): " in capsys.readouterr().out
