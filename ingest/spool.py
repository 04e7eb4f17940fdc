"""The spool as a run replays it: without files that another live process still writes.

Spool files are named `spool-<time>-<pid>.jsonl` by the process that writes them. A run
that replays while a concurrent run's crawl workers are spooling (disjoint sources, same
machine) must not send and delete a file that is still growing, or the lines appended
after it was read would be lost. Files of live processes wait for a later replay.
"""

from __future__ import annotations

import os
from pathlib import Path

from index.bulk import Spool


def writer_alive(path: Path) -> bool:
    """Tell whether the process named in spool file PATH is alive (and is not this one)."""
    try:
        pid = int(path.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SettledSpool(Spool):
    """A spool whose `files()` leaves out files that live processes are writing."""

    def files(self) -> list[Path]:
        return [path for path in super().files() if not writer_alive(path)]
