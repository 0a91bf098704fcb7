"""Build ``emoplay serve`` as a self-contained folder (PyInstaller, one folder) that needs no Python.

    python3 packaging/build_server.py            # -> build/server/dist/emoplay-serve/emoplay-serve[.exe]

Run it with Python >= 3.10 on the system you build for (PyInstaller does not cross-compile): Linux x86-64,
Windows (``py packaging\\build_server.py``) or macOS (``python3 packaging/build_server.py``). It makes a
virtual environment in build/server/venv (kept, so a second build skips the downloads), installs emoplay
from this checkout with its ``bridge`` extra and PyInstaller there, and runs PyInstaller. The folder it
prints holds the executable ``emoplay-serve``: the same options as ``emoplay serve`` (docs/bridge/PROTOCOL.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "emoplay-serve"
PYINSTALLER = "pyinstaller>=6.10,<7"
# Never imported by `emoplay serve`; excluded so a build venv that happens to hold them stays small.
EXCLUDES = ("torch", "matplotlib", "pygame", "tkinter", "pytest", "IPython", "jsonschema", "selenium")


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def server_requirements(python: Path, env: dict[str, str], cwd: Path) -> list[str]:
    """emoplay's own requirements and its ``bridge`` extra, with OpenCV's headless wheel (no Qt: a smaller bundle;
    cameras and video files work the same)."""
    listed = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(*m.requires('emoplay'), sep='\\n')"],
                            check=True, env=env, cwd=cwd, capture_output=True, text=True).stdout.splitlines()
    wanted = []
    for requirement in listed:
        spec, _, marker = (part.strip() for part in requirement.partition(";"))
        if "extra" in marker:
            if "bridge" not in marker:
                continue
            marker = ""
        if spec.startswith("opencv-python") and not spec.startswith("opencv-python-headless"):
            spec = "opencv-python-headless" + spec[len("opencv-python"):]
        wanted.append(f"{spec}; {marker}" if marker else spec)
    return wanted


def install(python: Path, env: dict[str, str], cwd: Path) -> None:
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    # opencv-python and the headless wheel both install cv2: remove the other one first (a venv of an older build).
    subprocess.run([*pip, "uninstall", "--quiet", "--yes", "opencv-python"], check=True, env=env, cwd=cwd)
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--force-reinstall", str(REPO)], check=True, env=env,
                   cwd=cwd)
    subprocess.run([*pip, "install", "--quiet", *server_requirements(python, env, cwd), PYINSTALLER], check=True,
                   env=env, cwd=cwd)


def build(out: Path, python: Path | None = None) -> Path:
    """Build into ``out``; returns the executable's path."""
    out.mkdir(parents=True, exist_ok=True)
    # The installed emoplay (with its models), never this checkout's source tree: no PYTHONPATH, and a working
    # directory outside the checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if python is None:
        env_dir = out / "venv"
        if not venv_python(env_dir).exists():
            venv.EnvBuilder(with_pip=True).create(env_dir)
        python = venv_python(env_dir)
        install(python, env, out)
    subprocess.run([str(python), "-m", "PyInstaller", "--noconfirm", "--clean", "--onedir", "--console",
                    "--name", NAME, "--distpath", str(out / "dist"), "--workpath", str(out / "work"),
                    "--specpath", str(out),
                    "--collect-data", "emoplay._models", "--collect-data", "emoplay.bridge.dashboard",
                    # imported on first use, by name: PyInstaller's import scan cannot see them
                    "--collect-submodules", "emoplay", "--collect-submodules", "websockets",
                    "--collect-submodules", "pythonosc",
                    *(f"--exclude-module={name}" for name in EXCLUDES),
                    str(REPO / "packaging" / "serve_main.py")], check=True, env=env, cwd=out)
    exe = out / "dist" / NAME / (NAME + (".exe" if os.name == "nt" else ""))
    if not exe.exists():
        raise SystemExit(f"the build finished without {exe}; see PyInstaller's output above")
    return exe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "server",
                        help="build folder (default build/server; the venv in it is reused)")
    parser.add_argument("--python", type=Path,
                        help="build with this Python, which already has emoplay[bridge] and PyInstaller installed, "
                             "instead of making a venv")
    args = parser.parse_args()
    started = time.monotonic()
    exe = build(args.out.resolve(), args.python)
    print(f"built {exe} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(exe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
