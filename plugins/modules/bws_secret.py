#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bws_secret
short_description: Create, update, move and delete Bitwarden Secrets Manager secrets
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Declares one Bitwarden Secrets Manager secret and converges to it, as the Terraform providers
    do. It creates the secret, updates its key, value or note, moves it to another project, or deletes it.
  - A secret is found by O(id), or by O(key) within O(project). Key names are not unique in
    Secrets Manager; two secrets with the same key in the project is an error unless O(id) is given.
  - Idempotent. The current secret is read and decrypted, then compared with the desired state; a
    second identical run reports C(changed=false) and sends no write request.
  - Updates always send the secret's current project, as the API requires.
  - Never returns or shows the value, in the result or in the diff.
  - The module runs on the managed host, which needs Python 3.9 or newer and the libraries
    below; usually it is run on the controller with C(delegate_to=localhost) and C(run_once=true)
    (or C(hosts=localhost)).
  - Hosts of a play running the task at the same time on one machine create a missing item once
    (they look for it again under a lock beside the state file before creating it); on separate
    machines, or with O(use_state_file=false), use C(run_once=true).
requirements:
  - python >= 3.9
  - cryptography
options:
  key:
    description:
      - The secret's key (its name). Leading and trailing spaces are removed.
      - Required unless O(id) is given; with O(id), a different O(key) renames the secret.
    type: str
  value:
    description:
      - The secret's value, stored exactly as given (not trimmed).
      - Required to create a secret. When omitted for an existing secret, its value is kept.
      - See O(update_value) to set the value only when the secret is created.
      - When the value of an existing secret changes, the server is told so, and a server that
        keeps secret versions keeps the previous value as one (as the C(bws) CLI does).
    type: str
  note:
    description:
      - The secret's note. Leading and trailing spaces are removed.
      - When omitted, an existing secret keeps its note and a new one gets an empty note.
    type: str
  project:
    description:
      - The project, by id or by name, the secret is looked up in and created in.
      - Required to create a secret. With O(id), a different project moves the secret there.
      - Without O(id) and O(project), O(key) is looked up among all the secrets the machine account
        can see, which must then match at most one.
    type: str
  id:
    description:
      - The id of an existing secret, to address exactly that one (for renames, moves, or when
        several secrets share a key).
      - A secret with this id must exist and be visible unless O(state=absent).
      - With O(state=absent), a O(key) or O(project) also given must be the secret's, or the task
        fails without deleting anything.
    type: str
  state:
    description:
      - V(present) creates or updates the secret, V(absent) deletes it (nothing happens if it does
        not exist, or if O(project) does not exist and O(id) is not given).
    type: str
    choices: [present, absent]
    default: present
  update_value:
    description:
      - V(always) makes the stored value equal to O(value).
      - V(on_create) uses O(value) only when the secret is created and never changes the value of
        an existing secret, so a generated password is not rotated on every run.
    type: str
    choices: [always, on_create]
    default: always
extends_documentation_fragment:
  - bws.secrets.connection
  - bws.secrets.attributes
attributes:
  diff_mode:
    details: The diff shows key, note and project, and for the value only whether it changes.
