# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The sync cache options of the lookups (see module_utils/_cache.py).
    DOCUMENTATION = r"""
options:
  cache:
    description:
      - Keep what the sync endpoint returned in an encrypted cache file beside the state file
        (C(<state_dir>/<token id>.bws-secrets-cache), 0600, shared by every process using
        the token), and answer lookups by key name and with O(cache_ttl) from it.
      - A lookup then costs one cheap C(sync) request that says nothing changed, or no request
        at all within O(cache_ttl). Any change, error or doubt means a fresh fetch.
      - The server does not report a project renamed in the web vault (its secrets do not
        change), so the cache knows it by its old name too until a secret changes. Refer to
        projects by id, or set V(false), where the old name must fail at once.
      - Needs O(use_state_file). Lookups by id only, with O(cache_ttl=0), do not use it; they
        cost one C(get-by-ids) request.
      - With V(false), a lookup by key name fetches every secret visible to the machine account
        in one full C(sync) request and keeps nothing, and the hosts of a task do not share
        answers (O(share_across_hosts)).
    type: bool
    default: true
  cache_ttl:
    description:
      - Seconds during which the cache is trusted without asking the server. V(0) always asks
        the sync endpoint (one small request). A change made on the server within that time is
        not seen until it expires, but a name or id the cache lacks, or holds several times, is
        checked with one sync before it is an error.
      - Changes made by this collection's modules with the same token and O(state_dir) are seen
        at once, as they remove the cache (run them on the host the lookups run on, for example
        delegated to C(localhost)).
    type: int
    default: 0
  share_across_hosts:
    description:
      - Hosts running the same task share one answer from the server. Ansible evaluates a
        lookup once per host, each in its own worker process; the first of a task to ask
        sends the request, and the others, asking the same question (same terms and options),
        wait for its answer and send nothing. A task over 100 hosts then costs one request
        instead of 100, and every host gets the same value.
      - The answer is kept, encrypted like the cache, in
        C(<state_dir>/<token id>.bws-secrets-task-<controller pid>-<hash>) (0600). It is never
        used by another task, another batch of a play with C(serial), or another run of the
        playbook, nor after a minute (unless it came while that host waited for it), nor by the
        host that asked (asking again in the same task
        asks the server); writes by this collection's modules with the same token and
        O(state_dir) remove it, and files older than ten minutes or of a finished run are
        removed by the next task.
      - A secret not found, a key name held by several secrets, or a failure (a timeout, a server
        error, once the retries are spent) is an answer too; the other hosts get the same error
        at once without asking.
      - Needs O(cache) and O(use_state_file), and a batch of more than one host. It relies on
        how ansible-core runs tasks in worker processes (tested with ansible-core 2.16 to
        2.21); where that cannot be read, every host asks the server, as with V(false).
      - With V(false) (or without sharing), each host's worker loads Python's HTTP and TLS
        modules and sends its own request. In the collection's benchmark (C(docs/performance.md),
        2 cores) a lookup then costs roughly 20 to 40 ms of controller CPU per host over
        C(ansible.builtin.env), against 10 to 20 with shared answers. The C(bws.secrets.preload)
        callback loads those modules once in the controller instead.
    type: bool
    default: true
"""

    PLUGINS = r"""
options:
  cache:
    env:
      - name: BWS_CACHE
    ini:
      - section: bws_secrets
        key: cache
    vars:
      - name: bws_cache
  cache_ttl:
    env:
      - name: BWS_CACHE_TTL
    ini:
      - section: bws_secrets
        key: cache_ttl
    vars:
      - name: bws_cache_ttl
  share_across_hosts:
    env:
      - name: BWS_SHARE_ACROSS_HOSTS
    ini:
      - section: bws_secrets
        key: share_across_hosts
    vars:
      - name: bws_share_across_hosts
"""
