# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bws_secret
short_description: Read Bitwarden Secrets Manager secrets by id or key name
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Returns the value (or another field) of each secret given as a term, in order. A term is
    a secret id (UUID) or a key name; ids and names can be mixed.
  - Any number of ids cost one API request (C(POST /secrets/get-by-ids)), plus one login only
    when no valid state file exists. Decryption happens locally, in pure Python.
  - Key names are resolved against the sync cache (one small C(sync) request, or none within
    O(cache_ttl)), or with O(cache=false) against one full C(sync) request kept nowhere,
    however many names.
  - A key name held by several secrets is an error naming their projects; set O(project) to choose.
  - Values are returned as unsafe text, so a secret containing C({{ }}) is never templated.
requirements:
  - cryptography
options:
  _terms:
    description: Secret ids (UUIDs) or key names.
    required: true
    type: list
    elements: str
  field:
    description:
      - Which field of each secret to return; V(all) returns the whole secret as a dictionary.
    type: str
    default: value
    choices: [value, key, note, id, project_id, organization_id, creation_date, revision_date, all]
  project:
    description:
      - A project id or name. Key names are looked for in this project only; ids are not affected.
    type: str
    env:
      - name: BWS_PROJECT
    vars:
      - name: bws_project
  on_missing:
    description:
      - What to do with a term (id or key name) that matches no secret the machine account can
        read.
      - V(error) fails the lookup naming it; V(warn) gives None in its place, with a warning;
        V(skip) gives None in its place silently. Use the C(default) filter with its second
        argument V(true) to replace None (see the examples).
      - A key name held by several secrets, or a O(project) that is not found, is an error
        whatever this says.
    type: str
    choices: [error, warn, skip]
    default: error
extends_documentation_fragment:
  - bws.secrets.connection
  - bws.secrets.connection.plugins
  - bws.secrets.cache
  - bws.secrets.cache.plugins
notes:
  - The access token is read from E(BWS_ACCESS_TOKEN) when O(access_token) is not set; prefer
    the environment or an encrypted variable over a literal in a playbook.
seealso:
  - name: Bitwarden Secrets Manager
    description: Machine accounts and access tokens.
    link: https://bitwarden.com/help/secrets-manager-overview/
"""

EXAMPLES = r"""
- name: Read one secret into a fact (token from BWS_ACCESS_TOKEN)
  ansible.builtin.set_fact:
    db_password: "{{ lookup('bws.secrets.bws_secret', 'be8e0ad8-d545-4017-a55a-b02f014d4158') }}"
  no_log: true

- name: Read several secrets in one request
  ansible.builtin.set_fact:
    db_user: "{{ creds[0] }}"
    db_password: "{{ creds[1] }}"
  vars:
    creds: "{{ query('bws.secrets.bws_secret', user_id, password_id) }}"
  no_log: true

- name: By key name, in one project (given by name or id)
  ansible.builtin.set_fact:
    db_password: "{{ lookup('bws.secrets.bws_secret', 'DB_PASSWORD', project='Production') }}"
  no_log: true

- name: An optional secret, with a default when it does not exist
  ansible.builtin.set_fact:
    feature_flag: "{{ lookup('bws.secrets.bws_secret', 'FEATURE_FLAG', on_missing='skip') | default('off', true) }}"

- name: Ids and names mixed; results keep term order
  ansible.builtin.set_fact:
    creds: "{{ query('bws.secrets.bws_secret', 'DB_USER', 'be8e0ad8-d545-4017-a55a-b02f014d4158', project='Production') }}"
  no_log: true

- name: Trust the shared cache for a minute (a play over many hosts then sends almost nothing)
  ansible.builtin.set_fact:
    api_key: "{{ lookup('bws.secrets.bws_secret', 'API_KEY', project='Production', cache_ttl=60) }}"
  no_log: true

- name: The whole secret as a dictionary, from the EU cloud
  ansible.builtin.debug:
    msg: "{{ lookup('bws.secrets.bws_secret', secret_id, field='all', region='eu') | ansible.builtin.dict2items | map(attribute='key') }}"

- name: A self-hosted server with a private CA
  ansible.builtin.set_fact:
    api_key: "{{ lookup('bws.secrets.bws_secret', secret_id, server_url='https://vault.example.com', ca_path='/etc/ssl/private-ca.pem') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description:
    - One element per term, in order. The field asked for (a string), or with O(field=all) a
      dictionary with V(id), V(organization_id), V(project_id), V(key), V(value), V(note),
      V(creation_date) and V(revision_date).
  type: list
  elements: raw
"""

from ansible_collections.bws.secrets.plugins.plugin_utils._bytecode import use_bytecode_cache

use_bytecode_cache()  # before importing the rest: see _bytecode.py

from ansible_collections.bws.secrets.plugins.plugin_utils._config_defs import register_option_definitions  # noqa: E402

register_option_definitions(__name__)  # Ansible then need not parse DOCUMENTATION: see _config_defs.py

from ansible_collections.bws.secrets.plugins.plugin_utils._lookup_base import BWSLookupBase, warning  # noqa: E402


class LookupModule(BWSLookupBase):

    def lookup(self, terms):
        field = self.option("field")
        if not terms:
            return []
        project, on_missing = self.option("project"), self.option("on_missing")
        tolerant = on_missing != "error"
        secrets = self.shared(["bws_secret", [str(term) for term in terms], project, tolerant],
                              lambda: self._find(terms, project, tolerant))
        if on_missing == "warn" and None in secrets:
            warning("bws_secret: no secret the machine account can read matches %s (on_missing=warn: None "
                    "in its place)" % ", ".join(repr(str(t)) for t, s in zip(terms, secrets) if s is None))
        if field == "all":
            return [None if s is None else s.to_dict() for s in secrets]
        return [None if s is None else getattr(s, field) for s in secrets]

    def _find(self, terms, project, tolerant):
        """Ask the server (or the sync cache) for the secrets of ``terms`` (None for a miss when ``tolerant``)."""
        from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets, is_uuid

        client = self.client()
        by_name = any(not is_uuid(term) for term in terms)
        return self.with_cache(
            client, lambda source: find_secrets(client, terms, project=project, source=source,
                                                missing=[] if tolerant else None),
            needed=by_name, doubtful=(lambda found: None in found) if tolerant else None)
