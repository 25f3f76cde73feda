"""The state file: official format, permissions, atomic writes and the lock, on real files."""

import multiprocessing
import os
import stat
import time

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._crypto import decrypt_text, encrypt_text
from ansible_collections.bws.secrets.plugins.module_utils._errors import StateFileError
from ansible_collections.bws.secrets.plugins.module_utils._state import StateFile, dir_lock, state_file_path
from ansible_collections.bws.secrets.plugins.module_utils._token import ClientToken

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln"
ORG_KEY = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vA=="


@pytest.fixture()
def token(vectors):
    return ClientToken.from_str(vectors["access_token"]["token"])


def test_path_naming_matches_bws_cli(token, tmp_path):
    assert state_file_path(str(tmp_path), token.access_token_id) == str(tmp_path / token.access_token_id)
    assert state_file_path(None, "x").endswith(os.path.join(".config", "bws", "state", "x"))


def test_roundtrip_format_and_modes(token, tmp_path):
    directory = tmp_path / "deep" / "state"
    state = StateFile(str(directory / token.access_token_id), token.encryption_key)
    with state.locked():
        state.save(JWT, ORG_KEY)
    raw = (directory / token.access_token_id).read_text()
    assert raw.startswith("2.") and not raw.endswith("\n")
    assert decrypt_text(token.encryption_key, raw) == \
        '{"version":1,"token":"%s","encryption_key":"%s"}' % (JWT, ORG_KEY)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(directory / token.access_token_id).st_mode) == 0o600
    assert state.load() == (JWT, ORG_KEY)
    assert os.listdir(directory) == [token.access_token_id]  # no temp file left


def test_reads_official_sdk_file_and_tightens_permissions(vectors, token, tmp_path):
    path = tmp_path / token.access_token_id
    path.write_text(vectors["state_file"]["official_sdk"]["raw"])
    os.chmod(path, 0o644)
    loaded = StateFile(str(path), token.encryption_key).load()
    assert loaded[1] == vectors["organization"]["org_key_b64"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("content", [
    "", "garbage", "2.AAAA|BBBB|CCCC", "2.partial-file-trunc",
])
def test_corrupt_files_are_ignored(token, tmp_path, content):
    path = tmp_path / token.access_token_id
    path.write_text(content)
    assert StateFile(str(path), token.encryption_key).load() is None


def test_foreign_token_file_is_ignored(token, tmp_path):
    other = ClientToken.from_str("0.7e000000-0000-4000-8000-000000000009.x:" + "B" * 22 + "==")
    path = tmp_path / token.access_token_id
    StateFile(str(path), other.encryption_key).save(JWT, ORG_KEY)
    assert StateFile(str(path), token.encryption_key).load() is None


def test_wrong_version_or_shape_is_ignored(token, tmp_path):
    path = tmp_path / token.access_token_id
    for doc in ('{"version":2,"token":"a","encryption_key":"b"}', '["x"]', '{"version":1}', "not json"):
        path.write_text(encrypt_text(token.encryption_key, doc))
        assert StateFile(str(path), token.encryption_key).load() is None


def test_symlink_is_not_followed(token, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("precious")
    link = tmp_path / token.access_token_id
    link.symlink_to(target)
    state = StateFile(str(link), token.encryption_key)
    assert state.load() is None
    state.save(JWT, ORG_KEY)
    assert target.read_text() == "precious"
    assert not link.is_symlink() and state.load() == (JWT, ORG_KEY)


def test_a_hard_link_is_neither_read_nor_tightened_nor_written_through(token, tmp_path):
    """A hard link planted as the state file (a directory others can write to) may be any file of
    this user's: it is not read, its mode is not changed, and saving replaces the link."""
    victim = tmp_path / "victim"
    victim.write_text("a file of the user's, world-readable on purpose")
    victim.chmod(0o644)
    link = tmp_path / token.access_token_id
    os.link(str(victim), str(link))
    state = StateFile(str(link), token.encryption_key)
    assert state.load() is None
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    state.save(JWT, ORG_KEY)
    assert victim.read_text() == "a file of the user's, world-readable on purpose"
    assert link.stat().st_nlink == 1 and state.load() == (JWT, ORG_KEY)


def test_unwritable_directory(token, tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        path = blocker / "state" / token.access_token_id  # a directory under a file cannot exist
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        path = locked / "state" / token.access_token_id
    with pytest.raises(StateFileError):
        with StateFile(str(path), token.encryption_key).locked():
            pass


def test_a_fifo_in_place_of_the_state_file_is_ignored_not_waited_on(token, tmp_path):
    fifo = tmp_path / token.access_token_id
    os.mkfifo(str(fifo))
    started = time.monotonic()
    assert StateFile(str(fifo), token.encryption_key).load() is None  # open() without O_NONBLOCK blocks here
    assert time.monotonic() - started < 5


def test_no_home_directory_is_a_clear_error_not_a_directory_named_tilde(token, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # HOME unset, uid not in passwd
    with pytest.raises(StateFileError, match="no home directory.*set state_dir"):
        state_file_path(None, token.access_token_id)
    assert state_file_path(str(tmp_path / "s"), "x") == str(tmp_path / "s" / "x")


def _hold_lock(directory, ready, seconds):
    with dir_lock(directory, 5):
        ready.set()
        time.sleep(seconds)


def _hold_and_die(directory, ready):
    with dir_lock(directory, 5):
        ready.set()
        time.sleep(60)


def test_lock_excludes_other_processes(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, 1.0))
    holder.start()
    assert ready.wait(10)
    with pytest.raises(StateFileError, match="timed out"):
        with dir_lock(str(tmp_path), 0.2):
            pass
    holder.join(10)
    with dir_lock(str(tmp_path), 5):
        pass


def test_lock_of_killed_holder_is_released(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_and_die, args=(str(tmp_path), ready))
    holder.start()
    assert ready.wait(10)
    holder.kill()
    holder.join(10)
    with dir_lock(str(tmp_path), 2):
        pass


def test_any_cache_the_client_can_write_can_be_read_back():
    """The largest sync answer the client accepts, with its key names (each shorter than its
    ciphertext in the answer, so at most 3/4 of the answer), encrypted again into the cache
    (base64: 4/3 larger, plus the EncString's IV and MAC), stays under the largest file the client
    reads: a cache it wrote is never refused, leaving every lookup to fetch everything again."""
    from ansible_collections.bws.secrets.plugins.module_utils import _http, _state

    plaintext = _http.MAX_ANSWER_BYTES + _http.MAX_ANSWER_BYTES * 3 // 4 + 4096  # + the document's other fields
    assert (plaintext + 16) * 4 // 3 + 200 < _state.MAX_FILE_BYTES
