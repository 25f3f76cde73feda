# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which task of which playbook run a lookup is evaluated for, so the hosts of a task can share
one answer from the server (``share_across_hosts``, module_utils/_task_answers.py); and, in
the worker, keeping the garbage collector off what the worker inherited (``freeze_inherited``).

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

_WORKER = ("ansible.executor.process.worker", "WorkerProcess")
_FROZEN = []  # [True] once this process has frozen what it inherited


def _worker():
    """The WorkerProcess this code runs in, or None."""
    process = multiprocessing.current_process()
    kind = type(process)
    return process if (kind.__module__, kind.__name__) == _WORKER else None


def freeze_inherited():
    """In a forked worker, once: move every object it inherited from the controller out of the
    garbage collector's reach (``gc.freeze()``).

    A worker that asks the server allocates enough (imports, TLS, JSON) for the collector to
    scan its older generation, which holds the controller's objects: that scan writes to
    their pages, so the kernel copies them (copy-on-write), about 3 ms of CPU per worker
    (docs/performance.md). Frozen, they are never scanned in this process; the worker serves
    one host's task and exits, and the objects stay alive in the controller anyway. Objects
    made afterwards are collected as usual. Nothing happens outside a worker (the
    controller, a test), where freezing would keep garbage for the life of the process.
    """
    if _FROZEN or _worker() is None:
        return
    _FROZEN.append(True)
    gc.freeze()


def current_task():
    """(controller pid, task id) when evaluated in an Ansible worker process, else None."""
    process = _worker()
    if process is None:
        return None
    task_id = getattr(getattr(process, "_task", None), "_uuid", None)
    if not isinstance(task_id, str) or not task_id:
        return None
    return os.getppid(), task_id
