"""Where the shipped model files live, and their checksums.

The files are in the repository's ``models/`` folder, which the wheel installs
as the package ``emoplay._models`` (the ``.onnx`` models, ``SHA256SUMS``, the
licences and the model card; not the scripts that make them, nor the build-time
``face_detector.tflite``). ``models/SHA256SUMS`` lists the sha256 of each file
it names. A shipped file is checked every time it is loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ._errors import ChecksumError, ModelError

EMOTION_MODEL = "emotion_cnn.onnx"


def models_dir() -> Path:
    try:
        from importlib.resources import files

        installed = Path(str(files("emoplay._models")))
        if (installed / "SHA256SUMS").exists():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "models"


def expected_checksums(folder: Path | None = None) -> dict[str, str]:
    sums = (folder or models_dir()) / "SHA256SUMS"
    if not sums.exists():
        raise ModelError(f"{sums} is missing; reinstall emoplay (pip install --force-reinstall emoplay)")
    result = {}
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        if line.strip():
            fields = line.split(maxsplit=1)
            if len(fields) != 2:
                raise ModelError(f"{sums} line {number} is not 'SHA256  FILE' ({line.strip()[:40]!r}); reinstall "
                                 "emoplay (pip install --force-reinstall emoplay)")
            digest, name = fields
            result[name.strip()] = digest
    return result


def runtime_checksums(folder: Path | None = None) -> dict[str, str]:
    """The checksums of the models emoplay runs (the ``.onnx`` files): what an installed package carries."""
    return {name: digest for name, digest in expected_checksums(folder).items() if name.endswith(".onnx")}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_file(path: Path, what: str, option: str = "model_path") -> None:
    """ModelError unless ``path`` is a regular file: one that does not exist, and a device or folder, said apart."""
    if not path.exists():
        raise ModelError(f"{what} {path} does not exist; pass {option}=None for the shipped one")
    if not path.is_file():
        raise ModelError(f"{what} {path} is not a regular file (a folder or a device); give an ONNX model file, or "
                         f"{option}=None for the shipped one")


def shipped_model(name: str) -> Path:
    """Path of a shipped model file, after checking it against SHA256SUMS."""
    folder = models_dir()
    path = folder / name
    if not path.exists():
        raise ModelError(f"model file {path} is missing; reinstall emoplay or pass a model path explicitly")
    expected = expected_checksums(folder).get(name)
    if expected is None:
        raise ModelError(f"{name} is not listed in {folder / 'SHA256SUMS'}; reinstall emoplay")
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(f"{path} has sha256 {actual[:16]}…, expected {expected[:16]}…: the file is corrupt or "
                            "was replaced; reinstall emoplay (or restore it with git checkout)")
    return path
