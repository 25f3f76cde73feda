# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Answers shared by the hosts of one task (the lookups' ``share_across_hosts``).

Ansible runs a task's lookups in one forked worker per host, and each would ask the server the
same question. ``TaskAnswers`` lets the first worker of a task ask and the others use its
answer. ``<state file>.bws-secrets-task-<controller pid>-<digest>``, one file per task and
question (digest: SHA-256 of both), holds the answer, secrets exactly as the server sent them
(ciphertext), encrypted with the token key like the state file (0600, in the 0700 state
directory). An exclusive ``flock`` on that file is held while asking, so the other workers
of the task wait for the answer instead of asking too.

An answer serves only the task and question it was asked for, for ``MAX_AGE`` seconds, and
never the process that asked (a host that asks again in the same task asks the server). A
module's write through the token removes every answer (``discard``); files of a controller
that is gone, or older than ``STALE_AFTER``, are removed by the next worker that asks. Any
doubt (unreadable, corrupt or foreign file, a lock held too long) means asking the server,
as without sharing.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import contextlib
import errno
import hashlib
import json
import os
import stat
import time

from ._errors import StateFileError
from ._state import FILE_MODE, LOCK_TIMEOUT, decode_json, encode_json, ensure_dir, flock_wait, remove_under_lock

ANSWER_INFIX = ".bws-secrets-task-"
ANSWER_VERSION = 1
MAX_AGE = 60  # seconds: an older answer is not used (a task's hosts may run far apart, e.g. strategy free)
STALE_AFTER = 600  # seconds: no task waits that long for an answer
WAIT_STEP = 0.01  # seconds: how often, at most, a worker waiting for an answer looks again


def answer_files(state_path):
    """Paths of every answer file of the token whose state file is ``state_path``."""
    directory, prefix = os.path.split(state_path)
    prefix += ANSWER_INFIX
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, name) for name in names if name.startswith(prefix)]


def discard(state_path, lock_timeout=LOCK_TIMEOUT):
    """Remove every shared answer of the token, after a write through it: the other hosts of a
    task then ask the server. Raises StateFileError."""
    paths = answer_files(state_path)
    if paths:
        remove_under_lock(os.path.dirname(state_path), paths, "shared answer", lock_timeout)


class TaskAnswers:
    """The answers of one task of one controller, for the token of ``state_path``."""

    def __init__(self, state_path, key, controller_pid, task_id, lock_timeout=LOCK_TIMEOUT):
        self.state_path = state_path
        self.key = key
        self.controller_pid = int(controller_pid)
        self.task_id = str(task_id)
        self.lock_timeout = lock_timeout

    def answer(self, question, ask):
        """What ``ask()`` returns (anything JSON can hold), or what it returned for ``question``
        in another process of this task. ``ask`` runs with the answer's lock held; whatever it
        raises is raised, and nothing is shared."""
        ident = json.dumps([self.task_id, question], separators=(",", ":"), sort_keys=True)
        path = "%s%s%d-%s" % (self.state_path, ANSWER_INFIX, self.controller_pid,
                              hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32])
        try:
            ensure_dir(os.path.dirname(path))
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                         FILE_MODE)
        except (OSError, StateFileError):
            return ask()
        try:
            try:
                waited_from = time.time()
                flock_wait(fd, self.lock_timeout, path, max_delay=WAIT_STEP)
                found = self._read(fd, path, ident, waited_from)
            except (OSError, StateFileError):
                return ask()  # not ours to use, or another worker asks for too long: ask too
            if found is not None:
                return found[0]
            asked_at = time.time()  # before asking: the age of an answer counts from the question
            answer = ask()
            self._write(fd, path, ident, answer, asked_at)
            self._remove_stale(path)
            return answer
        finally:
            os.close(fd)  # releases the lock

    def _read(self, fd, path, ident, waited_from):
        """(answer,) from the file, or None when it holds none for this process. An answer asked
        while this process waited for it is used whatever its age (a failure after several long
        tries can take longer than MAX_AGE): it was written after this process began to wait."""
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_nlink > 1
                or not _linked(path, info)):  # a hard link may be any file of this user's: never write through it
            raise StateFileError("%s is not a file of ours" % path)
        if info.st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)
        if not info.st_size:
            return None
        doc = decode_json(os.pread(fd, info.st_size, 0), self.key, "a shared answer")  # None: torn or foreign
        if (not isinstance(doc, dict) or doc.get("version") != ANSWER_VERSION or doc.get("question") != ident
                or doc.get("pid") == os.getpid() or "answer" not in doc):
            return None
        asked_at = doc.get("asked_at")
        answered_at = doc.get("answered_at")
        if not isinstance(asked_at, (int, float)) or not isinstance(answered_at, (int, float)):
            return None
        now = time.time()
        if asked_at > now or (answered_at < waited_from and now - asked_at >= MAX_AGE):
            return None
        return (doc["answer"],)

    def _write(self, fd, path, ident, answer, asked_at):
        """Keep ``answer`` for the task's other workers, unless the file was removed meanwhile (a
        module wrote: the answer may predate that). Failing to keep it only costs requests."""
        doc = {"version": ANSWER_VERSION, "question": ident, "pid": os.getpid(), "asked_at": asked_at,
               "answered_at": time.time(), "answer": answer}
        data = encode_json(doc, self.key)
        with contextlib.suppress(OSError):
            if not _linked(path, os.fstat(fd)):
                return
            os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.pwrite(fd, view, len(data) - len(view)):]

    def _remove_stale(self, keep):
        """Remove the answers of controllers that are gone, and any older than STALE_AFTER."""
        now = time.time()
        prefix = os.path.basename(self.state_path) + ANSWER_INFIX
        for path in answer_files(self.state_path):
            if path == keep:
                continue
            pid = os.path.basename(path)[len(prefix):].split("-", 1)[0]
            with contextlib.suppress(OSError):
                if not (pid.isdigit() and _alive(int(pid))) or now - os.lstat(path).st_mtime > STALE_AFTER:
                    os.unlink(path)


def _linked(path, info):
    """True while ``path`` still names the open file ``info`` describes."""
    try:
        here = os.lstat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (info.st_dev, info.st_ino)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True
