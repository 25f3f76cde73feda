"""Answers shared by the hosts of one task: real files, real forked processes, real flocks."""

import json
import multiprocessing
import os
import stat
import time

import pytest

from ansible_collections.bws.secrets.plugins.module_utils import _task_answers
from ansible_collections.bws.secrets.plugins.module_utils._crypto import SymmetricCryptoKey
from ansible_collections.bws.secrets.plugins.module_utils._errors import NotFoundError
from ansible_collections.bws.secrets.plugins.module_utils._task_answers import ANSWER_INFIX, TaskAnswers, discard

KEY = SymmetricCryptoKey(bytes(range(32)), bytes(range(32, 64)))
OTHER_KEY = SymmetricCryptoKey(bytes(range(1, 33)), bytes(range(33, 65)))
ANSWER = {"secrets": [{"id": "secret-1", "key": "2.enc-key", "value": "2.enc-value"}]}
CTX = multiprocessing.get_context("fork")


@pytest.fixture()
def state(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    return str(directory / "token-id")


def _answers(state, task="task-1", controller=None, key=KEY):
    return TaskAnswers(state, key, controller or os.getpid(), task, lock_timeout=10)


class Asker:
    """An ``ask`` that records each call (time and pid) in a file, so calls made in other
    processes are counted too."""

    def __init__(self, log, seconds=0.0, error=None):
        self.log, self.answer, self.seconds, self.error = str(log), ANSWER, seconds, error

    def __call__(self):
        started = time.time()
        time.sleep(self.seconds)
        with open(self.log, "a") as handle:
            handle.write(json.dumps([os.getpid(), started, time.time()]) + "\n")
        if self.error:
            raise self.error
        return self.answer

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            return [json.loads(line) for line in handle]


def _in_child(function, *args):
    """Run ``function(*args)`` in a forked process; return what it returned (as JSON)."""
    reader, writer = CTX.Pipe(duplex=False)

    def target():
        try:
            writer.send(["ok", function(*args)])
        except Exception as exc:  # noqa: BLE001 - sent back to the test
            writer.send(["error", "%s: %s" % (type(exc).__name__, exc)])

    process = CTX.Process(target=target)
    process.start()
    result = reader.recv()
    process.join(10)
    return result


def _files(state):
    directory, prefix = os.path.split(state)
    return sorted(n for n in os.listdir(directory) if n.startswith(prefix + ANSWER_INFIX))


def test_another_process_of_the_task_gets_the_answer_without_asking(state, tmp_path):
    ask = Asker(tmp_path / "calls")
    controller = os.getpid()
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 1
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 1  # the second process read the first one's answer

    (name,) = _files(state)
    path = os.path.join(os.path.dirname(state), name)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        text = handle.read()
    # encrypted whole ("-" is no base64 character, so neither can appear by chance)
    assert text.startswith("2.") and "enc-value" not in text and "secret-1" not in text


def test_the_asking_process_another_task_or_question_asks_again(state, tmp_path):
    ask = Asker(tmp_path / "calls")
    answers = _answers(state)
    assert answers.answer(["q"], ask) == ANSWER
    assert answers.answer(["q"], ask) == ANSWER  # the same process asks again: the server is asked
    assert len(ask.calls()) == 2
    controller = os.getpid()
    _in_child(lambda: _answers(state, task="task-2", controller=controller).answer(["q"], ask))
    _in_child(lambda: _answers(state, controller=controller).answer(["q", "other"], ask))
    assert len(ask.calls()) == 4
    assert len(_files(state)) == 3


def _workers_answer(state, ask, delays):
    """One forked worker of a task per delay, released together; each waits its delay, then asks
    for the answer to the same question. Returns what they got."""
    controller = os.getpid()
    start, results = CTX.Event(), CTX.Queue()

    def worker(delay):
        start.wait(10)
        time.sleep(delay)
        results.put(_answers(state, controller=controller).answer(["q"], ask))

    workers = [CTX.Process(target=worker, args=(delay,)) for delay in delays]
    for process in workers:
        process.start()
    start.set()
    got = [results.get(timeout=20) for _worker in workers]
    for process in workers:
        process.join(10)
    return got


def test_concurrent_workers_of_a_task_ask_once(state, tmp_path):
    """Six workers start together: one asks (slowly), five wait for its answer."""
    ask = Asker(tmp_path / "calls", seconds=0.3)
    assert _workers_answer(state, ask, [0] * 6) == [ANSWER] * 6
    assert len(ask.calls()) == 1


def test_different_questions_do_not_wait_for_each_other(state, tmp_path):
    """Each question has its own lock: two slow askers of different questions overlap."""
    ask = Asker(tmp_path / "calls", seconds=0.5)
    controller = os.getpid()
    start = CTX.Event()

    def worker(question):
        start.wait(10)
        _answers(state, controller=controller).answer([question], ask)

    workers = [CTX.Process(target=worker, args=(q,)) for q in ("a", "b")]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(20)
    (_pid_a, start_a, end_a), (_pid_b, start_b, end_b) = ask.calls()
    assert start_b < end_a and start_a < end_b


def test_an_answer_older_than_max_age_is_not_used(state, tmp_path, monkeypatch):
    monkeypatch.setattr(_task_answers, "MAX_AGE", 0.3)
    ask = Asker(tmp_path / "calls")
    controller = os.getpid()
    _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask))
    _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask))
    assert len(ask.calls()) == 1
    time.sleep(0.4)
    _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask))
    assert len(ask.calls()) == 2


