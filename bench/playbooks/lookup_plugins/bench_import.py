# A benchmark helper, not part of the collection: import the modules named as terms (to
# measure, between two bench_probe calls, what an import costs inside a forked worker).
from __future__ import annotations

DOCUMENTATION = r"""
name: bench_import
short_description: Import modules (benchmark helper)
description: Imports every module named in the terms and returns their names.
options:
  _terms:
    description: Module names.
    required: true
"""

import importlib

from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        for name in terms:
            importlib.import_module(name)
        return list(terms)
