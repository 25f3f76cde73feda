# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names to ids: projects by id or name, secrets by key name, in one request at most (and one
more, the project list, for a project that none of the visible secrets is in).

``match_project`` resolves against a project list the caller fetched. The secret finders
take a ``source`` (every visible secret with its value, e.g. the sync cache) and then send
nothing; without one, key names cost one sync request (every visible secret, values
included, kept nowhere) and ids alone one get-by-ids.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import fnmatch
import re
import uuid

from ._crypto import decrypt_text
from ._errors import AmbiguousError, BWSSDKError, NotFoundError


# Ids as the server writes them (8-4-4-4-12 hex digits): any other text is a key or project
# name, even one that uuid.UUID() would read (32 bare hex digits, braces, urn:uuid:).
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\Z")


def is_uuid(text):
    return bool(_CANONICAL_UUID.match(str(text)))


_DATE = re.compile(r"(.*?T\d\d:\d\d:\d\d)(?:[.,](\d+))?(.*)\Z")


def date_order(text):
    """A server date (``2026-11-28T00:26:51.76Z``) as text that sorts in time order: the server
    drops the trailing zeros of the fraction (and the fraction when it is zero), so raw strings
    do not (``51.76Z`` would sort after ``51.7683714Z``)."""
    found = _DATE.match(text or "")
    if not found:
        return text or ""
    whole, fraction, zone = found.groups()
    return "%s.%s%s" % (whole, (fraction or "").ljust(9, "0")[:9], zone)


def match_project(projects, ref):
    """The Project among ``projects`` whose id or name is ``ref``; clear errors otherwise."""
    ref = (ref or "").strip()
    if is_uuid(ref):
        ref = str(uuid.UUID(ref))
        for project in projects:
            if project.id == ref:
                return project
        raise NotFoundError("project %s: not found or not shared with this machine account" % ref, status=404)
    found = [p for p in projects if p.name == ref]
    if len(found) > 1:
        raise AmbiguousError("project name %r matches %d projects (%s): use the project id"
                             % (ref, len(found), ", ".join(p.id for p in found)))
    if not found:
        visible = sorted(p.name for p in projects)
        raise NotFoundError("project %r: not found or not shared with this machine account (visible: %s)"
                            % (ref, ", ".join(repr(n) for n in visible[:20]) or "none"), status=404)
    return found[0]


class SecretIndex:
    """Secrets (with or without values) indexed by key and project, project names decrypted once."""

    def __init__(self, secrets, key):
        self.secrets = list(secrets)
        self._key = key
        self._names = {}
        self.project_names = {}
        self.by_key = {}
        for secret in self.secrets:
            self.by_key.setdefault(secret.key, []).append(secret)
            for pid, enc_name in secret.project_refs:
                if pid not in self.project_names and enc_name:
                    self.project_names[pid] = self._name(enc_name, pid)

    def _name(self, enc_name, pid):
        if enc_name not in self._names:
            self._names[enc_name] = decrypt_text(self._key, enc_name, "the name of project %s" % pid)
        return self._names[enc_name]

    def project_ids(self, ref):
        """The id of the project whose id or name is ``ref``, among those these secrets belong to
        (a list of one); NotFoundError when none of them is in it (see ``_project_ids``),
        AmbiguousError when several projects have that name."""
        ref = (ref or "").strip()
        if is_uuid(ref):
            pid = ref.lower()
            if not any(pid in s.project_ids for s in self.secrets):
                raise NotFoundError("project %s: no secret visible to this machine account is in it (it is empty, "
                                    "not shared with the machine account, or does not exist)" % pid, status=404)
            return [pid]
        ids = [pid for pid, name in self.project_names.items() if name == ref]
        if not ids:
            raise NotFoundError("project %r: no secret visible to this machine account is in a project of that "
                                "name; check the name or use the project id" % ref, status=404)
        if len(ids) > 1:
            raise AmbiguousError("project name %r matches %d projects (%s): use the project id"
                                 % (ref, len(ids), ", ".join(sorted(ids))))
        return ids

    def in_projects(self, project_ids):
        wanted = set(project_ids)
        return [s for s in self.secrets if wanted.intersection(s.project_ids)]

    def find(self, key, project_ids=None, scope="the secrets visible to this machine account"):
        """The one secret with this key (within ``project_ids`` if given); clear errors otherwise."""
        candidates = self.by_key.get(key, [])
        if project_ids is not None:
            wanted = set(project_ids)
            candidates = [s for s in candidates if wanted.intersection(s.project_ids)]
        if not candidates:
            raise NotFoundError("secret key %r: not found in %s" % (key, scope), status=404)
        if len(candidates) > 1:
            where = sorted(set(self.describe_project(pid) for s in candidates for pid in s.project_ids))
            ids = ", ".join(s.id for s in candidates)
            advice = ("use the secret id (%s)" % ids if project_ids is not None
                      else "set 'project' to choose one, or use the secret id (%s)" % ids)
            raise AmbiguousError("secret key %r matches %d secrets (in projects %s): %s"
                                 % (key, len(candidates), ", ".join(where), advice))
        return candidates[0]

    def describe_project(self, pid):
        name = self.project_names.get(pid)
        return "%r (%s)" % (name, pid) if name else pid