def test_an_answer_that_came_while_waiting_is_used_whatever_its_age(state, tmp_path, monkeypatch):
    """An ask that lasts longer than MAX_AGE (a failure after several long tries): the workers
    that waited for it, from before it began or from while it ran, use it and do not ask again."""
    monkeypatch.setattr(_task_answers, "MAX_AGE", 0.2)
    ask = Asker(tmp_path / "calls", seconds=0.6)
    assert _workers_answer(state, ask, [0, 0.1, 0.3, 0.4]) == [ANSWER] * 4
    assert len(ask.calls()) == 1
    controller = os.getpid()
    time.sleep(0.3)  # a worker that begins to wait after the answer came still goes by its age
    _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask))
    assert len(ask.calls()) == 2


def test_a_failed_ask_is_not_shared(state, tmp_path):
    failing = Asker(tmp_path / "failing", error=NotFoundError("secret x: not found", status=404))
    with pytest.raises(NotFoundError):
        _answers(state).answer(["q"], failing)
    ask = Asker(tmp_path / "calls")
    controller = os.getpid()
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 1


@pytest.mark.parametrize("content", [b"", b"2.garbage|not|base64", b"\xff\xfe", b"{}"])
def test_a_torn_or_foreign_answer_means_asking(state, tmp_path, content):
    ask = Asker(tmp_path / "calls")
    controller = os.getpid()
    _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask))
    (name,) = _files(state)
    with open(os.path.join(os.path.dirname(state), name), "wb") as handle:
        handle.write(content)
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 2
    # and the answer written over it serves the next process
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 2


def test_an_answer_under_another_key_is_not_used(state, tmp_path):
    ask = Asker(tmp_path / "calls")
    controller = os.getpid()
    _in_child(lambda: _answers(state, controller=controller, key=OTHER_KEY).answer(["q"], ask))
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 2


def _answer_path_emptied(state, tmp_path):
    """(ask, controller, path): one answer asked in a child, then its file removed, so that the
    test can plant something in its place."""
    ask = Asker(tmp_path / "calls")
    controller = os.getpid()
    _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask))
    (name,) = _files(state)
    path = os.path.join(os.path.dirname(state), name)
    os.unlink(path)
    return ask, controller, path


def test_symlink_or_directory_in_the_way_means_asking_without_sharing(state, tmp_path):
    ask, controller, path = _answer_path_emptied(state, tmp_path)
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.symlink(str(target), path)
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert target.read_text() == ""  # never written through the link
    os.unlink(path)
    os.mkdir(path)
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert len(ask.calls()) == 3


def test_a_hard_link_in_the_way_is_never_written_through(state, tmp_path):
    """A hard link planted where the answer goes (a state directory others can write to) may be
    any file of this user's: the worker asks, and leaves that file as it was."""
    ask, controller, path = _answer_path_emptied(state, tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("the user's own file")
    victim.chmod(0o644)
    os.link(str(victim), path)
    assert _in_child(lambda: _answers(state, controller=controller).answer(["q"], ask)) == ["ok", ANSWER]
    assert victim.read_text() == "the user's own file" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert len(ask.calls()) == 2


def test_a_lock_held_too_long_means_asking_without_waiting_more(state, tmp_path):
    ask = Asker(tmp_path / "calls", seconds=3)
    controller = os.getpid()
    holder = CTX.Process(target=lambda: _answers(state, controller=controller).answer(["q"], ask))
    holder.start()
    while not _files(state):
        time.sleep(0.01)
    quick = Asker(tmp_path / "quick")
    started = time.monotonic()
    answers = TaskAnswers(state, KEY, controller, "task-1", lock_timeout=0.2)
    assert _in_child(lambda: answers.answer(["q"], quick)) == ["ok", ANSWER]
    assert len(quick.calls()) == 1 and time.monotonic() - started < 2.5
    holder.join(10)


def test_discard_removes_every_answer_of_the_token(state, tmp_path):
    ask = Asker(tmp_path / "calls")
    answers = _answers(state)
    answers.answer(["a"], ask)
    answers.answer(["b"], ask)
    unrelated = os.path.join(os.path.dirname(state), "other-token" + ANSWER_INFIX + "1-x")
    open(unrelated, "w").close()
    assert len(_files(state)) == 2
    discard(state)
    assert _files(state) == [] and os.path.exists(unrelated)
    discard(state)  # nothing left: fine


def test_answers_of_gone_controllers_and_old_ones_are_removed(state, tmp_path):
    directory = os.path.dirname(state)
    gone = CTX.Process(target=lambda: None)
    gone.start()
    gone.join(10)
    dead = state + ANSWER_INFIX + "%d-deadbeef" % gone.pid
    old = state + ANSWER_INFIX + "%d-0000" % os.getpid()
    live = state + ANSWER_INFIX + "%d-1111" % os.getpid()
    for path in (dead, old, live):
        open(path, "w").close()
    os.utime(old, (time.time() - _task_answers.STALE_AFTER - 5,) * 2)
    _answers(state).answer(["q"], Asker(tmp_path / "calls"))
    left = _files(state)
    assert os.path.basename(live) in left and len(left) == 2
    assert not os.path.exists(dead) and not os.path.exists(old)
    assert os.path.isdir(directory)
