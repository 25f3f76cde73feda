# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of our lookups: options in, client out, our errors turned into AnsibleLookupError."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path
from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError, StateFileError
from ansible_collections.bws.secrets.plugins.module_utils._options import CONNECTION_OPTIONS, connect

display = Display()


class BWSLookupBase(LookupBase):
    """Give a lookup ``self.client()``, the sync cache and error translation; subclasses
    implement ``lookup(terms)``. Results are returned as unsafe (never templated) values."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            result = self.lookup(terms)
        except BWSSDKError as exc:
            raise AnsibleLookupError(str(exc)) from None
        return wrap_var(result)

    def lookup(self, terms):
        raise NotImplementedError

    def option(self, name):
        """An option's value; values from ``vars:`` arrive untemplated, so template them here."""
        value = self.get_option(name)
        if isinstance(value, str) and self._templar.is_possibly_template(value):
            value = self._templar.template(value)
        return value

    def client(self):
        options = dict((name, self.option(name)) for name in CONNECTION_OPTIONS)
        return connect(options, warn=display.warning)

    def cached_secrets(self, client, needed=True):
        """Every visible secret from the sync cache, or None when the cache is off or unusable."""
        ttl = self.option("cache_ttl") or 0
        if not (needed or ttl > 0) or not self.option("cache") or not client.auth.state_file:
            return None
        try:
            return SecretsCache(client, cache_path(client.auth.state_file), ttl=ttl).secrets()
        except StateFileError as exc:
            display.warning("%s: continuing without the cache" % exc)
            return None
