"""tests/conftest.py orders the items for ``pytest -n N --dist worksteal``: each worker's first, contiguous share
of the items starts with its part of the notebooks, longest first, then its part of the slow tests, and no item
is lost or repeated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("tests_conftest", Path(__file__).with_name("conftest.py"))
conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conftest)

SECONDS = {"a.ipynb": 50.0, "b.ipynb": 40.0, "c.ipynb": 30.0, "d.ipynb": 20.0, "e.ipynb": 10.0}


class Item:
    def __init__(self, name, slow=False):
        self.path = Path("/somewhere") / name
        self.slow = slow

    def get_closest_marker(self, name):
        return object() if name == "slow" and self.slow else None

    def __repr__(self):
        return self.path.name


def _items():
    tests = [Item(f"test_{i}.py", slow=i >= 34) for i in range(40)]  # the last six start processes
    return tests[:20] + [Item(name) for name in sorted(SECONDS)] + tests[20:]


@pytest.mark.parametrize("workers", [2, 3])
def test_each_workers_share_starts_with_its_notebooks_longest_first(monkeypatch, workers):
    monkeypatch.setattr(conftest, "_notebook_seconds", lambda: SECONDS)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
    items = _items()
    before = list(items)
    conftest.pytest_collection_modifyitems(None, items)
    assert sorted(map(id, items)) == sorted(map(id, before))  # the same items, each once
    shares, left = [], list(items)
    for i in range(workers):  # how xdist's worksteal cuts the list
        size = len(left) // (workers - i)
        shares.append(left[:size])
        left = left[size:]
    loads = []
    for share in shares:
        names = [item.path.name for item in share]
        notebooks = [name for name in names if name.endswith(".ipynb")]
        assert notebooks, f"a share without notebooks: {names}"
        assert names[:len(notebooks)] == notebooks  # its notebooks first ...
        slow = [item.path.name for item in share if item.slow]
        assert names[len(notebooks):len(notebooks) + len(slow)] == slow  # ... then its slow tests
        assert [SECONDS[n] for n in notebooks] == sorted((SECONDS[n] for n in notebooks), reverse=True)  # longest first
        loads.append(sum(SECONDS[n] for n in notebooks))
    assert max(loads) - min(loads) <= max(SECONDS.values())  # spread, not all in one share


def test_without_xdist_the_order_is_pytests(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    items = _items()
    before = list(items)
    conftest.pytest_collection_modifyitems(None, items)
    assert items == before
