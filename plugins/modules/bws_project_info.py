#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bws_project_info
short_description: List the Bitwarden Secrets Manager projects visible to the machine account
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Returns the projects the machine account has access to, names decrypted, in one request.
  - The module runs on the managed host, which needs Python 3.9 or newer and the libraries
    below; usually it is run on the controller with C(delegate_to=localhost) or C(hosts=localhost).
requirements:
  - python >= 3.9
  - cryptography
options:
  name:
    description:
      - Only projects with exactly this name (names are not unique, so this can be several).
    type: str
extends_documentation_fragment:
  - bws.secrets.connection
  - bws.secrets.attributes.info_module
seealso:
  - module: bws.secrets.bws_project
"""

EXAMPLES = r"""
- name: List the projects
  bws.secrets.bws_project_info:
  delegate_to: localhost
  register: visible

- name: Map names to ids
  ansible.builtin.set_fact:
    project_ids: "{{ visible.projects | items2dict(key_name='name', value_name='id') }}"

- name: Find one project by name
  bws.secrets.bws_project_info:
    name: Production
  delegate_to: localhost
  register: production
"""

RETURN = r"""
projects:
  description: The projects, in the server's order.
  returned: always
  type: list
  elements: dict
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

from ansible_collections.bws.secrets.plugins.module_utils._module import BWSModule


def run(module):
    projects = module.client().list_projects()
    name = module.params["name"]
    if name is not None:
        projects = [p for p in projects if p.name == name.strip()]
    return dict(changed=False, projects=[p.to_dict() for p in projects])


def main():
    module = BWSModule(
        argument_spec=dict(name=dict(type="str")),
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
