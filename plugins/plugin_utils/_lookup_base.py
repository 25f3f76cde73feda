# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of our lookups: options in, client out, our errors turned into AnsibleLookupError."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.bws.secrets.plugins.module_utils._crypto import HAS_CRYPTOGRAPHY, SymmetricCryptoKey
from ansible_collections.bws.secrets.plugins.module_utils._errors import (AmbiguousError, BWSSDKError, NotFoundError,
                                                                          StateFileError)
from ansible_collections.bws.secrets.plugins.module_utils._models import Secret
from ansible_collections.bws.secrets.plugins.module_utils._state import StateFile, state_file_path
from ansible_collections.bws.secrets.plugins.module_utils._task_answers import TaskAnswers
from ansible_collections.bws.secrets.plugins.module_utils._token import (ClientToken, kind_of, misplaced_token,
                                                                         scrub_tokens, token_shaped)
from ansible_collections.bws.secrets.plugins.plugin_utils._worker import current_task, freeze_inherited

# The client (_options, _auth, _api, _http), the cache and the resolution are imported when a
# lookup asks the server: a worker that reads an answer another host's worker got never loads them.

display = Display()


def warning(message):
    """A warning of our lookups: a key or name from the server shaped like a token is not shown."""
    display.warning(scrub_tokens(message))


# The errors of a question that every host of a task would get alike, so they are shared too
_SHARED_ERRORS = {"not_found": NotFoundError, "ambiguous": AmbiguousError, "failed": BWSSDKError}
# Keywords of lookup() that are Ansible's, not the lookup's (most versions take them out first)
_ANSIBLE_KEYWORDS = frozenset(("wantlist", "errors", "allow_unsafe"))


