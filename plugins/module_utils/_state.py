# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files beside the login: the state file shared with the official SDK and ``bws``.

``<state_dir>/<access_token_id>`` holds one type-2 EncString, encrypted with the token
key, of ``{"version":1,"token":"<JWT>","encryption_key":"<b64 org key>"}``: the official
format, so a file either side wrote is reused by the other.

We do better than the official writer: the directory is created 0700, files are written
0600 to a temp file in the same directory, fsynced and renamed over the old one (never
following a symlink), and an exclusive ``flock`` on the directory serialises
"read, maybe log in, write" across processes. Anything unreadable is simply ``None``.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
import time

from ._crypto import decrypt_text, encrypt_text
from ._errors import BWSSDKError, StateFileError

DEFAULT_STATE_DIR = os.path.join("~", ".config", "bws", "state")
STATE_VERSION = 1
DIR_MODE = 0o700
FILE_MODE = 0o600
# A file larger than this is refused. The cache holds a sync answer (at most
# _http.MAX_ANSWER_BYTES, 256 MiB) and its key names (each shorter than its ciphertext in the
# answer), encrypted again (base64: 4/3 larger): at most 256 * 7/4 * 4/3 = 598 MiB.
MAX_FILE_BYTES = 1024 * 1024 * 600
_TMP_PREFIX = ".bws-tmp-"
LOCK_TIMEOUT = 120.0  # seconds a process waits for a lock before giving up
# the warning when a state file cannot be used (after what stopped it)
WITHOUT_STATE_FILE = ("continuing without a state file: each lookup and module logs in by itself and the hosts of a "
                      "task do not share answers; make it a writable directory, or set state_dir")
CREATE_LOCK_SUFFIX = ".bws-secrets-create-lock"  # beside the state file: modules' "find, else create"


def state_file_path(state_dir, access_token_id):
    """The state file of a token; StateFileError when ``~`` has no home to expand to (HOME
    unset and a user id that the password database does not know, as in some containers)."""
    directory = os.path.expanduser(state_dir or DEFAULT_STATE_DIR)
    if directory == "~" or directory.startswith("~" + os.sep):
        raise StateFileError("the state directory %s cannot be found: there is no home directory (HOME "
                             "is unset); set state_dir (BWS_STATE_DIR) or HOME" % directory)
    return os.path.join(directory, access_token_id)


def ensure_dir(path):
    """Create ``path`` (and parents) with mode 0700; raise StateFileError if unusable."""
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    except OSError as exc:
        if not os.path.lexists(path):
            raise StateFileError("cannot create the state directory %s (%s)" % (path, exc.strerror)) from None
    check_dir(path)


