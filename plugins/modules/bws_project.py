#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bws_project
short_description: Create, rename and delete Bitwarden Secrets Manager projects
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Declares one Bitwarden Secrets Manager project and converges to it. Returns its id, for
    P(bws.secrets.bws_secret#module) or lookups.
  - A project is found by O(id), or else by O(name) among the projects the machine account can
    see. Project names are not unique in Secrets Manager; a name that matches several projects is
    an error unless O(id) is given.
  - Idempotent, with one request to list the projects and one write only when something changes;
    a creation lists them once more (see below), and a deletion also lists the project's secrets
    (to warn when some are left).
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
  name:
    description:
      - The project name. Leading and trailing spaces are removed.
      - Required to create a project. With O(id), a different name renames the project.
    type: str
  id:
    description:
      - The id of an existing project, to rename it or to address exactly that one.
      - A project with this id must exist and be visible unless O(state=absent).
    type: str
  state:
    description:
      - V(present) creates or renames the project, V(absent) deletes it (nothing happens if it
        does not exist). With O(id), a O(name) also given must be the project's, or the task fails
        without deleting anything.
      - Deleting a project does not delete its secrets. They stay in no project, where no machine
        account can read, update or delete them. The module warns when the project holds secrets;
        delete them first with P(bws.secrets.bws_secret#module) if they should go too.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - bws.secrets.connection
  - bws.secrets.attributes
notes:
  - The access token is read from E(BWS_ACCESS_TOKEN) on the host that runs the module when
    O(access_token) is not set.
  - A machine account that creates a project gets read and write access to it. Renaming or
    deleting a project needs write access to it.
  - A change removes the lookups' sync cache of the same token in O(state_dir) on the host that
    runs the module, so a later lookup with O(bws.secrets.bws_secret#lookup:cache_ttl) sees it at once.
seealso:
  - module: bws.secrets.bws_project_info
  - module: bws.secrets.bws_secret
"""

EXAMPLES = r"""
- name: Make sure a project exists and keep its id
  bws.secrets.bws_project:
    name: Production
  delegate_to: localhost
  run_once: true
  register: production

- name: Put a secret in it (by the project's name, so that check mode can preview a project to be created)
  bws.secrets.bws_secret:
    key: DB_PASSWORD
    value: "{{ db_password }}"
    project: Production
  delegate_to: localhost
  run_once: true

- name: Rename a project
  bws.secrets.bws_project:
    id: 4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
    name: Production (EU)
  delegate_to: localhost
  run_once: true

- name: Delete a project
  bws.secrets.bws_project:
    name: Scratch
    state: absent
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
id:
  description:
    - The project id (V(null) in check mode for a project that would be created, so a later task
      of a play run in check mode should name that project rather than use this id).
  returned: when the project exists, was created or was deleted
  type: str
  sample: 4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
project:
  description:
    - The project after the change (before it, for O(state=absent)).
    - Empty when O(state=absent) and there was no such project.
  returned: always
  type: dict
  contains:
    id:
      description: The project id.
      type: str
    organization_id:
      description: The organization id.
      type: str
    name:
      description: The project name.
      type: str
    creation_date:
      description: When the project was created.
      type: str
    revision_date:
      description: When the project last changed.
      type: str
"""

from ansible_collections.bws.secrets.plugins.module_utils._api import check_uuid
from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError
from ansible_collections.bws.secrets.plugins.module_utils._models import validate_project_name
from ansible_collections.bws.secrets.plugins.module_utils._module import (
    BWSModule, ProjectList, project_diff_text, project_result, write_errors)
from ansible_collections.bws.secrets.plugins.module_utils._resolve import AmbiguousError


def _find(module, plist):
    params = module.params
    if params["id"]:
        pid = check_uuid(params["id"], "project id")
        project = plist.by_id.get(pid)
        if project is None and params["state"] == "present":
            raise BWSSDKError("project %s: not found or not shared with this machine account (omit id to "
                              "create a new project)" % pid)
        if (project is not None and params["state"] == "absent" and params["name"] is not None
                and validate_project_name(params["name"]) != project.name):
            raise BWSSDKError("project %s is named %r, not %r: state=absent with id deletes exactly that project, so "
                              "correct name or leave it out" % (pid, project.name, params["name"].strip()))
        return project
    name = validate_project_name(params["name"])
    found = plist.named(name)
    if len(found) > 1:
        raise AmbiguousError("project name %r matches %d projects (%s): set id to choose one"
                             % (name, len(found), ", ".join(p.id for p in found)))
    return found[0] if found else None


def _result(changed, project, diff_before, diff_after, module):
    result = dict(changed=changed, project=project_result(project) if not isinstance(project, dict) else project)
    if result["project"]:
        result["id"] = result["project"].get("id")
    if module._diff:
        result["diff"] = dict(before=diff_before, after=diff_after)
    return result


def _warn_of_secrets_left(module, client, project):
    """Deleting a project leaves its secrets in no project, out of every machine account's reach."""
    try:
        count = len(client.list_secrets(project.id))
    except BWSSDKError as exc:  # only a warning: it must not stop the delete
        module.warn("could not count the secrets of project %r, which stay in no project if it holds any: %s"
                    % (project.name, exc))
        return
    if count:
        module.warn("project %r holds %d secret(s): deleting the project leaves them in no project, where no machine "
                    "account can read, update or delete them; delete them first with bws.secrets.bws_secret if "
                    "they should go too" % (project.name, count))


def run(module):
    params = module.params
    client = module.client()
    plist = ProjectList(client)
    current = _find(module, plist)

    if params["state"] == "absent":
        if current is None:
            return _result(False, None, "", "", module)
        plist.require_writable(current.id, "delete project %r" % current.name)
        _warn_of_secrets_left(module, client, current)
        if not module.check_mode:
            with write_errors("delete project %r" % current.name, "project %s" % plist.describe(current.id)):
                client.delete_projects([current.id])
        return _result(True, current, project_diff_text(current.name, current.id), "", module)

    if current is None:
        name = validate_project_name(params["name"])
        if module.check_mode:
            preview = dict(id=None, organization_id=client.org_id, name=name, creation_date=None, revision_date=None)
            return _result(True, preview, "", project_diff_text(name, None), module)
        with module.creating() as again:
            if again:  # another host's run of this task may have created it meanwhile
                plist = ProjectList(client)
                current = _find(module, plist)
            if current is None:
                created = client.create_project(name)
                return _result(True, created, "", project_diff_text(created.name, created.id), module)

    before = project_diff_text(current.name, current.id)
    if params["name"] is None or validate_project_name(params["name"]) == current.name:
        return _result(False, current, before, before, module)
    name = validate_project_name(params["name"])
    plist.require_writable(current.id, "rename project %r" % current.name)
    after = project_diff_text(name, current.id)
    if module.check_mode:
        preview = project_result(current)
        preview["name"] = name
        return _result(True, preview, before, after, module)
    with write_errors("rename project %r" % current.name, "project %s" % plist.describe(current.id)):
        renamed = client.update_project(current.id, name)
    return _result(True, renamed, before, after, module)


def main():
    module = BWSModule(
        argument_spec=dict(
            name=dict(type="str"),
            id=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_one_of=[("name", "id")],
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
