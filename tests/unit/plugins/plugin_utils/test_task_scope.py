"""current_task() and freeze_inherited() outside Ansible's worker processes (inside them:
test_lookup_shared_across_hosts)."""

import gc
import multiprocessing

from ansible_collections.bws.secrets.plugins.plugin_utils._task_scope import current_task, freeze_inherited


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


def test_no_task_outside_a_worker():
    assert current_task() is None
    queue = multiprocessing.get_context("fork").Queue()
    process = Imitation(queue)
    process.start()
    assert queue.get(timeout=10) == (None, 0)  # nothing frozen in a process that is not a worker
    process.join(10)


def test_nothing_frozen_outside_a_worker():
    """The controller or a test keeps its garbage collector whole (freezing would keep garbage
    for the life of the process)."""
    frozen = gc.get_freeze_count()
    freeze_inherited()
    assert gc.get_freeze_count() == frozen
