"""Progress of a long loop: a tqdm bar on a terminal, plain lines anywhere else.

Every progress display of factordiff (training steps, checkpoints analysed, the sensitivity
map) goes through :func:`progress_bar`. On a terminal (or in a notebook) it is a tqdm bar
that redraws itself in place. Written into a file or a pipe (``factordiff ... 2> log``,
``nohup``), a bar would be one carriage-return update after another (about 1,500 in a
quick training log), so there it is :class:`LineProgress` instead: whole lines such as::

    quick: 150/1,494 steps (10%), 1 min 3 s elapsed, about 9 min 24 s left; loss=0.0421

one each time another tenth of the total is done, at most one a minute in between
(``every_seconds``), and a last one when the loop ends; never a carriage return.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

#: Seconds between two lines of :class:`LineProgress` at most, between its 10% steps.
LINE_EVERY_SECONDS = 60.0


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, StringIO)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _in_notebook() -> bool:
    """Whether tqdm.auto chose its notebook widget (Jupyter): a bar there, not lines."""
    try:
        from tqdm.auto import tqdm as auto
        from tqdm.notebook import tqdm_notebook
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return False
    return issubclass(auto, tqdm_notebook)


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    initial: int = 0,
    disable: bool = False,
    file: TextIO | None = None,
    every_seconds: float = LINE_EVERY_SECONDS,
):
    """A progress display over ``iterable`` (or ``total`` steps counted with ``update``).

    A tqdm bar when ``file`` (default ``sys.stderr``) is a terminal or in a notebook,
    else a :class:`LineProgress` writing plain lines to it. Both have ``update(n)``,
    ``set_postfix(**values)``, ``set_postfix_str(text)``, ``close()``, iteration and
    ``with``. ``disable`` shows nothing."""
    stream = sys.stderr if file is None else file
    if disable or is_terminal(stream) or (file is None and _in_notebook()):
        from tqdm.auto import tqdm

        return tqdm(
            iterable,
            total=total,
            desc=desc,
            unit=unit,
            initial=initial,
            disable=disable,
            file=file,
            dynamic_ncols=True,
        )
    return LineProgress(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        file=stream,
        every_seconds=every_seconds,
    )


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class LineProgress:
    """Progress as whole lines (see the module docstring): for a stream that is not a
    terminal. The same calls as a tqdm bar, those factordiff uses."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        file: TextIO | None = None,
        every_seconds: float = LINE_EVERY_SECONDS,
        clock=time.monotonic,
    ) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = self.start_n = initial
        self.file = sys.stderr if file is None else file
        self.every = every_seconds
        self.clock = clock
        self.t0 = self.last_t = clock()
        self.last_tenth = self._tenth(initial)
        self.postfix = ""
        self.lines = 0
        self.closed = False
        self.printed_n: int | None = None

    def _tenth(self, n: int) -> int:
        return 10 * n // self.total if self.total else 0

    def _line(self) -> str:
        now = self.clock()
        elapsed = now - self.t0
        if self.total:
            head = f"{self.n:,}/{self.total:,} {self.unit} ({100 * self.n // self.total}%)"
        else:
            head = f"{self.n:,} {self.unit}"
        text = f"{self.desc}: {head}" if self.desc else head
        text += f", {_duration(elapsed)} elapsed"
        done = self.n - self.start_n
        if self.total and 0 < done and self.n < self.total:
            text += f", about {_duration(elapsed / done * (self.total - self.n))} left"
        if self.postfix:
            text += f"; {self.postfix}"
        return text

    def _emit(self) -> None:
        self.file.write(self._line() + "\n")
        self.file.flush()
        self.lines += 1
        self.last_t = self.clock()
        self.printed_n = self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        tenth = self._tenth(self.n)
        if tenth > self.last_tenth or self.clock() - self.last_t >= self.every:
            self.last_tenth = tenth
            self._emit()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **values):
        items = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def close(self) -> None:
        """A last line with the final count (unless the last line already had it)."""
        if self.closed:
            return
        self.closed = True
        if self.printed_n != self.n:
            self._emit()

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("LineProgress without an iterable: use update()")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
