# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module side of the shared option model: ``BWSModule`` and helpers the modules share.

``BWSModule`` merges the connection argument spec (``_options.module_argspec``) with a
module's own options, reports missing libraries with ``missing_required_lib``, builds the
client once (``self.client()``) and turns every ``BWSSDKError`` into ``fail_json(msg=...)``:
no traceback, and messages that never carry a token, a key or a secret value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ._cache import cache_path
from ._cache import discard as discard_cache
from ._errors import ApiError, BWSSDKError, NotFoundError, StateFileError
from ._options import connect, missing_libraries, module_argspec
from ._resolve import SecretIndex
from ._resolve import match_project as resolve_project
from ._state import CREATE_LOCK_SUFFIX, LOCK_TIMEOUT, ensure_dir, file_lock, state_file_path
from ._task_answers import answer_files
from ._token import misplaced_token, scrub_tokens, token_shaped
from ._task_answers import discard as discard_task_answers

INSTALL_HINT = "pip install cryptography"
HIDDEN = "(hidden)"
HIDDEN_CHANGED = "(hidden, changed)"


class BWSModule(AnsibleModule):
    """An AnsibleModule with the connection options, ``client()`` and error translation.

    Subclasses (or callers) put their work in a function and hand it to ``run``::

        module = BWSModule(argument_spec=dict(name=dict(type='str')), supports_check_mode=True)
        module.run(main_logic)       # main_logic(module) -> dict for exit_json
    """

    def __init__(self, argument_spec=None, **kwargs):
        spec = module_argspec(env_fallback)
        for name, entry in (argument_spec or {}).items():
            if name in spec:
                raise ValueError("option %s clashes with a connection option" % name)
            spec[name] = entry
        super(BWSModule, self).__init__(argument_spec=spec, **kwargs)
        shaped = self._token_shaped()
        if shaped:  # masked in the result (invocation included) too, as a no_log value
            self.fail_json(msg=misplaced_token(shaped))
        if self._structured:
            name, kind = self._structured[0]
            self.fail_json(msg="%s must be text, not a %s: pass a dictionary or list through to_json to store it as "
                               "JSON, or JSON text that Ansible turned into one through string"
                               % (name, "dictionary" if kind is dict else "list"))
        missing = missing_libraries()
        if missing:
            names = [name for name, dummy in missing]
            self.fail_json(
                msg=missing_required_lib(", ".join(names), reason="to talk to Bitwarden Secrets Manager "
                                         "(on the host that runs the module: %s, or use delegate_to: "
                                         "localhost)" % INSTALL_HINT),
                exception=missing[0][1])
        self._client = None

    def _load_params(self):
        """Also note the text options given a dictionary or a list: their type, str, would
        silently turn one into its Python form (``{'a': 1}``) and store that."""
        super(BWSModule, self)._load_params()
        self._structured = [(name, type(self.params[name])) for name, entry in sorted(self.argument_spec.items())
                            if entry.get("type") == "str" and isinstance(self.params.get(name), (dict, list))]

    def _token_shaped(self):
        """The first option other than the token and the value that holds something shaped like
        an access token (a key, name or project), which Ansible would show; each such value
        becomes a no_log value, masked wherever Ansible shows the result."""
        found = None
        for name, entry in sorted(self.argument_spec.items()):
            if name in ("access_token", "value") or entry.get("no_log"):
                continue
            shaped = token_shaped(self.params.get(name))
            self.no_log_values.update(shaped)
            found = found or (name if shaped else None)
        return found

    def warn(self, warning, **kwargs):
        super(BWSModule, self).warn(scrub_tokens(warning), **kwargs)  # a key or name from the server shaped like a token

    def fail_json(self, msg=None, **kwargs):
        super(BWSModule, self).fail_json(msg=scrub_tokens(msg), **kwargs)

    def connection_options(self):
        return dict(self.params)

    def client(self):
        """The authenticated ``SecretsManager`` (one login, or none with a fresh state file)."""
        if self._client is None:
            self._client = connect(self.connection_options(), warn=self.warn)
        return self._client

    @contextlib.contextmanager
    def creating(self):
        """Hold the token's create lock (a file beside the state file) around "look again, create
        if still missing", and yield whether to look again: the hosts of a play that run the same
        task at once on this machine (``delegate_to: localhost``) then create the item once, the
        others finding it. Nothing to hold in check mode or without a state file."""
        state_file = self.client().auth.state_file
        if self.check_mode or not state_file:
            yield False
            return
        with contextlib.ExitStack() as stack:
            try:
                ensure_dir(os.path.dirname(state_file))
                stack.enter_context(file_lock(state_file + CREATE_LOCK_SUFFIX, LOCK_TIMEOUT))
            except StateFileError as exc:  # looking again still narrows the race
                self.warn("%s: creating without the lock, so hosts running this task at the same time may each "
                          "create one (use run_once: true)" % exc)
            yield True

    def run(self, func):
        """Call ``func(self)`` and exit with its result; a BWSSDKError becomes fail_json."""
        error = result = None
        try:
            result = func(self)
        except BWSSDKError as exc:
            error = str(exc)
        finally:  # after any exception too: a write may have been sent
            self._after_writes()
            if self._client is not None:
                self._client.http.close()
        if error is not None:
            self.fail_json(msg=error)
        self.exit_json(**result)

    def _after_writes(self):
        """After a write was sent (even one that failed), drop the lookups' sync cache and the
        answers shared by the hosts of a task, of this token, so that lookups see the change at
        once."""
        client = self._client
        if client is None or not client.wrote:
            return
        state_file = client.auth.state_file
        if state_file is None:  # no state file of its own: lookups of the token may keep theirs in state_dir
            try:
                state_file = state_file_path(self.params.get("state_dir"), client.auth.client_token.access_token_id)
            except StateFileError:
                return  # no home directory: no lookup keeps anything there either
            if not (os.path.lexists(cache_path(state_file)) or answer_files(state_file)):
                return  # nothing of theirs to remove: the state directory is left alone
        try:
            discard_cache(state_file)
            discard_task_answers(state_file)
        except StateFileError as exc:
            self.warn("%s: lookups with cache_ttl, or other hosts of a running task, may not see this change "
                      "until the cache expires or the task ends" % exc)


