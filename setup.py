"""Build hook: the wheel carries the runtime model files of ``models/``, not the scripts that make them.

``models/`` is installed as the package ``emoplay._models`` (pyproject.toml), and setuptools would copy
every ``.py`` file of a package's folder: the converters, dataset and figure scripts live there too and
belong to the repository only. Which data files ship is declared in pyproject.toml's package-data.
"""

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS_PACKAGE = "emoplay._models"


class BuildPyWithoutModelScripts(build_py):
    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if package == MODELS_PACKAGE:
            return [entry for entry in modules if entry[1] == "__init__"]
        return modules


setup(cmdclass={"build_py": BuildPyWithoutModelScripts})
