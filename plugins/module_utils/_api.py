# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Secrets Manager REST API: secrets, projects and sync, in and out as decrypted objects."""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import datetime
import time
import uuid
from urllib.parse import quote

from ._crypto import encrypt_text
from ._errors import ApiError, BWSSDKError, NotFoundError
from ._http import http_date
from ._models import Project, Secret, check_encrypted_length, validate_project_name, validate_secret_input
from ._token import TOKEN_NOT_SHOWN, looks_like_token

NOT_SHARED = "not found or not shared with this machine account"


def check_uuid(value, what):
    """Canonical UUID text, or BWSSDKError naming ``what`` (and the value, unless it looks like a token)."""
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        shown = TOKEN_NOT_SHOWN if looks_like_token(str(value)) else repr(value)
        raise BWSSDKError("%s %s is not a valid UUID" % (what, shown)) from None


def _rfc3339(when):
    if when.tzinfo is None:
        raise BWSSDKError("last_synced_date must be timezone-aware")
    return when.astimezone(datetime.timezone.utc).isoformat()


class SecretsManager:
    """Calls the API with the session's bearer token; one 401 triggers one fresh login."""

    def __init__(self, auth):
        self.auth = auth
        self.http = auth.http
        self.api_url = auth.region.api_url
        self.wrote = False  # a create, update or delete was sent (whatever its outcome)

    @property
    def org_id(self):
        return self.auth.org_id

    @property
    def _key(self):
        return self.auth.org_enc_key

    # --- transport --------------------------------------------------------------------
    def _call(self, method, path, what, body=None, idempotent=True, expect=(200,), done_if_gone=False,
              headers=None):
        """The JSON answer of one call. ``done_if_gone`` (deletes): a 404 that answers a retry the
        server may have acted on means the first try did it; None is returned then. ``headers``
        (a list) receives the answer's headers."""
        url = self.api_url + path
        resp = self.http.request(method, url, what, json_body=body, bearer=self.auth.bearer_token,
                                 idempotent=idempotent)
        repeated = resp.repeated
        if resp.status == 401:
            self.auth.invalidate()
            resp = self.http.request(method, url, what, json_body=body, bearer=self.auth.bearer_token,
                                     idempotent=idempotent)
            repeated = repeated or resp.repeated
        if resp.status == 404 and done_if_gone and repeated:
            return None
        if headers is not None:
            headers.append(resp.headers)
        if resp.status in expect:
            if not isinstance(resp.json, (dict, list)):
                raise ApiError("%s: the server answered HTTP %d without a JSON body" % (what, resp.status),
                               status=resp.status)
            return resp.json
        raise self._error(resp, what, self.api_url)

    def _write(self, method, path, what, **kwargs):
        """``_call`` for a create, update or delete: ``wrote`` records that one was sent."""
        self.wrote = True
        return self._call(method, path, what, **kwargs)

    @staticmethod
    def _error(resp, what, api_url="the server"):
        body = resp.json if isinstance(resp.json, dict) else {}
        message = body.get("message")
        message = str(message)[:200] if message is not None else None
        detail = _validation_text(body.get("validationErrors"))
        detail = ": " + detail if detail else (": " + message if message else "")
        if resp.status == 404 and not _is_error_body(resp.json):  # no such endpoint: a wrong URL or path
            return ApiError("%s failed with HTTP 404 without the API's error body (the API at %s has no such "
                            "endpoint); is server_url the server's base URL (without /api), or api_url right?"
                            % (what, api_url), status=404)
        if resp.status == 404:
            return NotFoundError("%s: %s" % (what, NOT_SHARED), status=404, server_message=message)
        if resp.status == 401:
            return ApiError("%s: the server refused the access token again with a new bearer token (HTTP 401); "
                            "has the machine account lost access?" % what, status=401, server_message=message)
        if resp.status >= 500:
            tried = " (after %d retries)" % resp.retries if resp.retries else ""
            return ApiError("%s: server error HTTP %d%s%s; try again later" % (what, resp.status, detail, tried),
                            status=resp.status, server_message=message)
        return ApiError("%s failed with HTTP %d%s" % (what, resp.status, detail), status=resp.status,
                        server_message=message)

    def _secrets(self, data):
        return [Secret.from_api(raw, self._key) for raw in data or []]

    # --- secrets ----------------------------------------------------------------------
    def get_secret(self, secret_id):
        sid = check_uuid(secret_id, "secret id")
        raw = self._call("GET", "/secrets/" + sid, "get secret %s" % sid)
        return Secret.from_api(raw, self._key)

    def get_secrets(self, secret_ids, missing=None):
        """Secrets by id in one request, in the order asked (duplicates allowed).

        An id not found or not shared raises NotFoundError naming it; with ``missing`` (a list)
        it is appended there and gives None instead. The server refuses the whole request for
        one such id, so the others then cost a list and one more request.
        """
        ids = [check_uuid(s, "secret id") for s in secret_ids]
        if not ids:
            return []
        unique = list(dict.fromkeys(ids))
        what = "get secrets %s" % ", ".join(unique)
        try:
            raw = self._call("POST", "/secrets/get-by-ids", what, body={"ids": unique})
        except NotFoundError:
            gone = self._missing_ids(unique, strict=missing is not None)
            if missing is None or not gone:  # the list sees them all: say what the server said
                raise NotFoundError("secret %s: %s" % (", ".join(gone or unique), NOT_SHARED), status=404) from None
            missing.extend(gone)
            rest = [i for i in unique if i not in gone]
            found = dict((s.id, s) for s in self.get_secrets(rest)) if rest else {}
            return [found.get(i) for i in ids]
        found = dict((s.id, s) for s in self._secrets(_list_data(raw, what)))
        absent = [i for i in unique if i not in found]
        if absent and missing is None:
            raise NotFoundError("secret %s: %s" % (", ".join(absent), NOT_SHARED), status=404)
        if missing is not None:
            missing.extend(absent)
        return [found.get(i) for i in ids]

    def _missing_ids(self, ids, strict=False):
        """After a 404 on get-by-ids, the ids this machine account cannot read. When the list of
        what it can read fails: all of them (for an error message), or with ``strict`` the
        list's error (misses that are counted, not reported, must be real)."""
        try:
            visible = set(s.id for s in self.list_secrets())
        except BWSSDKError:
            if strict:
                raise
            return ids
        return [i for i in ids if i not in visible]

    def list_secrets(self, project_id=None):
        """Secret identifiers (no values) of the organization or of one project."""
        if project_id:
            pid = check_uuid(project_id, "project id")
            raw = self._call("GET", "/projects/%s/secrets" % pid, "list secrets of project %s" % pid)
        else:
            raw = self._call("GET", "/organizations/%s/secrets" % self.org_id, "list secrets")
        if not isinstance(raw, dict) or not isinstance(raw.get("secrets"), list):
            raise ApiError("list secrets: the server's answer has no list of secrets")
        return self._secrets(raw["secrets"])

    def sync(self, last_synced_date=None):
        """(has_changes, [Secret]) of every secret visible; secrets is None when unchanged."""
        changed, data, _as_of = self.sync_raw(last_synced_date)
        return changed, (self._secrets(data) if changed else None)

    def sync_raw(self, last_synced_date=None):
        """(has_changes, [secret as the server sent it] or None, as_of); no date means everything.

        ``as_of`` (aware datetime) is the ``last_synced_date`` for the next sync: a time on the
        server's clock no later than when it looked, whatever this machine's clock says (the
        server compares it with its own dates, so a clock ahead of the server's would hide the
        changes made in between). It is the answer's ``Date`` less the time the request took:
        the server looked before it wrote that header, and the header's whole seconds only make
        it earlier. Without a ``Date``, this machine's time before sending.
        """
        path = "/organizations/%s/secrets/sync" % self.org_id
        if last_synced_date is not None:
            path += "?lastSyncedDate=" + quote(_rfc3339(last_synced_date), safe="")
        sent, started, headers = time.time(), time.monotonic(), []
        raw = self._call("GET", path, "sync secrets", headers=headers)
        server_now = http_date(headers[-1].get("Date")) if headers and headers[-1] is not None else None
        as_of = sent if server_now is None else server_now - (time.monotonic() - started)
        try:
            as_of = datetime.datetime.fromtimestamp(as_of, datetime.timezone.utc)
        except (ValueError, OverflowError, OSError):  # a Date no calendar holds (year 10000): this machine's time
            as_of = datetime.datetime.fromtimestamp(sent, datetime.timezone.utc)
        if not isinstance(raw, dict):
            raise ApiError("sync secrets: unexpected answer")
        if not raw.get("hasChanges"):
            return False, None, as_of
        return True, _list_data(raw.get("secrets"), "sync secrets"), as_of

    def create_secret(self, key, value, note, project_id):
        key, value, note = validate_secret_input(key, value, note)
        pid = check_uuid(project_id, "project id")
        body = self._secret_body(key, value, note, [pid])
        raw = self._write("POST", "/organizations/%s/secrets" % self.org_id,
                          "create secret %r in project %s" % (key, pid), body=body, idempotent=False)
        return Secret.from_api(raw, self._key)

    def update_secret(self, secret_id, key, value, note, project_ids, value_changed=False):
        """Replace a secret. ``project_ids`` must be sent (omitting it removes the secret from its project).
        ``value_changed``: the value is a new one, so the server keeps the old one as a version
        (servers without secret versions ignore it)."""
        sid = check_uuid(secret_id, "secret id")
        key, value, note = validate_secret_input(key, value, note)
        pids = [check_uuid(p, "project id") for p in project_ids or []]
        if not pids:
            raise BWSSDKError("update secret %s: a project is required (a machine account cannot hold "
                              "secrets outside projects)" % sid)
        body = self._secret_body(key, value, note, pids)
        body["valueChanged"] = bool(value_changed)
        raw = self._write("PUT", "/secrets/" + sid, "update secret %s" % sid, body=body)
        return Secret.from_api(raw, self._key)

    def delete_secrets(self, secret_ids):
        ids = [check_uuid(s, "secret id") for s in secret_ids]
        return self._delete("/secrets/delete", ids, "secret")

    def _secret_body(self, key, value, note, project_ids):
        what = "secret %r" % key
        body = dict((field, check_encrypted_length(field, encrypt_text(self._key, text), what))
                    for field, text in (("key", key), ("value", value), ("note", note)))
        body["projectIds"] = project_ids
        return body

    def _delete(self, path, ids, kind):
        if not ids:
            return []
        what = "delete %s %s" % (kind, ", ".join(ids))
        raw = self._write("POST", path, what, body=ids, done_if_gone=True)
        if raw is None:  # a retry got 404: done by the try whose answer was lost, unless one is still there
            listed = self.list_secrets() if kind == "secret" else self.list_projects()
            left = [i for i in ids if i in set(x.id for x in listed)]
            if left:  # the server deletes nothing when one id is missing
                raise ApiError("%s: %s not found or not shared with this machine account, so nothing was deleted "
                               "(%s still there)" % (what, ", ".join(i for i in ids if i not in left) or "one of them",
                                                     ", ".join(left)), status=404)
            return ids
        entries = _list_data(raw, what)
        if not all(isinstance(r, dict) for r in entries):
            raise ApiError("%s: the server's answer lists something that is not an object" % what)
        failed = [(r.get("id"), r.get("error")) for r in entries if r.get("error")]
        if failed:
            raise ApiError("%s: %s" % (what, "; ".join("%s: %s" % f for f in failed)))
        return ids

    # --- projects ---------------------------------------------------------------------
    def list_projects(self):
        raw = self._call("GET", "/organizations/%s/projects" % self.org_id, "list projects")
        return [Project.from_api(p, self._key) for p in _list_data(raw, "list projects")]

    def get_project(self, project_id):
        pid = check_uuid(project_id, "project id")
        return Project.from_api(self._call("GET", "/projects/" + pid, "get project %s" % pid), self._key)

    def create_project(self, name):
        name = validate_project_name(name)
        raw = self._write("POST", "/organizations/%s/projects" % self.org_id, "create project %r" % name,
                          body=self._project_body(name), idempotent=False)
        return Project.from_api(raw, self._key)

    def update_project(self, project_id, name):
        pid = check_uuid(project_id, "project id")
        name = validate_project_name(name)
        raw = self._write("PUT", "/projects/" + pid, "rename project %s" % pid, body=self._project_body(name))
        return Project.from_api(raw, self._key)

    def _project_body(self, name):
        return {"name": check_encrypted_length("name", encrypt_text(self._key, name), "project %r" % name)}

    def delete_projects(self, project_ids):
        ids = [check_uuid(p, "project id") for p in project_ids]
        return self._delete("/projects/delete", ids, "project")


def _validation_text(errors, limit=300):
    """``validationErrors`` ({field: [messages]} normally; any shape tolerated) as one line."""
    if not errors:
        return ""
    if isinstance(errors, dict):
        parts = []
        for field in sorted(errors, key=str):
            msgs = errors[field]
            msgs = " ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
            parts.append("%s: %s" % (field, msgs))
        text = "; ".join(parts)
    elif isinstance(errors, list):
        text = "; ".join(map(str, errors))
    else:
        text = str(errors)
    return text[:limit]


def _is_error_body(body):
    """True for the API's own error JSON (``ErrorResponseModel``: "object": "error", a message);
    a 404 without it comes from no route of the API (an empty body, or a proxy's page)."""
    return isinstance(body, dict) and (body.get("object") == "error" or "message" in body)


def _list_data(raw, what):
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list):
        raise ApiError("%s: the server's answer has no data list" % what)
    return data