def check_dir(path):
    """Raise StateFileError unless ``path`` is a directory this process can write in."""
    if not os.path.isdir(path):
        raise StateFileError("the state directory %s is not a directory" % path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateFileError("the state directory %s is not writable" % path)


_HELD = {}  # directory -> depth: the lock is re-entrant within one process


@contextlib.contextmanager
def dir_lock(path, timeout):
    """Hold an exclusive flock on directory ``path`` (released if the holder dies).

    Re-entrant within a process (a login inside a cache update must not wait for itself).
    """
    key = os.path.abspath(path)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise StateFileError("cannot open the state directory %s (%s)" % (path, exc.strerror)) from None
    try:
        flock_wait(fd, timeout, path)
        _HELD[key] = 1
        _remove_stale_temp_files(path)
        try:
            yield
        finally:
            _HELD.pop(key, None)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def file_lock(path, timeout):
    """Hold an exclusive flock on the file at ``path``, created 0600 if missing (never through
    a symlink; released if the holder dies). Raises StateFileError."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                     FILE_MODE)
    except OSError as exc:
        raise StateFileError("cannot open the lock file %s (%s)" % (path, exc.strerror)) from None
    try:
        flock_wait(fd, timeout, path)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def flock_wait(fd, timeout, path, max_delay=0.1):
    """Take an exclusive flock on ``fd`` (a file or directory at ``path``), waiting at most
    ``timeout`` seconds (trying again after 5 ms, then twice as long each time, at most
    ``max_delay``); raise StateFileError when it cannot be had."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StateFileError("cannot lock %s (%s)" % (path, exc.strerror)) from None
            if time.monotonic() >= deadline:
                raise StateFileError("timed out after %gs waiting for the lock on %s" % (timeout, path)) from None
            time.sleep(delay)
            delay = min(delay * 2, max_delay)


def remove_under_lock(directory, paths, what, timeout):
    """Remove ``paths`` (in ``directory``) while holding the directory lock, which every write
    of the cache holds too; one already gone is fine. Raises StateFileError."""
    with dir_lock(directory, timeout):
        for path in paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StateFileError("cannot remove the %s %s (%s)" % (what, path, exc.strerror)) from None


def _remove_stale_temp_files(directory):
    """Every write happens under the directory lock: a temp file seen while holding it was left
    by a writer that died between creating and renaming it."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(_TMP_PREFIX):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def read_private(path):
    """Read a file we own, refusing symlinks and hard links and tightening loose permissions; None if
    absent (or not a file of ours: it is then replaced, never written through, by ``write_atomic``)."""
    try:
        # O_NONBLOCK: a FIFO planted at ``path`` would block open() until someone writes to it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return None
        raise StateFileError("cannot read %s (%s)" % (path, exc.strerror)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        if info.st_nlink > 1:  # a hard link planted here may be any file of this user's: neither read nor chmod it
            return None
        if info.st_mode & 0o077:
            try:
                os.fchmod(fd, FILE_MODE)
            except OSError:
                pass
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def write_atomic(path, data):
    """Write bytes to ``path`` 0600 via temp file + fsync + rename (replaces, never follows, a symlink)."""
    directory = os.path.dirname(path) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=directory)
    except OSError as exc:
        raise StateFileError("cannot write in %s (%s)" % (directory, exc.strerror)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StateFileError("cannot write %s (%s)" % (path, exc.strerror)) from None
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def decode_json(raw, key, what):
    """The JSON document in the bytes of an EncString file, or None if empty, foreign or corrupt."""
    if not raw:
        return None
    try:
        return json.loads(decrypt_text(key, raw.decode("ascii").strip(), what))
    except (BWSSDKError, ValueError, UnicodeDecodeError):
        return None


def encode_json(doc, key):
    """The bytes of an EncString file holding ``doc``."""
    return encrypt_text(key, json.dumps(doc, separators=(",", ":"))).encode("ascii")


def load_encrypted_json(path, key, what):
    """The JSON document in an EncString file, or None if missing, foreign or corrupt."""
    return decode_json(read_private(path), key, what)


def save_encrypted_json(path, key, doc):
    write_atomic(path, encode_json(doc, key))


class StateFile:
    """The official-format state file of one access token, under the directory lock."""

    def __init__(self, path, key, lock_timeout=LOCK_TIMEOUT):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.directory = os.path.dirname(self.path)
        self.key = key
        self.lock_timeout = lock_timeout
        self.written_at = None  # the modification time of the file ``load`` read (None: unknown)

    def locked(self):
        ensure_dir(self.directory)
        return dir_lock(self.directory, self.lock_timeout)

    def load(self):
        """(jwt, org_key_b64) from the file, or None if it is missing or not ours in any way.
        StateFileError for a directory this process cannot write: a file it could never renew
        (a JWT the server rejects, say) must not be used."""
        if os.path.lexists(self.directory):
            check_dir(self.directory)
        try:  # before reading: a file replaced in between then looks older, never newer
            self.written_at = os.lstat(self.path).st_mtime
        except OSError:
            self.written_at = None
        doc = load_encrypted_json(self.path, self.key, "the state file")
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            return None
        token, org_key = doc.get("token"), doc.get("encryption_key")
        if not isinstance(token, str) or not isinstance(org_key, str):
            return None
        return token, org_key

    def save(self, jwt_token, org_key_b64):
        save_encrypted_json(self.path, self.key,
                            {"version": STATE_VERSION, "token": jwt_token, "encryption_key": org_key_b64})
