# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attributes of every module; a module may add its own details to one of them.
    # Modules that change things: full check and diff mode.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: No write request is sent in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  action_group:
    description: Use C(group/bws.secrets.bws) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - bws.secrets.bws
"""

    # Modules that only read.
    INFO_MODULE = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  action_group:
    description: Use C(group/bws.secrets.bws) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - bws.secrets.bws
"""
