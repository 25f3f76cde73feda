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
            raise AnsibleLookupError("%s: %s" % (self._load_name, exc)) from None
        return wrap_var(result)

    def lookup(self, terms):
        raise NotImplementedError

    def connection_options(self):
        return dict((name, self.get_option(name)) for name in CONNECTION_OPTIONS)

    def client(self):
        return connect(self.connection_options(), warn=display.warning)
