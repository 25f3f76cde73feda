# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: how this worker loaded the bws.secrets modules it has imported so far, or
(term ``http``) which of the standard library's HTTP modules it has imported, or (term ``gc``)
how many objects its garbage collector leaves frozen."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: loader_probe
short_description: Report the loader of every loaded bws.secrets module_utils/plugin_utils module
description:
  - A test helper; returns a dict of module name to loader class and bytecode file.
  - With the term C(http), a dict of C(http.client) and C(ssl) to whether the worker imported them.
  - With the term C(gc), the number of frozen objects (C(gc.get_freeze_count())).
options: {}
"""

import gc
import os
import sys

from ansible.plugins.lookup import LookupBase

PREFIXES = ("ansible_collections.bws.secrets.plugins.module_utils._",
            "ansible_collections.bws.secrets.plugins.plugin_utils._")
HTTP_MODULES = ("http.client", "ssl")


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if list(terms) == ["gc"]:
            return [gc.get_freeze_count()]
        if list(terms) == ["http"]:
            return [dict((name, name in sys.modules) for name in HTTP_MODULES)]
        found = {}
        for name, module in sorted(sys.modules.items()):
            if name.startswith(PREFIXES) and module is not None:
                cached = getattr(module, "__cached__", None)
                found[name.rsplit(".", 1)[1]] = {
                    "loader": type(getattr(module, "__loader__", None)).__name__,
                    "bytecode": bool(cached) and os.path.isfile(cached),
                }
        return [found]
