# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Give Ansible our lookups' option definitions ready-made, so no worker parses their documentation.

Ansible builds a configurable plugin's option definitions (types, defaults, env/ini/vars
sources) by parsing its DOCUMENTATION and doc fragments with its YAML loader, in the first
process that loads the plugin. For a lookup that is every forked worker, once per host-lookup:
up to about 20 ms of CPU (docs/performance.md). The plugin loader skips that when the definitions are
already registered under the plugin's module name, so each lookup registers, when imported,
the ones in ``_option_defs.py``: Ansible's own parse of the same documentation, written by
``make docs`` and compared with a fresh parse on every supported ansible-core by the tests.

Anything unexpected (another layout of Ansible's configuration manager, a lookup without
generated definitions) registers nothing, and Ansible parses the documentation as it always did.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.bws.secrets.plugins.plugin_utils import _option_defs


def register_option_definitions(module_name):
    """Register the definitions of the lookup imported as ``module_name``; True if they were."""
    definitions = _option_defs.DEFINITIONS.get(module_name.rpartition(".")[2])
    if definitions is None:
        return False
    try:
        from ansible import constants as C

        config = C.config
        if config.has_configuration_definition("lookup", module_name):
            return False
        config.initialize_plugin_configuration_definitions("lookup", module_name, definitions)
    except (AttributeError, ImportError, TypeError):
        return False
    return True
