"""current_task() outside Ansible's worker processes (inside them: test_lookup_shared_across_hosts)."""

import multiprocessing

from ansible_collections.bws.secrets.plugins.plugin_utils._task_scope import current_task


class Imitation(multiprocessing.get_context("fork").Process):
    """A process with a ``_task`` that is not Ansible's WorkerProcess."""

    def __init__(self, queue):
        super().__init__()
        self.queue = queue
        self._task = type("Task", (), {"_uuid": "not-a-worker"})()

    def run(self):
        self.queue.put(current_task())


def test_no_task_outside_a_worker():
    assert current_task() is None
    queue = multiprocessing.get_context("fork").Queue()
    process = Imitation(queue)
    process.start()
    assert queue.get(timeout=10) is None
    process.join(10)