notes:
  - The access token is read from E(BWS_ACCESS_TOKEN) on the host that runs the module when
    O(access_token) is not set; every other connection option also falls back to its E(BWS_*)
    variable there.
  - In check mode, a secret to create in a project (given by name) that does not exist yet is
    reported as created, with a warning, as if an earlier task (M(bws.secrets.bws_project))
    created the project; the real run fails if none does.
  - The machine account needs read and write access to the project to create, update, move or
    delete a secret in it; a read-only project gives a clear error.
  - The result and diff never contain the value; still use C(no_log) when O(value) comes from a
    variable you do not want in the logs of other tasks.
  - A change removes the lookups' sync cache of the same token in O(state_dir) on the host that
    runs the module, so a later lookup with O(bws.secrets.bws_secret#lookup:cache_ttl) sees it at once.
seealso:
  - module: bws.secrets.bws_secret_info
  - module: bws.secrets.bws_project
  - plugin: bws.secrets.bws_secret
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Declare a secret (the connection comes from BWS_ACCESS_TOKEN on the controller)
  bws.secrets.bws_secret:
    key: DB_PASSWORD
    value: "{{ db_password }}"
    note: primary database
    project: Production
  delegate_to: localhost
  run_once: true

- name: Generate a password once; later runs keep the stored value
  bws.secrets.bws_secret:
    key: APP_SECRET
    value: "{{ lookup('ansible.builtin.password', '/dev/null', length=32) }}"
    project: Production
    update_value: on_create
  delegate_to: localhost
  run_once: true

- name: Move a secret to another project and rename it
  bws.secrets.bws_secret:
    id: be8e0ad8-d545-4017-a55a-b02f014d4158
    key: DB_PASSWORD_OLD
    project: Archive
  delegate_to: localhost
  run_once: true

- name: Delete a secret
  bws.secrets.bws_secret:
    key: LEGACY_TOKEN
    project: Production
    state: absent
  delegate_to: localhost
  run_once: true

- name: Set the connection once for every bws.secrets module of a block
  module_defaults:
    group/bws.secrets.bws:
      server_url: https://vault.example.com
      ca_path: /etc/ssl/private-ca.pem
  delegate_to: localhost
  run_once: true
  block:
    - name: Create it
      bws.secrets.bws_secret:
        key: API_KEY
        value: "{{ api_key }}"
        project: Staging
      register: created

    - name: Its id
      ansible.builtin.debug:
        msg: "{{ created.secret.id }}"
"""

RETURN = r"""
secret:
  description:
    - The secret after the change (before it, for O(state=absent)), without its value.
    - In check mode, a secret that would be created has RV(secret.id) V(null).
    - Empty when O(state=absent) and there was no such secret.
  returned: always
  type: dict
  contains:
    id:
      description: The secret id.
      type: str
      sample: be8e0ad8-d545-4017-a55a-b02f014d4158
    organization_id:
      description: The organization id.
      type: str
    project_id:
      description: The id of the secret's project.
      type: str
    project:
      description: The name of the secret's project, when known.
      type: str
      sample: Production
    key:
      description: The secret's key.
      type: str
      sample: DB_PASSWORD
    note:
      description: The secret's note.
      type: str
    creation_date:
      description: When the secret was created.
      type: str
      sample: "2026-11-28T00:26:51.7683714Z"
    revision_date:
      description: When the secret last changed.
      type: str
value_changed:
  description: Whether the value was (or, in check mode, would be) set or changed.
  returned: always
  type: bool
"""

from ansible_collections.bws.secrets.plugins.module_utils._api import check_uuid
from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError, NotFoundError
from ansible_collections.bws.secrets.plugins.module_utils._models import validate_secret_input
from ansible_collections.bws.secrets.plugins.module_utils._module import (
    HIDDEN, HIDDEN_CHANGED, BWSModule, ProjectList, match_project, ref_names,
    secret_diff_text, secret_result, write_errors)
from ansible_collections.bws.secrets.plugins.module_utils._resolve import AmbiguousError, is_uuid


def _find(module, client, target):
    """The current secret (decrypted, with its value) or None."""
    params = module.params
    if params["id"]:
        sid = check_uuid(params["id"], "secret id")
        try:
            return client.get_secret(sid)
        except NotFoundError:
            if params["state"] == "absent":
                return None
            raise BWSSDKError("secret %s: not found or not shared with this machine account (omit id to "
                              "create a new secret)" % sid) from None
    key = (params["key"] or "").strip()
    if not key:
        raise BWSSDKError("key must not be empty")
    listed = client.list_secrets(target.id if target else None)
    matches = [s for s in listed if s.key == key]
    if len(matches) > 1:
        where = "project %r (%s)" % (target.name, target.id) if target else "the secrets visible to this machine account"
        raise AmbiguousError("secret key %r matches %d secrets in %s (ids %s): set id to choose one"
                             % (key, len(matches), where, ", ".join(s.id for s in matches)))
    return client.get_secret(matches[0].id) if matches else None


def _project_name(client, secret, plist):
    if secret is None or not secret.project_id:
        return None
    if plist is not None and plist.name_of(secret.project_id) is not None:
        return plist.name_of(secret.project_id)
    return ref_names(client, [secret]).get(secret.project_id)


def _absent(module, client, current, target, plist):
    if current is None:
        return dict(changed=False, secret={}, value_changed=False)
    name = _project_name(client, current, plist)
    key = (module.params["key"] or "").strip()
    other_key = key and key != current.key
    other_project = target is not None and target.id not in current.project_ids
    if module.params["id"] and (other_key or other_project):
        described = "key %r, project %r" % (key or current.key, target.name if target else name)
        raise BWSSDKError(
            "secret %s is %r in project %r (%s), not the secret the task describes (%s): state=absent with id "
            "deletes exactly that secret, so correct key and project, or leave them out"
            % (current.id, current.key, name, current.project_id, described))
    result = dict(changed=True, secret=secret_result(current, name), value_changed=False)
    if module._diff:
        result["diff"] = dict(
            before=secret_diff_text(current.key, current.note, current.project_id, name, HIDDEN), after="",
            before_header="secret %s" % current.id, after_header="secret %s (deleted)" % current.id)
    if plist is not None:
        plist.require_writable(current.project_id, "delete secret %r" % current.key)
    if not module.check_mode:
        with write_errors("delete secret %r (%s)" % (current.key, current.id),
                          "project %s" % (plist.describe(current.project_id) if plist else current.project_id)):
            client.delete_secrets([current.id])
    return result


def _create(module, client, target, plist):
    params = module.params
    key = (params["key"] or "").strip()
    if target is None:
        raise BWSSDKError("secret key %r does not exist: set project to create it" % key)
    if params["value"] is None:
        raise BWSSDKError("secret key %r does not exist in project %r: value is required to create it"
                          % (key, target.name))
    key, value, note = validate_secret_input(key, params["value"], params["note"] or "")
    if plist is not None:  # None: check mode, a project an earlier task would create (_ProjectToBe)
        plist.require_writable(target.id, "create secret %r" % key)
    result = dict(changed=True, value_changed=True)
    if module._diff:
        result["diff"] = dict(before="", after=secret_diff_text(key, note, target.id, target.name, HIDDEN_CHANGED),
                              before_header="secret %r (absent)" % key, after_header="secret %r" % key)
    if module.check_mode:
        result["secret"] = dict(id=None, organization_id=client.org_id, project_id=target.id, project=target.name,
                                key=key, note=note, creation_date=None, revision_date=None)
        return result
    with write_errors("create secret %r" % key, "project %s" % plist.describe(target.id)):
        created = client.create_secret(key, value, note, target.id)
    result["secret"] = secret_result(created, target.name)
    return result


class _ProjectToBe:
    """Check mode: a project, given by name, that an earlier task of the play would create."""

    def __init__(self, name):
        self.id = None
        self.name = name


def _update(module, client, current, target, plist):
    params = module.params
    want_key = params["key"].strip() if params["key"] is not None else current.key
    want_note = params["note"].strip() if params["note"] is not None else current.note or ""
    if params["value"] is not None and params["update_value"] == "always":
        want_value = params["value"]
    else:
        want_value = current.value
    want_pid = target.id if target is not None else current.project_id
    value_changed = want_value != current.value
    moved = want_pid != current.project_id
    changed = value_changed or moved or want_key != current.key or want_note != (current.note or "")
    before_name = _project_name(client, current, plist)
    after_name = target.name if target is not None else before_name
    result = dict(changed=changed, value_changed=value_changed)
    if module._diff:
        result["diff"] = dict(
            before=secret_diff_text(current.key, current.note, current.project_id, before_name, HIDDEN),
            after=secret_diff_text(want_key, want_note, want_pid, after_name,
                                   HIDDEN_CHANGED if value_changed else HIDDEN),
            before_header="secret %s" % current.id, after_header="secret %s" % current.id)
    if not changed:
        result["secret"] = secret_result(current, before_name)
        return result
    want_key, want_value, want_note = validate_secret_input(want_key, want_value, want_note)
    project_ids = [want_pid] if moved else list(current.project_ids)
    if plist is not None:
        for pid in set(project_ids + [current.project_id]):
            plist.require_writable(pid, "update secret %r" % current.key)
    if module.check_mode:
        preview = secret_result(current, after_name)
        preview.update(key=want_key, note=want_note, project_id=want_pid)
        result["secret"] = preview
        return result
    where = ", ".join(plist.describe(p) if plist else p for p in project_ids)
    with write_errors("update secret %r (%s)" % (current.key, current.id), "project %s" % where):
        updated = client.update_secret(current.id, want_key, want_value, want_note, project_ids,
                                       value_changed=value_changed)
    result["secret"] = secret_result(updated, after_name if updated.project_id == want_pid else None)
    return result


def run(module):
    params = module.params
    client = module.client()
    plist = target = None
    if params["project"] is not None:
        plist = ProjectList(client)
        try:
            target = match_project(plist, params["project"])
        except NotFoundError:
            name = params["project"].strip()
            if params["state"] == "absent" and not params["id"]:
                return dict(changed=False, secret={}, value_changed=False)  # no project, so no such secret in it
            if not (module.check_mode and params["state"] == "present" and not params["id"] and not is_uuid(name)):
                raise
            module.warn("project %r does not exist: check mode reports secret %r as created in it, supposing an "
                        "earlier task creates the project; the real run fails if none does" % (name, params["key"]))
            return _create(module, client, _ProjectToBe(name), None)
    current = _find(module, client, target)
    if params["state"] == "absent":
        return _absent(module, client, current, target, plist)
    if current is None:
        with module.creating() as again:
            if again:  # another host's run of this task may have created it meanwhile
                current = _find(module, client, target)
            if current is None:
                return _create(module, client, target, plist)
    return _update(module, client, current, target, plist)


def main():
    module = BWSModule(
        argument_spec=dict(
            key=dict(type="str", no_log=False),
            value=dict(type="str", no_log=True),
            note=dict(type="str"),
            project=dict(type="str"),
            id=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            update_value=dict(type="str", default="always", choices=["always", "on_create"]),
        ),
        required_one_of=[("key", "id")],
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
