"""asyncio's private task bookkeeping, used in one place: ``eager_task``.

``app.matrix.queue`` starts a receipt's sending from within ``submit``, up to the
sender's first wait, and needs the Task registered before that first step runs (a submit
made from within the step must find the worker). Python 3.12's eager tasks
(``asyncio.Task(..., eager_start=True)``, ``asyncio.eager_task_factory``) run the first
step inside the constructor, before the caller can register the Task, and 3.11 has no
eager tasks at all; so the first step is run here, by hand.

What is private: ``asyncio.tasks._enter_task`` and ``_leave_task``, which make a Task the
loop's current task while its first step runs (so ``asyncio.current_task()``, and a
timeout started in that step, see the Task, not the caller). No public API sets the
current task. If a Python release renames or removes them, this module fails at import
(the receipt queue with it: tests/matrix/test_queue.py); if it changes what they check
(they raise when the current task is not the one expected), the first step raises
``RuntimeError`` and tests/matrix/test_queue_burst.py fails.
"""

from __future__ import annotations

import asyncio
import contextvars
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from typing import Any


class _Started(Coroutine[Any, Any, Any]):
    """A coroutine already run up to its first wait, for a Task to carry on: the Task's
    first step gets what the coroutine's first step yielded (or its result, or its
    error); every later step, and a cancellation, goes to the coroutine itself."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._first: tuple[str, Any] | None = None
        self.__qualname__ = getattr(coro, "__qualname__", type(coro).__qualname__)

    def step(self) -> None:
        try:
            self._first = ("yield", self._coro.send(None))
        except StopIteration as done:
            self._first = ("return", done.value)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - the Task raises it, as its own
            self._first = ("raise", error)

    def send(self, value: Any) -> Any:
        if self._first is None:
            return self._coro.send(value)
        (kind, payload), self._first = self._first, None
        if kind == "yield":
            return payload
        if kind == "return":
            raise StopIteration(payload)
        raise payload

    def throw(self, typ, value=None, traceback=None) -> Any:  # noqa: ANN001
        # Cancelled before its first step as a Task: the coroutine waits where its
        # eager step left it, and gets the error there (one that had already finished
        # raises it back).
        self._first = None
        if value is None and traceback is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, value, traceback)

    def close(self) -> None:
        self._first = None
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("a started coroutine is carried on by its Task only")

    # What asyncio reads of a task's coroutine for repr() and get_stack().
    @property
    def cr_code(self) -> Any:
        return getattr(self._coro, "cr_code", None)

    @property
    def cr_frame(self) -> Any:
        return getattr(self._coro, "cr_frame", None)

    @property
    def cr_running(self) -> bool:
        return getattr(self._coro, "cr_running", False)


def eager_task(coro: Coroutine[Any, Any, Any], *, name: str) -> tuple[asyncio.Task, Callable[[], None]]:
    """A Task for ``coro`` and the function that runs its first step now, up to its
    first wait (the Task carries it on from there): what Python 3.12's eager tasks are
    (``asyncio.Task(..., eager_start=True)``), also on 3.11. During that first step the
    Task is the current task, as in any later step (a timeout started there, aiohttp's
    say, cancels the Task, not the caller), and its context is the Task's own."""
    loop = asyncio.get_running_loop()
    started = _Started(coro)
    context = contextvars.copy_context()
    # Task(), not loop.create_task(): a task factory must not step it before we do.
    task = asyncio.Task(started, loop=loop, name=name, context=context)

    def first_step() -> None:
        outer = asyncio.current_task(loop)
        if outer is not None:
            _leave_task(loop, outer)
        _enter_task(loop, task)
        try:
            context.run(started.step)
        finally:
            _leave_task(loop, task)
            if outer is not None:
                _enter_task(loop, outer)

    return task, first_step
