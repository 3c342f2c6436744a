"""The scheduled functions of template.yaml, run on timers by `make run`: the transparency
sealer and the claim reconciler each minute, housekeeping (the idempotency purge, the audit
trail's next partitions) each hour.

Each job runs the same code as its function (and as `python -m ops seal | reconcile |
purge-idempotency`); a failing run prints one line and the next tick tries again, as a
scheduled Lambda would.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ops import idempotency, partitions, reconcile, seal


@dataclass
class Schedules:
    database_url: str
    seal_every_s: float = 60.0
    reconcile_every_s: float = 60.0
    purge_every_s: float = 3600.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Schedules:
        jobs: list[tuple[str, float, Callable[[], object]]] = [
            ("transparency sealer", self.seal_every_s, lambda: seal.seal(self.database_url)),
            ("claim reconciler", self.reconcile_every_s, lambda: reconcile.run(self.database_url)),
            ("housekeeping", self.purge_every_s, self._housekeeping),
        ]
        for name, every_s, job in jobs:
            thread = threading.Thread(
                target=self._loop, args=(name, every_s, job), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _housekeeping(self) -> None:
        partitions.ensure(self.database_url)
        idempotency.purge_expired(self.database_url)

    def _loop(self, name: str, every_s: float, job: Callable[[], object]) -> None:
        while not self._stop.wait(every_s):
            try:
                job()
            except Exception as exc:  # noqa: BLE001  -- a schedule outlives one failed run
                print(f"{name}: run failed ({type(exc).__name__}: {exc})", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def describe(self) -> str:
        return (
            f"schedules: transparency sealer every {self.seal_every_s:g}s, claim reconciler "
            f"every {self.reconcile_every_s:g}s, housekeeping (idempotency purge, next audit "
            f"partitions) every {self.purge_every_s:g}s (python -m ops seal | reconcile | "
            "purge-idempotency | partitions --ensure run them once)"
        )