def _project_ids(index, client, ref):
    """``index.project_ids(ref)``; when no visible secret is in that project, the project list
    (one request) tells an empty project, which is no error, from one not found or not shared
    with the machine account, which is (naming the visible ones)."""
    try:
        return index.project_ids(ref)
    except NotFoundError:
        return [match_project(client.list_projects(), ref).id]


def _scope(project):
    return "project %r" % project if project else "the secrets visible to this machine account"


def _everything(client):
    """Every secret visible to the machine account, values included, in one request (sync):
    a lookup by names then costs one request however many names, as with the cache."""
    return client.sync()[1] or []


def find_secrets(client, terms, project=None, source=None, missing=None):
    """Secrets for terms that are ids or key names, in term order.

    With ``source`` (secrets with values, e.g. from the sync cache) no request is sent.
    Otherwise key names cost one sync request in all, and ids alone one get-by-ids.
    A term that matches nothing raises NotFoundError; with ``missing`` (a list) it is appended
    there and gives None instead. An ambiguous name, or a project not found, still raises.
    """
    terms = [str(t).strip() for t in terms]
    names = [t for t in terms if not is_uuid(t)]
    index = None
    if names:  # ids alone need no index: their keys are never decrypted for resolution
        if source is None:
            source = _everything(client)
        index = SecretIndex(source, client.auth.org_enc_key)
    project_ids = _project_ids(index, client, project) if (index is not None and project) else None
    chosen = []
    for term in terms:
        if is_uuid(term):
            chosen.append(str(uuid.UUID(term)))
            continue
        try:
            chosen.append(index.find(term, project_ids, _scope(project)).id)
        except NotFoundError:
            if missing is None:
                raise
            missing.append(term)
            chosen.append(None)
    if source is None:
        ids = [i for i in chosen if i is not None]
        got = iter(client.get_secrets(ids, missing=missing) if ids else [])
        return [next(got) if i is not None else None for i in chosen]
    by_id = dict((s.id, s) for s in source)  # keys are decrypted only for the secrets returned
    absent = [i for i in chosen if i is not None and i not in by_id]
    if absent and missing is None:
        raise NotFoundError("secret %s: not found or not shared with this machine account" % ", ".join(absent),
                            status=404)
    if missing is not None:
        missing.extend(absent)
    return [by_id.get(i) if i is not None else None for i in chosen]


ON_DUPLICATE = ("error", "first", "last")


def secrets_dict(client, projects=None, patterns=None, on_duplicate="error", source=None):
    """{key: Secret} of the secrets in ``projects`` (ids or names; all when empty) whose key
    matches one of the glob ``patterns`` (all when empty); without ``source``, one sync request."""
    if on_duplicate not in ON_DUPLICATE:
        raise BWSSDKError("on_duplicate must be one of %s" % ", ".join(ON_DUPLICATE))
    projects = [p for p in (projects or []) if p]
    index = SecretIndex(source if source is not None else _everything(client), client.auth.org_enc_key)
    selected = index.secrets
    if projects:
        wanted = []
        for ref in projects:
            wanted.extend(_project_ids(index, client, ref))
        selected = index.in_projects(wanted)
    if patterns:
        selected = [s for s in selected if any(fnmatch.fnmatchcase(s.key, p) for p in patterns)]
    holders = {}  # key -> its secrets, oldest first
    for secret in sorted(selected, key=lambda s: (date_order(s.creation_date), s.id)):
        holders.setdefault(secret.key, []).append(secret)
    duplicated = [(key, held) for key, held in holders.items() if len(held) > 1]
    if duplicated and on_duplicate == "error":  # every such key, with every holder: one fix, not one per run
        described = "; ".join(
            "key %r is held by several secrets (%s, in %s)" % (key, ", ".join(s.id for s in held), ", ".join(
                sorted(set(index.describe_project(p) for s in held for p in s.project_ids))))
            for key, held in duplicated[:10])
        more = " and %d more keys" % (len(duplicated) - 10) if len(duplicated) > 10 else ""
        raise AmbiguousError("%s%s: set on_duplicate=first or last, narrow 'project' or 'keys', or rename one"
                             % (described, more))
    return dict((key, held[0] if on_duplicate == "first" else held[-1]) for key, held in holders.items())
