# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decrypted API objects with snake_case fields, and the limits checked before sending."""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

from ._crypto import decrypt_text
from ._errors import ApiError, BWSSDKError

# Limits the official SDK checks before it sends (key, note and name are trimmed first).
KEY_MAX = 500
VALUE_MAX = 25000
NOTE_MAX = 7000
PROJECT_NAME_MAX = 500
# The server's own limits, on the encrypted text ([EncryptedStringLength] of its request
# models): non-ASCII text within the limits above can still exceed them once encrypted.
ENCRYPTED_MAX = {"key": 1000, "value": 35000, "note": 10000, "name": 1000}


def check_encrypted_length(field, encrypted, what):
    """Raise BWSSDKError when ``encrypted`` (an EncString of ``field``) is longer than the server takes."""
    limit = ENCRYPTED_MAX[field]
    if len(encrypted) > limit:
        raise BWSSDKError("the %s of %s is %d characters long once encrypted; the server's limit is %d (each "
                          "non-ASCII character takes 2 to 4 bytes): shorten it" % (field, what, len(encrypted), limit))
    return encrypted


_UNSET = object()
PROJECT_FIELDS = ("id", "organization_id", "name", "creation_date", "revision_date")
SECRET_FIELDS = ("id", "organization_id", "project_id", "key", "value", "note",
                 "creation_date", "revision_date")


def validate_secret_input(key, value, note):
    """Return (key, value, note) as they will be sent, or raise BWSSDKError naming the field."""
    key = (key or "").strip()
    note = (note or "").strip()
    if not key:
        raise BWSSDKError("a secret key must not be empty")
    if len(key) > KEY_MAX:
        raise BWSSDKError("secret key %r... is %d characters long; the limit is %d" % (key[:20], len(key), KEY_MAX))
    if value is None or value == "":
        raise BWSSDKError("the value of secret %r must not be empty" % key)
    if len(value) > VALUE_MAX:
        raise BWSSDKError("the value of secret %r is %d characters long; the limit is %d"
                          % (key, len(value), VALUE_MAX))
    if len(note) > NOTE_MAX:
        raise BWSSDKError("the note of secret %r is %d characters long; the limit is %d" % (key, len(note), NOTE_MAX))
    return key, value, note


def validate_project_name(name):
    name = (name or "").strip()
    if not name:
        raise BWSSDKError("a project name must not be empty")
    if len(name) > PROJECT_NAME_MAX:
        raise BWSSDKError("project name %r... is %d characters long; the limit is %d"
                          % (name[:20], len(name), PROJECT_NAME_MAX))
    return name


def _field(raw, name, what):
    value = raw.get(name)
    if not isinstance(value, str):
        raise ApiError("the server's answer for %s has no %r field" % (what, name))
    return value


def _text(raw, name):
    """An informational field (an id or a date): its text, or None when missing or not text."""
    value = raw.get(name)
    return value if isinstance(value, str) else None


def _project_refs(raw, what):
    """[(project id, encrypted project name or None)] of a secret as the server sent them."""
    projects = raw.get("projects") or []
    if not isinstance(projects, list) or not all(isinstance(p, dict) for p in projects):
        raise ApiError("the server's answer for %s has a malformed 'projects' field" % what)
    refs = []
    for project in projects:
        pid, name = project.get("id"), project.get("name")
        if not isinstance(pid, str) or not (name is None or isinstance(name, str)):
            raise ApiError("the server's answer for %s has a malformed project reference" % what)
        refs.append((pid, name))
    if not refs and raw.get("projectId") is not None:
        if not isinstance(raw["projectId"], str):
            raise ApiError("the server's answer for %s has a malformed 'projectId'" % what)
        refs = [(raw["projectId"], None)]
    return refs


class Secret:
    """A secret. Key, value and note are decrypted, and its projects read, on first access (value
    and note are None when the server sent none, as in list results): a lookup by id among the
    thousands of secrets of the sync cache does that only for those it returns."""

    __slots__ = ("id", "organization_id", "creation_date", "revision_date",
                 "_raw", "_org_key", "_key", "_value", "_note", "_refs", "_pids")

    @classmethod
    def from_api(cls, raw, key, plain_key=None):
        """``plain_key``: the key already decrypted (by the sync cache, which keeps the key names
        of what it holds inside its own encrypted, authenticated file), or None."""
        if not isinstance(raw, dict):
            raise ApiError("the server sent a secret that is not an object")
        self = cls()
        self.id = _field(raw, "id", "a secret")
        self.organization_id = _text(raw, "organizationId")
        _field(raw, "key", "secret " + self.id)
        self.creation_date = _text(raw, "creationDate")
        self.revision_date = _text(raw, "revisionDate")
        self._raw, self._org_key, self._value, self._note = raw, key, _UNSET, _UNSET
        self._key = plain_key if isinstance(plain_key, str) else _UNSET
        self._refs = self._pids = None
        return self

    @property
    def raw(self):
        """The secret as the server sent it (key, value and note encrypted)."""
        return self._raw

    def _read_projects(self):
        if self._refs is None:
            refs = _project_refs(self._raw, "secret " + self.id)
            self._refs, self._pids = refs, [ref[0] for ref in refs]

    @property
    def project_refs(self):
        """[(project id, encrypted project name or None)], as the server sent them."""
        self._read_projects()
        return self._refs

    @property
    def project_ids(self):
        self._read_projects()
        return self._pids

    @property
    def project_id(self):
        ids = self.project_ids
        return ids[0] if ids else None

    @property
    def key(self):
        if self._key is _UNSET:
            self._key = decrypt_text(self._org_key, self._raw["key"], "the key of secret " + self.id)
        return self._key

    @property
    def has_value(self):
        return self._raw.get("value") is not None

    @property
    def value(self):
        if self._value is _UNSET:
            enc = self._raw.get("value")
            self._value = None if enc is None else decrypt_text(self._org_key, enc, "the value of secret " + self.id)
        return self._value

    @property
    def note(self):
        if self._note is _UNSET:
            enc = self._raw.get("note")
            if enc:
                self._note = decrypt_text(self._org_key, enc, "the note of secret " + self.id)
            else:
                self._note = "" if self.has_value else None
        return self._note

    def to_dict(self):
        return dict((name, getattr(self, name)) for name in SECRET_FIELDS)


class Project:
    """A project, its name decrypted."""

    __slots__ = ("id", "organization_id", "name", "creation_date", "revision_date", "read", "write")

    @classmethod
    def from_api(cls, raw, key):
        if not isinstance(raw, dict):
            raise ApiError("the server sent a project that is not an object")
        self = cls()
        self.id = _field(raw, "id", "a project")
        self.organization_id = _text(raw, "organizationId")
        self.name = decrypt_text(key, _field(raw, "name", "project " + self.id), "the name of project " + self.id)
        self.creation_date = _text(raw, "creationDate")
        self.revision_date = _text(raw, "revisionDate")
        # access of this machine account, when the server says (None: unknown)
        self.read = raw.get("read") if isinstance(raw.get("read"), bool) else None
        self.write = raw.get("write") if isinstance(raw.get("write"), bool) else None
        return self

    def to_dict(self):
        return dict((name, getattr(self, name)) for name in PROJECT_FIELDS)
