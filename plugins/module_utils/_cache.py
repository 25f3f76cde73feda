# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sync cache shared by processes: what the sync endpoint returned, and when.

``<state_dir>/<access_token_id>.bws-secrets-cache`` holds, encrypted with the token key
like the state file (0600, atomic, written under the same directory lock), the secrets exactly as
the server sent them (ciphertext) plus the time of the sync, and their key names decrypted once
when stored, so that a lookup by name does not decrypt every key again. A lookup answers from it:
* with no request while it is younger than ``ttl`` seconds (0: never);
* after one ``sync?lastSyncedDate=`` that says nothing changed;
and otherwise stores what a sync returned. Any error, doubt, foreign or corrupt file means
a full fetch; a stale cache is never served. A module that writes through the same token
removes the file (``discard``), so lookups within ``ttl`` see its change.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import datetime
import os
import time

from ._errors import ApiError, BWSSDKError, StateFileError
from ._models import Secret
from ._state import LOCK_TIMEOUT, dir_lock, ensure_dir, load_encrypted_json, remove_under_lock, save_encrypted_json

CACHE_SUFFIX = ".bws-secrets-cache"
CACHE_VERSION = 3  # 2: with "keys", the key names; 3: synced_at on the server's clock


def cache_path(state_path):
    """The cache file beside a state file."""
    return state_path + CACHE_SUFFIX


def discard(state_path, lock_timeout=LOCK_TIMEOUT):
    """Remove the cache beside ``state_path`` after a write through the same token: the next
    lookup fetches afresh. Always under the lock, even when there is no file yet: a lookup
    filling a missing cache holds it, and what it saves may predate the write. Raises StateFileError."""
    path = cache_path(state_path)
    if os.path.isdir(os.path.dirname(path)):
        remove_under_lock(os.path.dirname(path), [path], "cache file", lock_timeout)


class SecretsCache:
    """Every secret visible to the machine account, kept fresh through the sync endpoint."""

    def __init__(self, client, path, ttl=0, lock_timeout=LOCK_TIMEOUT):
        self.client = client
        self.path = path
        self.directory = os.path.dirname(path)
        self.ttl = ttl or 0
        self.lock_timeout = lock_timeout
        self.key = client.auth.client_token.encryption_key
        self.requests = 0
        self.fetched_all = False  # this process got every secret from the server (not "no changes")
        self._seen = None  # the file's identity when last read (see _save)

    def secrets(self, everything=False):
        """[Secret] with values; raises StateFileError if the cache cannot be used at all.
        ``everything``: fetch every secret afresh, whatever the cache holds (BWSLookupBase.with_cache
        does when a name is not found in a cache confirmed by "no changes").

        The file is only ever replaced whole (temp file and rename), so it is read without the
        lock. With ``ttl`` 0 every process asks the sync endpoint anyway, so a present cache is
        confirmed without the lock too: forks do not queue behind each other's request. The lock
        is taken to write, to fill a missing cache once for all processes, and with a ``ttl`` to
        confirm an expired cache once for all of them.
        """
        ensure_dir(self.directory)
        if everything:
            self._load()  # what _save compares with
            if self._seen is not None:  # without the lock, as a confirm with ttl 0: _save keeps a file written meanwhile
                return self._decoded(self._synced(None))
            with dir_lock(self.directory, self.lock_timeout):  # no file: a module's discard must not pass unseen
                self._load()
                return self._decoded(self._synced(None))
        doc = self._load()
        if doc is not None and self._fresh(doc):
            return self._decoded(doc)
        if doc is None or self.ttl > 0:
            with dir_lock(self.directory, self.lock_timeout):
                doc = self._load()  # another process may have filled or confirmed it meanwhile
                if doc is None or not self._fresh(doc):
                    doc = self._synced(doc)
        else:
            doc = self._synced(doc)
        return self._decoded(doc)

    def _fresh(self, doc):
        return self.ttl > 0 and 0 <= time.time() - doc["fetched_at"] < self.ttl

    def _synced(self, doc):
        """The cache confirmed or replaced by the sync endpoint (a full fetch when ``doc`` is None).
        ``synced_at`` is on the server's clock (``sync_raw``'s ``as_of``), never this machine's."""
        now = time.time()
        data = None
        if doc is not None:
            try:
                self.requests += 1
                changed, data, as_of = self.client.sync_raw(_parse_time(doc["synced_at"]))
            except ApiError as exc:
                if exc.status != 400:  # 400: a date the server finds in its future; fetch all
                    raise
                changed = True
            if not changed:
                if self.ttl > 0:  # only the TTL needs to know when the cache was last confirmed
                    doc.update(fetched_at=now, synced_at=as_of.isoformat())
                    self._save(doc)
                return doc  # else the old sync date stays valid: no rewrite
        if data is None:
            self.requests += 1
            _changed, data, as_of = self.client.sync_raw(None)
        self.fetched_all = True
        doc = {"version": CACHE_VERSION, "api_url": self.client.api_url, "org_id": self.client.org_id,
               "synced_at": as_of.isoformat(), "fetched_at": now, "secrets": data,
               "keys": _key_names(data, self.client.auth.org_enc_key)}
        self._save(doc)
        return doc

    def _load(self):
        self._seen = _identity(self.path)  # taken first: a file replaced meanwhile looks changed
        doc = load_encrypted_json(self.path, self.key, "the cache file")
        if not isinstance(doc, dict) or doc.get("version") != CACHE_VERSION:
            return None
        if doc.get("api_url") != self.client.api_url or doc.get("org_id") != self.client.org_id:
            return None
        if not isinstance(doc.get("secrets"), list) or not isinstance(doc.get("fetched_at"), (int, float)):
            return None
        keys = doc.get("keys")
        if (not isinstance(keys, list) or len(keys) != len(doc["secrets"])
                or not all(name is None or isinstance(name, str) for name in keys)):
            return None
        if _parse_time(doc.get("synced_at")) is None:
            return None
        return doc

    def _save(self, doc):
        """Write ``doc``, unless the file changed since ``_load`` read it: another process wrote a
        cache as fresh, or a module's write discarded it while this process, reading without the
        lock, was fetching what may predate that write. Either way, skipping only costs a request."""
        try:
            with dir_lock(self.directory, self.lock_timeout):  # re-entrant: often held already
                if _identity(self.path) != self._seen:
                    return
                save_encrypted_json(self.path, self.key, doc)
                self._seen = _identity(self.path)
        except StateFileError:
            pass  # an unwritable cache only costs requests next time

    def _decoded(self, doc):
        key = self.client.auth.org_enc_key
        return [Secret.from_api(raw, key, name) for raw, name in zip(doc["secrets"], doc["keys"])]


def _key_names(raws, org_key):
    """The decrypted key of each secret the server sent; None for one whose key does not
    decrypt (or a malformed entry): a lookup that needs it decrypts it then, and reports why."""
    names = []
    for raw in raws:
        try:
            names.append(Secret.from_api(raw, org_key).key)
        except BWSSDKError:
            names.append(None)
    return names


def _identity(path):
    """(inode, mtime) of the file at ``path``, None when there is none: files are replaced by
    rename, so any write or removal changes it."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def _parse_time(text):
    try:
        when = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else None
