# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Load the bws.secrets lookups once in the controller, before workers fork
version_added: 0.1.0
author:
  - bws.secrets contributors (@bws-secrets)
description:
  - Ansible evaluates a lookup in a worker process it forks for each host and task, and that
    worker imports the lookup, and the HTTP and TLS modules it needs, afresh. For C(bws.secrets)
    this is most of what a lookup costs per host (see the collection's C(docs/performance.md)).
  - When a play starts, this callback loads P(bws.secrets.bws_secret#lookup) and
    P(bws.secrets.bws_secrets#lookup) once in the controller process, with the standard
    library's C(http.client) and C(ssl) and OpenSSL's setup of the ciphers they use, so every
    forked worker inherits them already imported and configured.
  - It sends no request, reads no token, state file or secret (the ciphers are set up on a
    throwaway random key), and prints nothing; a lookup that cannot be loaded is reported at
    C(-vvv) and then fails in the task as it would without this callback (a missing
    C(cryptography) is reported by the lookup, in its task).
  - Enable it with C(callbacks_enabled = bws.secrets.preload) in the C([defaults]) section of
    C(ansible.cfg), or E(ANSIBLE_CALLBACKS_ENABLED=bws.secrets.preload).
notes:
  - Worth it for plays that run a C(bws.secrets) lookup on many hosts; it costs one load in the
    controller per run, whether or not a lookup is used.
seealso:
  - plugin: bws.secrets.bws_secret
    plugin_type: lookup
  - plugin: bws.secrets.bws_secrets
    plugin_type: lookup
"""

import importlib

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import lookup_loader

LOOKUPS = ("bws.secrets.bws_secret", "bws.secrets.bws_secrets")
# imported only after the lookups, whose bootstrap (plugin_utils/_bytecode.py) loads them
MODULE_UTILS = "ansible_collections.bws.secrets.plugins.module_utils."
LAZY_MODULE_UTILS = ("_options", "_cache", "_resolve")


class CallbackModule(CallbackBase):
    """Load our lookups (modules and option definitions) in the process that forks the workers."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bws.secrets.preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._preloaded = False

    def v2_playbook_on_play_start(self, play):
        if self._preloaded:
            return
        self._preloaded = True
        for name in LOOKUPS:
            try:
                lookup_loader.get(name, class_only=True)
            except Exception as exc:  # never fail a play here: the task reports it properly
                self._display.vvv("bws.secrets.preload: %s not preloaded: %s" % (name, exc))
        try:
            for name in LAZY_MODULE_UTILS:  # what the lookups import only when they ask the server
                importlib.import_module(MODULE_UTILS + name)
            importlib.import_module(MODULE_UTILS + "_http").load_transport()
            importlib.import_module(MODULE_UTILS + "_crypto").warm_up()
        except Exception as exc:  # as above: a lookup that needs them fails in its task
            self._display.vvv("bws.secrets.preload: HTTP and ciphers not preloaded: %s" % exc)
