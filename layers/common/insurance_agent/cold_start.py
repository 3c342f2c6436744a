"""A container's init: the function's code imported with the cyclic garbage collector paused.

Importing the layer allocates hundreds of thousands of objects (modules, classes, pydantic
schemas) that live as long as the container; the collector would run about a hundred young
collections over them during init and free nothing. Paused for the imports, it runs again
afterwards, with what init built frozen out of every later collection (``gc.freeze``), so warm
invocations do not walk the container's modules either. Measured by ``make bench``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def init_phase() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()
