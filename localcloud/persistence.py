"""The local cloud's state on disk: moto's backends and the data plane's pending work.

Used by ``Endpoint(state_dir=...)`` (``local up --state-dir DIR``,
``python -m localcloud --state-dir DIR``): loaded at start before anything is served,
saved at stop after the drain.

``save`` writes one snapshot file atomically (a temporary file in the same folder, fsync,
then ``os.replace``): a crash while saving leaves the previous snapshot whole. ``load``
reads it back, or raises :class:`StateFileError` naming the file and what to do.

A snapshot is a pickle (Python's own object serialisation: moto's models are plain
Python objects, and LocalStack keeps moto's backends the same way) of:

- every moto backend in use (``BackendDict`` per service -> account -> region), which
  holds all of the control plane: accounts' IAM roles and policies, STS sessions, buses,
  rules, targets, bus policies, archives, log groups and their events, queues and their
  messages, tables and their items, Lambda functions with their code, API Gateway APIs;
- the data plane's work not done at stop (:mod:`localcloud.pending`).

What a pickle cannot hold is handled here, explicitly: locks and conditions are made
anew (nothing holds them once the endpoint stopped); weak-value dictionaries are kept
with their (strongly held elsewhere) values; a ``defaultdict`` whose factory is a lambda
gets the type of the empty value the lambda makes.

A state file is trusted like code (unpickling runs what it names): keep it where only
you write. It is tied to the moto version that wrote it: another one is refused.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "state.pickle"
>>> save(path, Snapshot({"answer": threading.Lock()}))
>>> type(load(path).backends["answer"]) is type(threading.Lock())
True
"""

from __future__ import annotations

import io
import os
import pickle
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import moto

FORMAT = 1
STATE_FILE = "localcloud-state.pickle"

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_EMPTY_TYPES = (dict, list, set, int, float, str, tuple, frozenset)


class StateFileError(Exception):
    """A state file that cannot be used; the message names it and what to do."""

    exit_code = 2

    def __init__(self, path: Path, problem: str, *, kind: str = "state file") -> None:
        self.path = path
        remedy = ("start with another --state-dir, or move the file away to start empty "
                  "(it is not deleted)" if kind == "state file"
                  else "give --state-dir a folder this user can write")
        super().__init__(f"{kind} {path} {problem}: {remedy}")


@dataclass
class Snapshot:
    """What a state file holds."""

    backends: dict[Any, Any]
    pending: list[Any] = field(default_factory=list)
    saved_monotonic: float = field(default_factory=time.monotonic)
    saved_at: float = field(default_factory=time.time)
    moto_version: str = moto.__version__
    format: int = FORMAT


def _fresh_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _fresh_condition() -> threading.Condition:
    return threading.Condition()


def _portable_factory(factory: Callable[[], Any] | None) -> Callable[[], Any] | None:
    """A picklable factory equivalent to ``factory``: itself when picklable by name, else
    the type of the empty value it makes (``lambda: {}`` -> ``dict``)."""
    if factory is None or getattr(factory, "__name__", "") != "<lambda>":
        return factory
    made = factory()
    if type(made) in _EMPTY_TYPES and not made:
        return type(made)
    raise pickle.PicklingError(f"defaultdict factory {factory!r} makes {made!r}: "
                               "cannot be kept")


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _LOCK_TYPES:
            return _fresh_lock, (kind is _LOCK_TYPES[1],)
        if kind is threading.Condition:
            return _fresh_condition, ()
        if kind is weakref.WeakValueDictionary:
            return weakref.WeakValueDictionary, (dict(obj.items()),)
        if kind is defaultdict:
            return (defaultdict, (_portable_factory(obj.default_factory),), None, None,
                    iter(obj.items()))
        return NotImplemented


def dumps(snapshot: Snapshot, *, attempts: int = 5) -> bytes:
    """The snapshot's bytes. A thread finishing its work after the stop (a Lambda
    invocation's log lines) may change a model while it is pickled: tried again then."""
    for attempt in range(attempts):
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(snapshot)
        except RuntimeError:  # "dictionary changed size during iteration"
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)
            continue
        break
    return buffer.getvalue()


def save(path: Path, snapshot: Snapshot) -> None:
    """Write the snapshot to ``path`` atomically."""
    data = dumps(snapshot)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def load(path: Path) -> Snapshot:
    """The snapshot in ``path``; StateFileError if it is not one this version can use."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateFileError(path, f"cannot be read ({exc.strerror})") from None
    try:
        snapshot = pickle.loads(data)
    except Exception as exc:  # a truncated or foreign file fails in many ways
        raise StateFileError(path, f"is corrupt or not a local cloud state file "
                             f"({type(exc).__name__})") from None
    if not isinstance(snapshot, Snapshot) or getattr(snapshot, "format", None) != FORMAT:
        raise StateFileError(path, "is not a local cloud state file of this version")
    if snapshot.moto_version != moto.__version__:
        raise StateFileError(path, f"was written with moto {snapshot.moto_version}, "
                             f"this is moto {moto.__version__}")
    return snapshot