class BWSLookupBase(LookupBase):
    """Give a lookup ``self.client()``, the sync cache and error translation; subclasses
    implement ``lookup(terms)``. Results are returned as unsafe (never templated) values."""

    def run(self, terms, variables=None, **kwargs):
        freeze_inherited()  # a forked worker's collector leaves the controller's objects alone
        load_name = getattr(self, "_load_name", None)  # set by the plugin loader
        definitions = C.config.get_configuration_definitions(self.plugin_type, load_name) if load_name else {}
        unknown = sorted(set(kwargs) - set(definitions) - _ANSIBLE_KEYWORDS)
        if definitions and unknown:  # a misspelt keyword would silently widen what is read
            raise AnsibleLookupError("%s: unknown option %s; its options are %s" % (
                self._name(), ", ".join(repr(str(name)) for name in unknown),
                ", ".join(sorted(name for name in definitions if not name.startswith("_")))))
        self._check_token_given(definitions, variables, kwargs)
        try:
            self.set_options(var_options=variables, direct=kwargs)
        except AnsibleError:
            clashing = _clashing_variables(definitions, variables)
            if not clashing:
                raise
            for name, option in clashing:
                warning("%s: the variable %s holds a dictionary (a registered result?), not the option %s: "
                        "ignored; give that variable another name (these lookups read every variable "
                        "named like an option)" % (self._name(), name, option))
            variables = _VariablesWithout(variables, [name for name, _option in clashing])
            self.set_options(var_options=variables, direct=kwargs)
        self._task_vars = variables or {}
        self._refuse_tokens(terms, definitions)
        self._clients = []
        try:
            result = self.lookup(terms)
        except BWSSDKError as exc:
            raise AnsibleLookupError(scrub_tokens(str(exc))) from None
        finally:
            for client in self._clients:
                client.http.close()
        return wrap_var(result)

    def lookup(self, terms):
        raise NotImplementedError

    def _check_token_given(self, definitions, variables, kwargs):
        """Refuse an access token that is a list (or, given as a keyword, a dictionary) before
        Ansible's own type check, which would quote it in its error (a list from query()). A
        vault-encrypted token is no str but is fine: Ansible decrypts it. A dictionary in the
        variable is ignored with a warning (``_clashing_variables``), as before."""
        if "access_token" in kwargs:
            given, refused = kwargs["access_token"], (list, tuple, set, Mapping)
        else:
            names = [entry["name"] for entry in (definitions.get("access_token") or {}).get("vars") or []]
            found = [variables.get(name) for name in names] if isinstance(variables, Mapping) else []
            given, refused = next((value for value in found if value is not None), None), (list, tuple, set)
        if isinstance(given, refused):
            raise AnsibleLookupError("%s: access_token must be text, not a %s (not shown)%s" % (
                self._name(), kind_of(given), "; use lookup('env', ...), not query()" if isinstance(given, list) else ""))

    def _refuse_tokens(self, terms, definitions):
        """Refuse a term, project or key pattern shaped like an access token without echoing it:
        every message naming what was not found would show it (the token given as a term, as
        some lookups take it)."""
        given = [("a term", list(terms or []))] + [
            (option, self.option(option))  # templated: a value from vars arrives untemplated
            for option in ("project", "keys") if option in definitions]
        for what, value in given:
            if token_shaped(value):
                raise AnsibleLookupError("%s: %s" % (self._name(), misplaced_token(what)))

    def _name(self):
        return getattr(self, "ansible_name", None) or getattr(self, "_load_name", None) or type(self).__name__

    def option(self, name):
        """An option's value; values from ``vars:`` arrive untemplated, so template them here."""
        value = self.get_option(name)
        if isinstance(value, str) and self._templar.is_possibly_template(value):
            value = self._templar.template(value)
        return value

    def client(self):
        """A client for this run (its connection is closed when the run ends)."""
        from ansible_collections.bws.secrets.plugins.module_utils._options import CONNECTION_OPTIONS, connect

        options = dict((name, self.option(name)) for name in CONNECTION_OPTIONS)
        client = connect(options, warn=warning)
        self.__dict__.setdefault("_clients", []).append(client)  # run() sets it; a caller outside run() may not
        return client

    def with_cache(self, client, resolve, needed=True, doubtful=None):
        """``resolve(source)``, ``source`` being every visible secret from the sync cache (None
        when the cache is off or unusable, or not ``needed`` and no cache_ttl).

        A cache answered within cache_ttl, without asking the server, may predate a secret
        created, renamed or deleted since; and the sync endpoint does not report a project
        renamed (its name is in each secret). So when ``resolve`` cannot find a name or id, or
        finds one ambiguous, in a cache this process did not fetch whole, every secret is
        fetched once more and ``resolve`` runs again: only then is it an error. ``doubtful(result)``
        says the same of a result that holds misses instead of raising (``on_missing``).
        """
        ttl = self.option("cache_ttl") or 0
        if not (needed or ttl > 0) or not self.option("cache") or not client.auth.state_file:
            return resolve(None)
        from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path

        cache = SecretsCache(client, cache_path(client.auth.state_file), ttl=ttl)
        source = self._read(cache)
        try:
            result = resolve(source)
            if doubtful is None or source is None or cache.fetched_all or not doubtful(result):
                return result
        except (NotFoundError, AmbiguousError):
            if source is None or cache.fetched_all:  # the server's whole answer: no doubt left
                raise
        return resolve(self._read(cache, everything=True))

    def shared(self, question, ask):
        """``ask()`` (a list of Secrets) asked once for all the hosts of a task: the first host's
        worker asks the server, the others get the same secrets, or the same not-found or
        ambiguous error, or the same failure, with no request (``share_across_hosts``;
        module_utils/_task_answers.py).
        ``question`` (JSON) holds everything besides the task and the server that the answer
        depends on. A worker that reads an answer needs the token and the state file only."""
        task = current_task() if self.option("share_across_hosts") and self.option("cache") else None
        batch = self._task_vars.get("ansible_play_batch")
        if (task is None or not HAS_CRYPTOGRAPHY or not self.option("use_state_file")
                or (isinstance(batch, list) and len(batch) < 2)):
            return ask()  # a batch of one host has no one to share with
        token = ClientToken.from_str(self.option("access_token"))
        try:
            state = StateFile(state_file_path(self.option("state_dir"), token.access_token_id), token.encryption_key)
        except StateFileError:
            return ask()  # no state directory: nowhere to share through (ask() warns about it)
        mine = []  # [the Secrets] once this worker has asked

        def asked():
            try:
                secrets = ask()
            except NotFoundError as exc:
                return {"error": "not_found", "message": str(exc)}
            except AmbiguousError as exc:
                return {"error": "ambiguous", "message": str(exc)}
            except BWSSDKError as exc:  # a timeout, 5xx, ...: the other hosts fail at once, not one after another
                return {"error": "failed", "message": str(exc)}
            mine.append(secrets)
            return {"secrets": [None if secret is None else secret.raw for secret in secrets]}

        where = [self.option(name) for name in ("region", "server_url", "api_url", "identity_url", "validate_certs",
                                                "ca_path", "allow_insecure_http", "timeout", "retries")]
        hosts = sorted(str(host) for host in batch or [])  # with ``serial``, a later batch runs the task again
        got = TaskAnswers(state.path, token.encryption_key, *task).answer(where + [hosts] + list(question), asked)
        if mine:
            return mine[0]
        if got.get("error") in _SHARED_ERRORS:
            error = _SHARED_ERRORS[got["error"]]
            raise error(got["message"], status=404) if error is NotFoundError else error(got["message"])
        try:
            key = SymmetricCryptoKey.from_b64(state.load()[1])
        except (BWSSDKError, TypeError):  # no usable state file: ask, as without sharing
            return ask()
        return [None if raw is None else Secret.from_api(raw, key) for raw in got["secrets"]]

    @staticmethod
    def _read(cache, everything=False):
        try:
            return cache.secrets(everything)
        except StateFileError as exc:
            warning("%s: continuing without the cache" % exc)
            return None


def _clashing_variables(definitions, variables):
    """[(variable, option)]: the variables named for an option that hold a dictionary, which no
    option of ours takes (``register: bws_project``, the module's name, would be one)."""
    if not isinstance(variables, Mapping):
        return []
    return [(entry["name"], option) for option, definition in sorted(definitions.items())
            for entry in definition.get("vars") or [] if isinstance(variables.get(entry["name"]), Mapping)]


class _VariablesWithout(Mapping):
    """A task's variables as ``set_options`` reads them, less some names."""

    def __init__(self, variables, hidden):
        self._variables = variables
        self._hidden = frozenset(hidden)

    def __getitem__(self, name):
        if name in self._hidden:
            raise KeyError(name)
        return self._variables[name]

    def __iter__(self):
        return (name for name in self._variables if name not in self._hidden)

    def __len__(self):
        return len(self._variables) - sum(1 for name in self._hidden if name in self._variables)
