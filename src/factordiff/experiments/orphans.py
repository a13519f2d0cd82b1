"""Worker processes end with the process that started them.

A sweep's workers (and the analysis workers) are spawned processes. When the main process is
killed (``kill PID``, a job scheduler's time limit, a closed terminal), Python's pool cannot
tell them: they went on training into the same run folders, and a rerun of the sweep then had
two processes writing one run (seen on 2026-12-06). Each worker therefore watches its parent
and exits once the parent is gone; the run folders stay resumable (checkpoints are atomic).
"""

from __future__ import annotations

import os
import threading
import time

#: Seconds between two looks at the parent.
POLL_SECONDS = 1.0


def exit_with_parent(poll: float = POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process (exit status 1) as soon as its parent
    process is gone (this process is then re-parented, so ``os.getppid()`` changes)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(1)  # no clean-up: the parent that would collect results is gone

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
