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

from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError
from ansible_collections.bws.secrets.plugins.module_utils._options import CONNECTION_OPTIONS, connect

display = Display()


class BWSLookupBase(LookupBase):
    """Give a lookup ``self.client()`` and error translation; subclasses implement ``lookup``."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            result = self.lookup(terms)
        except BWSSDKError as exc:
            raise AnsibleLookupError(str(exc)) from None
        return wrap_var(result)

    def lookup(self, terms):
        raise NotImplementedError

    def connection_options(self):
        """Connection options; values from ``vars:`` arrive untemplated, so template them here."""
        options = {}
        for name in CONNECTION_OPTIONS:
            value = self.get_option(name)
            if isinstance(value, str) and self._templar.is_possibly_template(value):
                value = self._templar.template(value)
            options[name] = value
        return options

    def client(self):
        return connect(self.connection_options(), warn=display.warning)
