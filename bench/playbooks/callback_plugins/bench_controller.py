# A benchmark helper, not part of the collection: when the play ends, writes the CPU time the
# ansible-playbook process itself has used (not its workers') to $BENCH_CONTROLLER_OUT, so the
# benchmark can tell the controller's share of a play's CPU from the workers'.
from __future__ import annotations

DOCUMENTATION = r"""
name: bench_controller
type: aggregate
short_description: Record the controller's own CPU time (benchmark helper)
description: See the comment at the top of the file.
"""

import json
import os
import resource

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_controller"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_CONTROLLER_OUT")
        if path:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"cpu": usage.ru_utime + usage.ru_stime}, handle)
