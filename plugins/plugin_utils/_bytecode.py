# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Let our lookups load this collection's Python with the usual ``__pycache__`` bytecode.

Ansible's collection loader compiles every collection module from source, in every process,
and keeps no ``.pyc``. A lookup runs in a freshly forked worker per host, so compiling our
``module_utils`` and ``plugin_utils`` cost each host-lookup about 25 ms of CPU
(docs/performance.md). ``use_bytecode_cache()`` puts a finder just before it that answers
only for the modules of those two packages, with the standard ``SourceFileLoader``: the
first process writes ``__pycache__/*.pyc`` next to the sources (when the directory is
writable), later ones read it. Packages, redirects and every other import stay with
Ansible's loader; when this finder declines, that loader does what it always did.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import sys

_PACKAGES = frozenset((
    "ansible_collections.bws.secrets.plugins.module_utils",
    "ansible_collections.bws.secrets.plugins.plugin_utils",
))


class BytecodeFinder:
    """A meta path finder for the plain modules of our ``module_utils`` and ``plugin_utils``."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        package, dummy, leaf = fullname.rpartition(".")
        if package not in _PACKAGES or not path:
            return None
        for directory in path:
            source = os.path.join(directory, leaf + ".py")
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None

    @staticmethod
    def invalidate_caches():
        return None


def use_bytecode_cache():
    """Install the finder once per process, right before Ansible's collection finder.

    Without that finder (our packages found on ``sys.path`` by Python itself) there is nothing
    to do: Python's own path finder already keeps bytecode. Finders placed ahead of Ansible's
    (such as ansible-test's import checker) keep their place.
    """
    if any(isinstance(finder, BytecodeFinder) for finder in sys.meta_path):
        return
    for index, finder in enumerate(sys.meta_path):
        if type(finder).__name__ == "_AnsibleCollectionFinder":
            sys.meta_path.insert(index, BytecodeFinder())
            return
