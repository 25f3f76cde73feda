# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible worker a lookup runs in: which task of which playbook run it evaluates (so the
hosts of a task can share one answer, module_utils/_task_answers.py), and its garbage collector.

Ansible evaluates a task's templates for each host in a worker process forked from the
controller (``ansible.executor.process.worker.WorkerProcess``), which keeps the task it runs
as ``_task``; a task's ``_uuid`` is unique within a run and random across runs. Both are
ansible-core internals, the same from 2.16 to 2.21 (the tests run on 2.16, 2.19 and 2.21), so
they are read defensively: anything unexpected, or a lookup evaluated anywhere but in a
worker (the controller, a test), means no task, and every host asks the server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import multiprocessing
import os
import sys

_WORKER = ("ansible.executor.process.worker", "WorkerProcess")
_FROZEN = []  # [True] once this process has frozen its objects


def worker_process():
    """The WorkerProcess this code runs in, or None."""
    process = multiprocessing.current_process()
    kind = type(process)
    return process if (kind.__module__, kind.__name__) == _WORKER else None


def current_task():
    """(controller pid, task id) when evaluated in an Ansible worker process, else None."""
    process = worker_process()
    if process is None:
        return None
    task_id = getattr(getattr(process, "_task", None), "_uuid", None)
    if not isinstance(task_id, str) or not task_id:
        return None
    return os.getppid(), task_id


def _freeze_is_cheap():
    """``gc.freeze()`` only splices the collector's lists up to Python 3.13; the incremental
    collector of 3.14 and free-threaded builds visit every object, which is what it saves."""
    return sys.version_info < (3, 14) and "t" not in getattr(sys, "abiflags", "")  # 3.13t: free-threaded


def freeze_inherited():
    """In a worker, once: ``gc.freeze()``, so that its collections no longer scan the
    controller's recent objects it inherited, copying their pages (docs/architecture.md,
    *What a worker's garbage collector scans*). Never outside a worker, where it would keep
    garbage for the life of the process."""
    if _FROZEN or not _freeze_is_cheap() or worker_process() is None:
        return
    _FROZEN.append(True)
    gc.freeze()
