"""A pytest plugin (registered in tests/conftest.py): keeps what every test printed or logged,
so the leak scan, which runs after all other tests, can read the whole suite's logs."""

from __future__ import annotations

import pytest

# (test id, section such as "Captured stdout call") -> the captured text
CAPTURED: dict[tuple[str, str], str] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_all: runs after every other test of the session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)  # stable


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, content in report.sections:
        CAPTURED[(report.nodeid, section)] = content
