# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options of every lookup and module (see module_utils/_options.py).
    DOCUMENTATION = r"""
options:
  access_token:
    description:
      - The machine account access token, C(0.<id>.<secret>:<key>).
      - Read from the E(BWS_ACCESS_TOKEN) environment variable when not set.
      - It is never logged, and never passed on a command line.
    type: str
  region:
    description:
      - The Bitwarden cloud region to use when neither O(server_url) nor O(api_url) is set,
        V(us) or V(eu) (in any case).
      - Read from the E(BWS_REGION) environment variable when not set.
    type: str
    default: us
  server_url:
    description:
      - Base URL of a self-hosted Bitwarden server; the API is C(<server_url>/api) and identity
        C(<server_url>/identity).
      - Takes precedence over O(region).
      - Read from the E(BWS_SERVER_URL) environment variable when not set.
    type: str
  api_url:
    description:
      - Explicit API base URL. Must be set together with O(identity_url); both take precedence
        over O(server_url) and O(region).
      - Read from the E(BWS_API_URL) environment variable when not set.
    type: str
  identity_url:
    description:
      - Explicit identity base URL. Must be set together with O(api_url).
      - Read from the E(BWS_IDENTITY_URL) environment variable when not set.
    type: str
  state_dir:
    description:
      - Directory of the login state files, shared with the C(bws) CLI and the official SDK
        (C(<state_dir>/<access token id>), encrypted with the access token).
      - Reusing a state file saves a login per run; concurrent runs log in once.
      - Read from the E(BWS_STATE_DIR) environment variable when not set.
    type: path
    default: ~/.config/bws/state
  use_state_file:
    description:
      - Set to V(false) to never read or write a state file (log in on every run; lookups then
        keep no sync cache and the hosts of a task do not share answers).
      - Read from the E(BWS_USE_STATE_FILE) environment variable when not set.
    type: bool
    default: true
  validate_certs:
    description:
      - Verify the server's TLS certificate. Turn off only for testing.
      - Read from the E(BWS_VALIDATE_CERTS) environment variable when not set.
    type: bool
    default: true
  allow_insecure_http:
    description:
      - Plain C(http://) URLs are refused unless they point at a loopback address (such as the
        local emulator). Set to V(true) to allow them anyway; the token and every secret then
        cross the network unencrypted.
      - Read from the E(BWS_ALLOW_INSECURE_HTTP) environment variable when not set.
    type: bool
    default: false
  ca_path:
    description:
      - A CA bundle (PEM) to verify the server's certificate with, e.g. for a self-hosted server.
      - Read from the E(BWS_CA_PATH) environment variable when not set.
    type: path
  timeout:
    description:
      - Seconds to wait for a connection, and for the whole answer (status, headers and body) of each
        try of a request.
      - Read from the E(BWS_TIMEOUT) environment variable when not set.
    type: int
    default: 30
  retries:
    description:
      - How many times a request is retried after HTTP 429 (honouring C(Retry-After)), after a
        5xx (a 503 honours C(Retry-After) too) or a dropped connection (for requests that are safe
        to repeat).
      - Read from the E(BWS_RETRIES) environment variable when not set.
    type: int
    default: 3
"""

    # Extra sources for plugins (lookups): environment, ansible.cfg and variables.
    PLUGINS = r"""
options:
  access_token:
    env:
      - name: BWS_ACCESS_TOKEN
    vars:
      - name: bws_access_token
  region:
    env:
      - name: BWS_REGION
    ini:
      - section: bws_secrets
        key: region
    vars:
      - name: bws_region
  server_url:
    env:
      - name: BWS_SERVER_URL
    ini:
      - section: bws_secrets
        key: server_url
    vars:
      - name: bws_server_url
  api_url:
    env:
      - name: BWS_API_URL
    ini:
      - section: bws_secrets
        key: api_url
    vars:
      - name: bws_api_url
  identity_url:
    env:
      - name: BWS_IDENTITY_URL
    ini:
      - section: bws_secrets
        key: identity_url
    vars:
      - name: bws_identity_url
  state_dir:
    env:
      - name: BWS_STATE_DIR
    ini:
      - section: bws_secrets
        key: state_dir
    vars:
      - name: bws_state_dir
  use_state_file:
    env:
      - name: BWS_USE_STATE_FILE
    ini:
      - section: bws_secrets
        key: use_state_file
    vars:
      - name: bws_use_state_file
  validate_certs:
    env:
      - name: BWS_VALIDATE_CERTS
    ini:
      - section: bws_secrets
        key: validate_certs
    vars:
      - name: bws_validate_certs
  allow_insecure_http:
    env:
      - name: BWS_ALLOW_INSECURE_HTTP
    ini:
      - section: bws_secrets
        key: allow_insecure_http
    vars:
      - name: bws_allow_insecure_http
  ca_path:
    env:
      - name: BWS_CA_PATH
    ini:
      - section: bws_secrets
        key: ca_path
    vars:
      - name: bws_ca_path
  timeout:
    env:
      - name: BWS_TIMEOUT
    ini:
      - section: bws_secrets
        key: timeout
    vars:
      - name: bws_timeout
  retries:
    env:
      - name: BWS_RETRIES
    ini:
      - section: bws_secrets
        key: retries
    vars:
      - name: bws_retries
"""
