"""A sweep's worker ends once the process that started it is gone."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARENT = """
import multiprocessing as mp, sys, time
from concurrent.futures import ProcessPoolExecutor
from factordiff.experiments.sweep import _set_threads

def child_pid():
    import os
    return os.getpid()

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_set_threads,
                               initargs=(1,))
    print(pool.submit(child_pid).result(), flush=True)
    pool.submit(time.sleep, 600)  # the worker is busy when its parent dies
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet collected by its new parent, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_worker_exits_when_its_sweep_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()  # SIGKILL: no clean-up in the parent at all
        parent.wait(10)
        deadline = time.monotonic() + 20
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(child), "the worker lived on after its sweep was killed"
    finally:
        parent.kill()
        if child is not None and alive(child):  # the failure case: leave no stray process
            os.kill(child, signal.SIGKILL)