# --- projects ---------------------------------------------------------------------------

class ProjectList:
    """The projects visible to the machine account (one request), with their write access
    when the server says (``Project.write``; None: unknown, and writes simply get tried)."""

    def __init__(self, client):
        self.projects = client.list_projects()
        self.by_id = dict((p.id, p) for p in self.projects)

    def named(self, name):
        return [p for p in self.projects if p.name == name]

    def name_of(self, pid):
        project = self.by_id.get(pid)
        return project.name if project else None

    def describe(self, pid):
        name = self.name_of(pid)
        return "%r (%s)" % (name, pid) if name is not None else str(pid)

    def require_writable(self, pid, action):
        """Fail before sending when the server says this project is read-only for us."""
        project = self.by_id.get(pid)
        if project is not None and project.write is False:
            raise BWSSDKError(
                "%s: project %s is read-only for this machine account: grant it read and write access "
                "to the project, or choose another project" % (action, self.describe(pid)))


def match_project(plist, ref):
    """The project whose id or name is ``ref`` (clear errors for missing or ambiguous names)."""
    if not (ref or "").strip():
        raise BWSSDKError("project must not be empty")
    return resolve_project(plist.projects, ref)


def project_result(project):
    return project.to_dict() if project is not None else {}


# --- secrets ----------------------------------------------------------------------------

def secret_result(secret, project_name=None):
    """A secret for a module's result: everything but the value."""
    if secret is None:
        return {}
    return {
        "id": secret.id,
        "organization_id": secret.organization_id,
        "project_id": secret.project_id,
        "project": project_name,
        "key": secret.key,
        "note": secret.note,
        "creation_date": secret.creation_date,
        "revision_date": secret.revision_date,
    }


def ref_names(client, secrets):
    """{project id: name} decrypted from the project references the server sent with ``secrets``."""
    return SecretIndex(secrets, client.auth.org_enc_key).project_names


def secret_diff_text(key, note, project_id, project_name, value_marker):
    """The text form of a secret for ``diff``: key, note, project and a value marker, never a value."""
    if project_name is not None:
        project = "%s (%s)" % (_q(project_name), project_id or "new")
    else:
        project = project_id or "(new)"
    return "key: %s\nnote: %s\nproject: %s\nvalue: %s\n" % (_q(key), _q(note or ""), project, value_marker)


def project_diff_text(name, pid):
    return "name: %s\nid: %s\n" % (_q(name), pid or "(new)")


def _q(text):
    return json.dumps(text, ensure_ascii=False)


def write_errors(action, where):
    """A context manager turning a 404 on a write into a clear, actionable error."""
    return _WriteErrors(action, where)


class _WriteErrors:
    def __init__(self, action, where):
        self.action = action
        self.where = where

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            return False
        if issubclass(exc_type, NotFoundError) or (
                issubclass(exc_type, ApiError) and "access denied" in str(exc)):
            raise BWSSDKError(
                "%s: the server refused the write in %s: the project is read-only for this "
                "machine account, or the secret or project is not shared with it; grant read and write "
                "access" % (self.action, self.where)) from None
        return False
