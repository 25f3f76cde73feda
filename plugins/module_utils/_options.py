# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options shared by every lookup and module, and the client they build.

Lookups read them with ``get_option`` and modules with ``module.params``; both hand a
plain dict to ``connect``. ``module_argspec`` derives the modules' argument spec from
``CONNECTION_OPTIONS``, the one list of names, types and defaults.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

from ._api import SecretsManager
from ._auth import Auth
from ._crypto import CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY
from ._errors import BWSSDKError, StateFileError
from ._http import HttpClient
from ._region import Region
from ._state import DEFAULT_STATE_DIR, WITHOUT_STATE_FILE, state_file_path
from ._token import ClientToken

# name: (argspec type, default, environment variable, no_log); modules fall back to the same
# variables as the lookups (doc_fragments/connection.py lists them for both)
CONNECTION_OPTIONS = {
    "access_token": ("str", None, "BWS_ACCESS_TOKEN", True),
    "region": ("str", "us", "BWS_REGION", False),
    "server_url": ("str", None, "BWS_SERVER_URL", False),
    "api_url": ("str", None, "BWS_API_URL", False),
    "identity_url": ("str", None, "BWS_IDENTITY_URL", False),
    "state_dir": ("path", DEFAULT_STATE_DIR, "BWS_STATE_DIR", False),
    "use_state_file": ("bool", True, "BWS_USE_STATE_FILE", False),
    "validate_certs": ("bool", True, "BWS_VALIDATE_CERTS", False),
    "allow_insecure_http": ("bool", False, "BWS_ALLOW_INSECURE_HTTP", False),
    "ca_path": ("path", None, "BWS_CA_PATH", False),
    "timeout": ("int", 30, "BWS_TIMEOUT", False),
    "retries": ("int", 3, "BWS_RETRIES", False),
}
# HTTP (http.client) and the JWT claims (base64url + json) need only the standard library:
# the numbers behind that choice are in docs/performance.md.
REQUIRED_LIBRARIES = (
    ("cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR),
)


def missing_libraries():
    """[(pip name, import traceback)] of the libraries the client needs and cannot import."""
    return [(name, error) for name, present, error in REQUIRED_LIBRARIES if not present]


def module_argspec(env_fallback):
    """The connection part of a module's argument_spec (pass basic.env_fallback)."""
    spec = {}
    for name, (kind, default, env, secret) in CONNECTION_OPTIONS.items():
        entry = {"type": kind}
        if default is not None:
            entry["default"] = default
        if env:
            entry["fallback"] = (env_fallback, [env])
        if secret:
            entry["no_log"] = True
        spec[name] = entry
    return spec


def connect(options, warn=None):
    """Build an authenticated ``SecretsManager`` from connection options (a plain dict)."""
    missing = missing_libraries()
    if missing:
        raise BWSSDKError("missing Python libraries %s on this host: pip install %s"
                          % (", ".join(m[0] for m in missing), " ".join(m[0] for m in missing)))

    def get(name):
        value = options.get(name)
        return CONNECTION_OPTIONS[name][1] if value is None else value

    token = ClientToken.from_str(get("access_token"))
    region = Region.resolve(get("region"), get("server_url"), get("api_url"), get("identity_url"))
    region.check_transport(get("allow_insecure_http"))
    http = HttpClient(timeout=get("timeout"), validate_certs=get("validate_certs"),
                      ca_path=get("ca_path"), retries=get("retries"))
    state = None
    if get("use_state_file"):
        try:
            state = state_file_path(get("state_dir"), token.access_token_id)
        except StateFileError as exc:
            if warn:
                warn("%s: %s" % (exc, WITHOUT_STATE_FILE))
    return SecretsManager(Auth(token, region, state, http=http, warn=warn))
