# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bws_secrets
short_description: A project's Bitwarden Secrets Manager secrets as a dictionary
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Returns one dictionary mapping key to value of every secret visible to the machine account in
    the given projects (or in all its projects), ready for C(environment:) or a C(.env) template.
  - Costs one small C(sync) request with the cache (the default), or one full C(sync) request,
    kept nowhere, without it.
  - Values are returned as unsafe text, so a secret containing C({{ }}) is never templated.
notes:
  - When the dictionary is used as a task's C(environment), ansible-core itself shows that
    environment, values included, in its C(EXEC) lines at C(-vvv) and above, even with
    C(no_log). Do not run such plays at C(-vvv) where the output is kept, or pass the secrets
    to the command another way (a file with mode C(0600), C(stdin)).
requirements:
  - cryptography
options:
  _terms:
    description:
      - Optional key patterns (shell globs, case-sensitive), added to O(keys).
    required: false
    type: list
    elements: str
  project:
    description:
      - Project ids or names. Secrets of all visible projects when not set.
    type: list
    elements: str
    env:
      - name: BWS_PROJECT
    vars:
      - name: bws_project
  keys:
    description:
      - Only keys matching one of these shell globs (for example V(DB_*)). All keys when not set.
    type: list
    elements: str
  on_duplicate:
    description:
      - What to do when two secrets share a key. V(error) fails naming the key, the secrets and
        their projects; V(first) keeps the oldest secret, V(last) the newest.
    type: str
    choices: [error, first, last]
    default: error
  on_invalid_name:
    description:
      - What to do with a secret whose key is not a valid environment variable name (ASCII
        letters, digits and V(_), not starting with a digit; the rule of C(bws run)), or is one of
        the well-known variables that make shells, the dynamic loader, interpreters or git load
        or run what they name (V(PATH), V(BASH_ENV), V(LD_PRELOAD), V(PYTHONPATH),
        V(NODE_OPTIONS), V(GIT_SSH_COMMAND), V(PAGER) and the like), unless asked for by its exact
        name in O(keys) or the terms (no glob).
      - ansible-core writes the keys of a task's C(environment) into the command line of the
        managed host unquoted, so a key such as V($(reboot\)), which anyone with write access to
        the project can create, would run on every host; a secret named V(LD_PRELOAD) or
        V(BASH_ENV) would have the host's programs run what its value names.
      - No such list is complete. For a dictionary used as C(environment), give O(keys) the names
        you expect.
      - A term or O(keys) entry shaped like an access token is refused (the token goes in
        O(access_token)), whatever this option says.
      - V(error) fails naming the secret; V(skip) leaves the secret out, with a warning; V(allow)
        keeps it, for a dictionary never used as C(environment) (a template or C(set_fact)).
    type: str
    choices: [error, skip, allow]
    default: error
extends_documentation_fragment:
  - bws.secrets.connection
  - bws.secrets.connection.plugins
  - bws.secrets.cache
  - bws.secrets.cache.plugins
"""

EXAMPLES = r"""
- name: Run the app with every secret of the Production project in its environment
  ansible.builtin.command: /opt/app/bin/migrate
  environment: "{{ lookup('bws.secrets.bws_secrets', project='Production') }}"
  changed_when: false

- name: Write a .env file from the database secrets of two projects
  ansible.builtin.copy:
    dest: /opt/app/.env
    mode: "0600"
    content: |
      {% for name, value in lookup('bws.secrets.bws_secrets', 'DB_*', project=['Shared', 'Production']).items() %}
      {{ name }}={{ value }}
      {% endfor %}
  no_log: true

- name: Keys that are not variable names (my-api-key, app.url) are kept only when asked
  ansible.builtin.template:
    src: settings.json.j2
    dest: /etc/app/settings.json
    mode: "0600"
  vars:
    settings: "{{ lookup('bws.secrets.bws_secrets', project='App', on_invalid_name='allow') }}"
  diff: false  # the file holds the values: never show it with --diff
  no_log: true

- name: The newest secret wins when a key appears twice
  ansible.builtin.set_fact:
    settings: "{{ lookup('bws.secrets.bws_secrets', project=['Defaults', 'Overrides'], on_duplicate='last') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: One dictionary mapping each secret key to its value.
  type: list
  elements: dict
