"""current_task() and freeze_inherited() outside Ansible's worker processes, and in an imitation
of one (inside real ones: test_lookup_shared_across_hosts)."""

import gc
import multiprocessing

from ansible_collections.bws.secrets.plugins.plugin_utils import _worker
from ansible_collections.bws.secrets.plugins.plugin_utils._worker import current_task, freeze_inherited


class Imitation(multiprocessing.get_context("fork").Process):
    """A process with a ``_task`` that is not Ansible's WorkerProcess."""

    def __init__(self, queue):
        super().__init__()
        self.queue = queue
        self._task = type("Task", (), {"_uuid": "not-a-worker"})()

    def run(self):
        frozen = gc.get_freeze_count()
        freeze_inherited()
        self.queue.put((current_task(), gc.get_freeze_count() - frozen))


class WorkerProcess(Imitation):
    """Named and placed like Ansible's worker: freeze_inherited() twice, objects made between."""

    def run(self):
        counts = [gc.get_freeze_count()]
        freeze_inherited()
        counts.append(gc.get_freeze_count())
        kept = [{"n": n} for n in range(5000)]  # tracked objects made after the first call
        freeze_inherited()
        counts.append(gc.get_freeze_count())
        self.queue.put((current_task(), counts, len(kept)))


WorkerProcess.__module__ = "ansible.executor.process.worker"


def _run(kind):
    queue = multiprocessing.get_context("fork").Queue()
    process = kind(queue)
    process.start()
    try:
        return queue.get(timeout=10)
    finally:
        process.join(10)


def test_no_task_outside_a_worker():
    assert current_task() is None
    assert _run(Imitation) == (None, 0)  # nothing frozen in a process that is not a worker


def test_nothing_frozen_outside_a_worker():
    """The controller or a test keeps its garbage collector whole (freezing would keep garbage
    for the life of the process)."""
    frozen = gc.get_freeze_count()
    freeze_inherited()
    assert gc.get_freeze_count() == frozen


def test_a_worker_freezes_once():
    """The first call freezes what the worker holds; later calls leave new objects collectable.
    Where freezing visits every object (Python 3.14, free-threaded builds) nothing is frozen."""
    task, counts, _kept = _run(WorkerProcess)
    assert task == (multiprocessing.current_process().pid, "not-a-worker")
    if _worker._freeze_is_cheap():
        assert counts[0] == 0 and counts[1] > 1000 and counts[2] == counts[1], counts
    else:
        assert counts == [0, 0, 0]
