"""The ``shared_data`` marker, found from the tests' code so that nobody has to keep it up to date.

A test reads the shared data when its function, one of its fixtures, or a helper from the tests package that
they call (followed through any depth) names one of :data:`SHARED_DATA_NAMES`; a test module that asks for the
data when it is imported marks all of its tests (:data:`tests.support.MODULES_READING_SHARED_DATA`).
:func:`tests.support.require_shared` fails a test that reads the data without the marker, so a miss here shows
up at once instead of as a quiet gap in ``-m "not shared_data"``.
"""

from __future__ import annotations

import inspect
from types import CodeType

# The helpers and paths of tests.support through which tests reach ../shared.
SHARED_DATA_NAMES = frozenset({"require_shared", "SHARED", "VIDEOS", "FER", "video_frames"})


def reads_shared_data(item) -> bool:
    """True when the test ``item``, its fixtures or the test helpers they call name the shared data."""
    from tests.support import MODULES_READING_SHARED_DATA

    if item.module.__name__ in MODULES_READING_SHARED_DATA:
        return True
    functions = [item.obj] + [fixture.func for fixtures in item._fixtureinfo.name2fixturedefs.values()
                              for fixture in fixtures]
    seen: set[CodeType] = set()
    return any(_names_shared_data(function, seen) for function in functions)


def _names_shared_data(function, seen: set[CodeType]) -> bool:
    function = inspect.unwrap(function)
    code = getattr(function, "__code__", None)
    if code is None or code in seen or not getattr(function, "__module__", "").startswith("tests"):
        return False
    seen.add(code)
    names = _names(code)
    if names & SHARED_DATA_NAMES:
        return True
    namespace = getattr(function, "__globals__", {})
    return any(_names_shared_data(namespace[name], seen) for name in names
               if inspect.isfunction(namespace.get(name)))


def _names(code: CodeType) -> set[str]:
    """The global and attribute names a function's code uses, nested functions and comprehensions included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names
