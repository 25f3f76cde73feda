# A benchmark helper, not part of the collection. query('bench_steps', *terms) does, inside
# this forked worker and one step at a time, what a bws.secrets.bws_secret lookup does there,
# and writes $BENCH_PROBE_DIR/<pid>-steps.json with each step's CPU time and minor page faults.
# The standard library's transport comes first, so that what is left is ours and Ansible's.
from __future__ import annotations

DOCUMENTATION = r"""
name: bench_steps
short_description: A bws_secret lookup in steps, each one measured (benchmark helper)
description: See the comment at the top of the file.
options:
  _terms:
    description: Secret ids or key names, as for bws.secrets.bws_secret.
    required: true
"""

import importlib
import json
import os
import resource
import sys
import time

from ansible.plugins.loader import lookup_loader
from ansible.plugins.lookup import LookupBase

PLUGIN = "bws.secrets.bws_secret"
CRYPTO = "ansible_collections.bws.secrets.plugins.module_utils._crypto"


def _sample():
    return time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        steps = []
        had = [name for name in ("_ssl", "ssl", "http.client") if name in sys.modules]  # e.g. ssl on 2.16
        last = _sample()

        def step(label):
            nonlocal last
            now = _sample()
            steps.append({"step": label, "cpu": now[0] - last[0], "minor_faults": now[1] - last[1]})
            last = _sample()

        for name, label in (("_ssl", "import _ssl (OpenSSL for Python)"), ("ssl", "import ssl"),
                            ("http.client", "import http.client (with http)")):
            if name not in sys.modules:
                importlib.import_module(name)
            step(label)
        lookup_loader.find_plugin_with_context(PLUGIN)
        step("Ansible finds the plugin (loads the collection package and its routing)")
        lookup = lookup_loader.get(PLUGIN, loader=self._loader, templar=self._templar)
        step("Ansible loads the plugin (our modules from bytecode, ready-made option definitions)")
        importlib.import_module(CRYPTO).warm_up()
        step("first use of cryptography's OpenSSL: HMAC, HKDF and AES on a throwaway key")
        first = lookup.run(list(terms), variables=variables)
        step("the lookup runs: options, state file, one request, decrypt")
        second = lookup.run(list(terms), variables=variables)
        step("the same lookup again in this worker (nothing left to load)")
        if list(first) != list(second):
            raise ValueError("the two runs returned different values")
        path = os.path.join(os.environ["BENCH_PROBE_DIR"], "%d-steps.json" % os.getpid())
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"name": "steps", "pid": os.getpid(), "steps": steps, "had": had}, handle)
        return first
