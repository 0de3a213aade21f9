"""Test-only fault injection for the nightly job, kept out of every public signature.

The tests set an environment variable before starting a run; each engine reads it once on
the driver when the run starts and carries the number to its workers. Unset, nothing happens.

- ``EMBCOMPRESS_TEST_FAIL_AFTER_PARTITIONS=N``: encoding a partition after the first N raises
  :class:`InjectedFault` (the run stops before its commit).
- ``EMBCOMPRESS_TEST_KILL_AFTER_PARTITIONS=N``: the run's driver process is SIGKILLed before
  encoding past the first N partitions (a crash no ``finally`` can tidy up after): the in-process
  engine kills itself; a Spark or Beam worker kills the driver whose id :func:`kill_target` read.
"""
from __future__ import annotations

import os
import signal

FAIL_ENV = "EMBCOMPRESS_TEST_FAIL_AFTER_PARTITIONS"
KILL_ENV = "EMBCOMPRESS_TEST_KILL_AFTER_PARTITIONS"


class InjectedFault(RuntimeError):
    """Raised by the fail-after hook: the run stops before its commit."""


def _count(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


def fail_after() -> int | None:
    """The partition count after which encoding fails, read once per run on the driver."""
    return _count(FAIL_ENV)


def check(part_index: int, fail_from: int | None, what: str) -> None:
    """Raise :class:`InjectedFault` when the partition ``part_index`` (0-based) comes after ``fail_from``."""
    if fail_from is not None and part_index >= fail_from:
        raise InjectedFault(f"injected fault: {what} comes after the first {fail_from} partitions ({FAIL_ENV})")


def kill_if_due(done: int) -> None:
    """SIGKILL this process once ``done`` partitions are encoded, when $EMBCOMPRESS_TEST_KILL_AFTER_PARTITIONS says."""
    kill_after = _count(KILL_ENV)
    if kill_after is not None and done >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)


def kill_target() -> tuple | None:
    """``(N, this process's id)`` when $EMBCOMPRESS_TEST_KILL_AFTER_PARTITIONS is set, read on the driver
    and carried to the workers for :func:`kill_driver_if_due`; None otherwise."""
    kill_after = _count(KILL_ENV)
    return None if kill_after is None else (kill_after, os.getpid())


def kill_driver_if_due(part_index: int, target: tuple | None) -> None:
    """SIGKILL the driver named by ``target`` when the partition ``part_index`` (0-based) comes after its N."""
    if target is not None and part_index >= target[0]:
        os.kill(target[1], signal.SIGKILL)
