# A benchmark helper, not part of the collection. In one template, query('bench_probe',
# 'x-start') ... query('bench_probe', 'x-end') measures what runs between the two calls in
# this forked worker: the end call writes $BENCH_PROBE_DIR/<pid>-x.json with the CPU time,
# the wall time, user/sys split, page faults, garbage collections (how many, and their CPU
# time) and the modules loaded.
from __future__ import annotations

DOCUMENTATION = r"""
name: bench_probe
short_description: Measure what runs between two calls (benchmark helper)
description: See the comment at the top of the file.
options:
  _terms:
    description: One label, C(<name>-start) or C(<name>-end).
    required: true
"""

import gc
import json
import os
import resource
import sys
import time

from ansible.plugins.lookup import LookupBase

_STARTED = {}
_GC_CPU = {"spent": 0.0, "since": 0.0}  # CPU seconds in garbage collections since the last start call


def _time_collections(phase, _info):
    """gc callback: add each collection's CPU time to _GC_CPU["spent"]."""
    if phase == "start":
        _GC_CPU["since"] = time.process_time()
    else:
        _GC_CPU["spent"] += time.process_time() - _GC_CPU["since"]


gc.callbacks.append(_time_collections)


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        label = str(terms[0])
        name, _sep, edge = label.rpartition("-")
        if edge == "start":
            modules = sorted(sys.modules)  # before the clock starts
            collections = [g["collections"] for g in gc.get_stats()]
            _GC_CPU["spent"] = 0.0
            _STARTED[name] = (modules, collections, resource.getrusage(resource.RUSAGE_SELF),
                              time.process_time(), time.perf_counter())
            return [label]
        cpu, wall = time.process_time(), time.perf_counter()  # first thing after the measured call
        usage = resource.getrusage(resource.RUSAGE_SELF)
        modules, collections, usage0, cpu0, wall0 = _STARTED.pop(name)
        record = {"name": name, "pid": os.getpid(), "cpu": cpu - cpu0, "wall": wall - wall0,
                  "user": usage.ru_utime - usage0.ru_utime, "sys": usage.ru_stime - usage0.ru_stime,
                  "minor_faults": usage.ru_minflt - usage0.ru_minflt,
                  "gc_collections": [g["collections"] - c for g, c in zip(gc.get_stats(), collections)],
                  "gc_ms": _GC_CPU["spent"] * 1e3, "modules_before": modules, "modules_after": sorted(sys.modules)}
        path = os.path.join(os.environ["BENCH_PROBE_DIR"], "%d-%s.json" % (os.getpid(), name.replace(" ", "_")))
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        return [label]
