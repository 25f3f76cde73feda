#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bws_secret_info
short_description: Read Bitwarden Secrets Manager secrets, decrypted, by id, key name or project
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Returns the secrets that match every filter given (O(ids), O(keys), O(project)), decrypted,
    B(values included). With no filter, returns every secret the machine account can read; an
    empty O(ids) or O(keys) list is a filter that matches nothing, so it returns no secret.
  - Costs one request for O(ids) alone; otherwise one list (of the project or of the organization)
    and one request for the matching secrets, plus one for the project list when O(project) is
    given. Never one request per secret.
  - The module runs on the managed host, which needs Python 3.9 or newer and the libraries
    below; usually it is run on the controller with C(delegate_to=localhost) or C(hosts=localhost).
requirements:
  - python >= 3.9
  - cryptography
options:
  ids:
    description:
      - Secret ids. An id that does not exist or is not shared with the machine account is an error,
        with or without O(project) (which leaves out the secrets of other projects).
      - Key names go in O(keys).
    type: list
    elements: str
  keys:
    description:
      - Key names. Every secret with one of these keys is returned (a key can exist in several
        projects); a key that matches nothing is not an error, see RV(missing_keys).
    type: list
    elements: str
  project:
    description:
      - Only secrets of this project, by id or by name. Alone, returns all the secrets of the project.
    type: str
extends_documentation_fragment:
  - bws.secrets.connection
  - bws.secrets.attributes.info_module
notes:
  - The result holds the decrypted values. Use C(no_log=true) on the task, or they can end up in
    the output of C(-v) runs, callback plugins and AWX job logs.
  - For reading values into variables, the P(bws.secrets.bws_secret#lookup) lookup runs on the
    controller and returns values as unsafe text.
seealso:
  - module: bws.secrets.bws_secret
  - plugin: bws.secrets.bws_secret
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Read two secrets by id
  bws.secrets.bws_secret_info:
    ids:
      - be8e0ad8-d545-4017-a55a-b02f014d4158
      - 7c2a4b1e-0f3d-4e5a-9b6c-8d7e6f5a4b3c
  delegate_to: localhost
  register: found
  no_log: true

- name: Read secrets by key name within a project
  bws.secrets.bws_secret_info:
    keys: [DB_PASSWORD, DB_USER]
    project: Production
  delegate_to: localhost
  register: db
  no_log: true

- name: Use them
  ansible.builtin.set_fact:
    db_password: "{{ (db.secrets | selectattr('key', 'eq', 'DB_PASSWORD') | first).value }}"
  no_log: true

- name: Every secret of a project, as a key -> value dictionary
  bws.secrets.bws_secret_info:
    project: Staging
  delegate_to: localhost
  register: staging
  no_log: true

- name: Build the dictionary
  ansible.builtin.set_fact:
    staging_env: "{{ staging.secrets | items2dict(key_name='key', value_name='value') }}"
  no_log: true
"""

RETURN = r"""
secrets:
  description:
    - The matching secrets, decrypted. In the order of O(ids) when only O(ids) is given, else in
      the server's order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The secret id.
      type: str
    organization_id:
      description: The organization id.
      type: str
    project_id:
      description: The id of the secret's project.
      type: str
    project:
      description: The name of the secret's project, when known.
      type: str
    key:
      description: The secret's key.
      type: str
    value:
      description: The secret's value, decrypted.
      type: str
    note:
      description: The secret's note.
      type: str
    creation_date:
      description: When the secret was created.
      type: str
    revision_date:
      description: When the secret last changed.
      type: str
missing_keys:
  description: The names in O(keys) that matched no secret.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.bws.secrets.plugins.module_utils._api import check_uuid
from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError
from ansible_collections.bws.secrets.plugins.module_utils._module import (
    BWSModule, ProjectList, match_project, ref_names)


def _secret_ids(values):
    try:
        return [check_uuid(i, "secret id") for i in values or []]
    except BWSSDKError as exc:
        raise BWSSDKError("ids: %s (key names go in keys)" % exc) from None


def run(module):
    params = module.params
    client = module.client()
    ids = _secret_ids(params["ids"])
    keys = [k.strip() for k in params["keys"] or []]
    names = {}
    target = None
    if params["project"] is not None:
        plist = ProjectList(client)
        target = match_project(plist, params["project"])
        names = dict((p.id, p.name) for p in plist.projects)

    if (params["ids"] is not None and not ids) or (params["keys"] is not None and not keys):
        secrets = []  # an empty list is a filter that matches nothing, not "no filter" (every secret)
    elif ids and not keys and target is None:
        secrets = client.get_secrets(list(dict.fromkeys(ids)))
    else:
        listed = client.list_secrets(target.id if target else None)
        if ids:
            visible = set(s.id for s in listed)
            missing = [i for i in ids if i not in visible]
            if missing:  # outside the project they are filtered out; missing or not shared, an error
                client.get_secrets(missing)  # raises naming the ids that are missing or not shared
        wanted_ids, wanted_keys = set(ids), set(keys)
        chosen = [s.id for s in listed
                  if (not ids or s.id in wanted_ids) and (not keys or s.key in wanted_keys)]
        secrets = client.get_secrets(chosen) if chosen else []
    if target is not None:
        secrets = [s for s in secrets if target.id in s.project_ids]

    for pid, name in ref_names(client, secrets).items():
        names.setdefault(pid, name)
    found_keys = set(s.key for s in secrets)
    return dict(
        changed=False,
        secrets=[dict(s.to_dict(), project=names.get(s.project_id)) for s in secrets],
        missing_keys=[k for k in keys if k not in found_keys],
    )


def main():
    module = BWSModule(
        argument_spec=dict(
            ids=dict(type="list", elements="str"),
            keys=dict(type="list", elements="str", no_log=False),
            project=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
