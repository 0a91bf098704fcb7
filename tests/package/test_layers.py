"""Every import points down: a module imports only from its own part of emoplay or from a lower layer
(two parts of one layer do not import each other).

The layers, lowest first. Each entry is a part: a package (with everything under it) or one module.
A frame goes up through them: the foundation's types and model files, then detection, the pipeline that
classifies, tracks and debounces, the sensor that runs it on a thread; above them what uses the sensor
(hosts, offline tools), the game-code API in ``emoplay/__init__.py``, and the command line on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import emoplay

PACKAGE = Path(emoplay.__file__).resolve().parent

LAYERS: tuple[tuple[str, ...], ...] = (
    # foundation: errors, events, clocks, frames, model files, onnxruntime, optional plotting
    ("emoplay._errors", "emoplay._events", "emoplay._clock", "emoplay._checks", "emoplay._cpu", "emoplay._cv_threads",
     "emoplay._frames", "emoplay._model_files", "emoplay._onnxruntime", "emoplay._plotting", "emoplay._lazy",
     "emoplay._version", "emoplay._valence_arousal", "emoplay._event_dicts", "emoplay._timing",
     "emoplay._media_files", "emoplay._private_files", "emoplay._progress", "emoplay._quiet_opencv"),
    # the parts a frame passes through, and the encrypted log
    ("emoplay.detection", "emoplay.calibration", "emoplay.sessionlog"),
    ("emoplay.pipeline",),
    ("emoplay.sensor",),
    # what runs beside a game: host adapters, and measuring the model offline
    ("emoplay.pygame", "emoplay.bridge", "emoplay.evaluation"),
    ("emoplay.explain", "emoplay.study"),
    # the API for game code (emoplay/__init__.py alone: a new module needs a layer of its own)
    ("emoplay",),
    ("emoplay.cli",),
    ("emoplay.__main__",),  # python -m emoplay
)
# The foundation's modules may import each other: they form one part.
FOUNDATION = LAYERS[0]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["emoplay", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _part(module: str) -> tuple[int, str]:
    """(layer index, part) of a module: the longest declared name that is the module or a package above it."""
    best = None
    for index, layer in enumerate(LAYERS):
        for name in layer:
            inside = module == name or (name != "emoplay" and module.startswith(name + "."))
            if inside and (best is None or len(name) > len(best[1])):
                best = (index, name)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
    return (0, "foundation") if best[1] in FOUNDATION else best


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The emoplay modules ``module`` imports, anywhere in the file (in functions too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import x` imports the submodule x when there is one
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    return {name for name in found if name == "emoplay" or name.startswith("emoplay.")}


def test_every_module_is_in_a_layer():
    for module in _modules():
        _part(module)


def test_every_imported_emoplay_module_exists():
    """A relative import left behind by a move (``from .x`` after x moved away) fails only when it runs."""
    modules = _modules()
    missing = [f"{module} imports {target}" for module, path in modules.items()
               for target in sorted(_imports(module, path, modules)) if target not in modules]
    assert missing == []


def test_no_module_imports_from_a_higher_layer():
    modules = _modules()
    upward = []
    for module, path in modules.items():
        layer, part = _part(module)
        for target in sorted(_imports(module, path, modules)):
            target_layer, target_part = _part(target)
            if target_part != part and target_layer >= layer:
                upward.append(f"{module} (layer {layer}) imports {target} (layer {target_layer})")
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path):
    """The parser resolves relative imports, so a lower module reaching up is caught."""
    fake = tmp_path / "emoplay" / "detection" / "_fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from .. import Sensor\nfrom ..sensor import _sensor\n\n\n"
                    "def f():\n    from ..pipeline._classify import x\n")
    modules = {**_modules(), "emoplay.detection._fake": fake}
    found = _imports("emoplay.detection._fake", fake, modules)
    assert found == {"emoplay", "emoplay.sensor._sensor", "emoplay.pipeline._classify"}
    assert all(_part(target)[0] > _part("emoplay.detection._fake")[0] for target in found)