"""

import re

from ansible_collections.bws.secrets.plugins.plugin_utils._bytecode import use_bytecode_cache

use_bytecode_cache()  # before importing the rest: see _bytecode.py

from ansible_collections.bws.secrets.plugins.plugin_utils._config_defs import register_option_definitions  # noqa: E402

register_option_definitions(__name__)  # Ansible then need not parse DOCUMENTATION: see _config_defs.py

from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError  # noqa: E402
from ansible_collections.bws.secrets.plugins.plugin_utils._lookup_base import BWSLookupBase, warning  # noqa: E402


# An environment variable name, as ``bws run`` requires; any other key could reach a shell
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Variables that make POSIX shells, the dynamic loader, interpreters or git load or run what
# they name (the well-known ones: no list is complete)
_RUNS_CODE = re.compile(
    r"(?:BASH_ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|IFS|PATH|CDPATH|SHELL"
    r"|LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_INSERT_LIBRARIES|DYLD_(?:FALLBACK_)?(?:LIBRARY|FRAMEWORK)_PATH"
    r"|PYTHONPATH|PYTHONHOME|PYTHONSTARTUP|PYTHONBREAKPOINT|PYTHONWARNINGS|PYTHONINSPECT|PYTHONUSERBASE"
    r"|PYTHONPLATLIBDIR|PYTHONEXECUTABLE|PERL5OPT|PERL5LIB|PERLLIB|PERL5DB|RUBYOPT|RUBYLIB|NODE_OPTIONS|NODE_PATH"
    r"|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|GCONV_PATH|OPENSSL_CONF|OPENSSL_ENGINES"
    r"|GIT_SSH|GIT_SSH_COMMAND|GIT_ASKPASS|GIT_EXEC_PATH|GIT_CONFIG_[A-Z0-9_]+|GIT_PROXY_COMMAND|GIT_EXTERNAL_DIFF"
    r"|GIT_PAGER|GIT_EDITOR|GIT_SEQUENCE_EDITOR|GIT_TEMPLATE_DIR|[A-Z_]*ASKPASS|EDITOR|VISUAL|PAGER|MANPAGER"
    r"|BROWSER|LESSOPEN|LESSCLOSE)\Z")
_GLOB = re.compile(r"[*?[]")


class LookupModule(BWSLookupBase):

    def lookup(self, terms):
        patterns = [str(pattern) for pattern in list(terms or []) + list(self.option("keys") or [])]
        projects, on_duplicate = self.option("project"), self.option("on_duplicate")
        found = self.shared(["bws_secrets", projects, patterns, on_duplicate],
                            lambda: self._find(projects, patterns, on_duplicate))
        meant = set(pattern for pattern in patterns if not _GLOB.search(pattern))  # names asked for exactly
        return [dict((secret.key, secret.value) for secret in self._named(found, meant))]

    def _named(self, secrets, meant):
        """``secrets`` whose keys are safe variable names, as on_invalid_name says (never a value in
        a message); a name in ``meant`` (asked for exactly) may be a code-running variable."""
        policy = self.option("on_invalid_name")
        if policy == "allow":
            return secrets
        reasons = [(secret, _unsafe_name(secret.key, secret.key in meant)) for secret in secrets]
        if not any(reason for _secret, reason in reasons):
            return secrets
        described = "; ".join("key %s: %s" % (_listed([s for s, r in reasons if r == reason]), reason)
                              for reason in (_NOT_A_NAME, _RUNS) if any(r == reason for _s, r in reasons))
        if policy == "error":
            runs = any(reason == _RUNS for _secret, reason in reasons)
            raise BWSSDKError(  # BWSLookupBase.run hides a key shaped like a token
                "%s. Used in environment:, such a key would reach the managed host's shell or change what its "
                "programs run: rename the secret, narrow 'keys' or 'project'%s, or set on_invalid_name=skip (leave "
                "it out) or allow (for a dictionary never used as environment:)"
                % (described, " (a variable such as PATH named exactly in 'keys' is taken as meant)" if runs else ""))
        warning("bws_secrets: left out, as on_invalid_name=skip says: %s" % described)
        return [secret for secret, reason in reasons if not reason]

    def _find(self, projects, patterns, on_duplicate):
        """Ask the server (or the sync cache) for the secrets of the dictionary, in its order."""
        from ansible_collections.bws.secrets.plugins.module_utils._resolve import secrets_dict

        client = self.client()
        return list(self.with_cache(client, lambda source: secrets_dict(
            client, projects=projects, patterns=patterns, on_duplicate=on_duplicate, source=source)).values())


_NOT_A_NAME = "not a valid environment variable name (letters, digits and _, not starting with a digit)"
_RUNS = "a variable that makes shells, the loader or interpreters load or run what it names"


def _unsafe_name(key, meant):
    """Why ``key`` must not become an environment variable, or None; ``meant``: the key was asked
    for by its exact name, so a code-running variable is what the playbook wants."""
    if not _ENV_NAME.match(key):
        return _NOT_A_NAME
    if not meant and _RUNS_CODE.match(key):
        return _RUNS
    return None


def _listed(secrets, limit=10):
    """"'K' (secret <id>), ..." for the first ``limit``, and how many more."""
    text = ", ".join("%r (secret %s)" % (secret.key, secret.id) for secret in secrets[:limit])
    return text + (" and %d more" % (len(secrets) - limit) if len(secrets) > limit else "")
