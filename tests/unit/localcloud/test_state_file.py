"""The state file: what a pickle cannot hold is handled explicitly, the write is atomic,
a file that cannot be used is a StateFileError naming it; the scheduler's work not done
at a stop is kept as plain data, and only that."""

from __future__ import annotations

import pickle
import threading
import weakref
from collections import defaultdict
from pathlib import Path

import pytest

from localcloud import persistence
from localcloud.endpoint import Endpoint
from localcloud.pending import PendingWork, from_snapshot
from localcloud.persistence import Snapshot, StateFileError, load, save
from localcloud.scheduling import Scheduler, Tagged


class Model:
    """Stands for a moto model: locks, a condition, weak references, lambda factories."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition()
        self.items: defaultdict[str, dict[str, int]] = defaultdict(lambda: {})
        self.items["a"]["b"] = 1
        self.by_arn: weakref.WeakValueDictionary[str, Model] = weakref.WeakValueDictionary()


def test_models_with_locks_conditions_weak_refs_and_lambda_factories_round_trip(
        tmp_path: Path) -> None:
    model = Model()
    other = Model()
    model.by_arn["arn:other"] = other
    path = tmp_path / "state.pickle"

    save(path, Snapshot({"model": model, "other": other}))
    loaded = load(path).backends

    copy = loaded["model"]
    assert copy.items == {"a": {"b": 1}}
    assert copy.items["new"] == {}            # still a defaultdict making empty dicts
    assert copy.by_arn["arn:other"] is loaded["other"]   # the same object, as saved
    with copy.lock, copy.changed:             # fresh, usable synchronisation objects
        pass


def test_a_defaultdict_factory_that_makes_something_else_is_refused() -> None:
    odd: defaultdict[str, list[int]] = defaultdict(lambda: [1])
    with pytest.raises(pickle.PicklingError, match="cannot be kept"):
        persistence.dumps(Snapshot({"odd": odd}))


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.pickle"
    save(path, Snapshot({"n": 1}))

    with pytest.raises(TypeError, match="generator"):
        save(path, Snapshot({"n": 2, "unpicklable": (x for x in [])}))

    assert load(path).backends == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pickle"]


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "is corrupt or not a local cloud state file (EOFError)"),
    (b"garbage", "is corrupt or not a local cloud state file (UnpicklingError)"),
    (pickle.dumps({"a": 1}), "is not a local cloud state file of this version"),
])
def test_a_file_that_cannot_be_used_names_itself_and_what_to_do(
        tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "state.pickle"
    path.write_bytes(content)

    with pytest.raises(StateFileError) as raised:
        load(path)

    assert str(raised.value) == (
        f"state file {path} {problem}: start with another --state-dir, or move the file "
        "away to start empty (it is not deleted)")
    assert raised.value.exit_code == 2


def test_a_file_of_another_moto_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.pickle"
    save(path, Snapshot({}, moto_version="0.0.1"))

    with pytest.raises(StateFileError, match=r"was written with moto 0\.0\.1, this is moto "):
        load(path)


def test_a_stopped_scheduler_hands_over_queued_pool_and_timer_work_with_due_times() -> None:
    scheduler = Scheduler(time_scale=1.0, pool_size=1)
    release = threading.Event()
    scheduler.submit(lambda: release.wait(30) and None)        # busy the only worker
    scheduler.submit(Tagged("invoke", "queued on the pool", lambda: None))
    scheduler.later(3600, Tagged("deliver", "a retry in an hour", lambda: None),
                    on_pool=False)
    scheduler.stop()
    scheduler.enqueue(Tagged("route", "queued after the stop", lambda: None))

    kept, unkept = from_snapshot(scheduler.snapshot())
    release.set()

    assert [(w.kind, w.item) for w in kept] == [
        ("route", "queued after the stop"), ("invoke", "queued on the pool"),
        ("deliver", "a retry in an hour")]
    assert kept[0].delay_s == kept[1].delay_s == 0.0
    assert 3500 < kept[2].delay_s <= 3600
    assert unkept == 1                      # the untagged busy work: counted, not kept
    assert all(isinstance(w, PendingWork) for w in kept)


def test_an_invocation_running_at_the_stop_runs_again_after_its_functions_timeout() -> None:
    class Invocation:
        timeout_s = 65.0

    running = Tagged("invoke", Invocation(), lambda: None)
    queued = Tagged("invoke", Invocation(), lambda: None)

    kept, _ = from_snapshot([(running, 0.0, True), (queued, 0.0, False)])

    # The stopped run may hold a lease for the rest of its timeout (lambda_async.retry_wait_s).
    assert [w.delay_s for w in kept] == [65.0, 0.0]


def test_a_state_dir_that_is_a_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")

    with pytest.raises(StateFileError) as raised:
        Endpoint(port=0, state_dir=not_a_folder).load_state()

    assert str(raised.value) == (f"state dir {not_a_folder} is not a folder: give "
                                 "--state-dir a folder this user can write")


def test_an_empty_state_dir_is_made_and_means_nothing_saved_yet(tmp_path: Path) -> None:
    state_dir = tmp_path / "new" / "state"

    assert Endpoint(port=0, state_dir=state_dir).load_state() is None
    assert state_dir.is_dir()
