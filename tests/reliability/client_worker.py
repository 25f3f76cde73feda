"""Client processes for the concurrency tests: ``python client_worker.py '<job json>'``.

The job lists ``workers`` ({"mode": "ids"|"names", "terms": [...], "project": ...}). This
interpreter imports the client once, then forks one process per worker (real processes:
own pid, own HTTP session, own lock descriptor). With ``ready_dir`` each child announces
itself there; with ``go_file`` each waits for that file before connecting, so all start
together. Prints one JSON list, in worker order, of ``{"values": [...], "logins": n, "pid": p}``
or ``{"error": "..."}``.
"""

import json
import os
import sys
import time


def _child(job, worker, result_path):
    from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path
    from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect
    from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets

    if job.get("ready_dir"):
        open(os.path.join(job["ready_dir"], str(os.getpid())), "w").close()
    go_file = job.get("go_file")
    if go_file:  # bounded wait for the start signal
        deadline = time.monotonic() + 60
        while not os.path.exists(go_file) and time.monotonic() < deadline:
            time.sleep(0.002)
    try:
        client = connect(job["options"])
        if worker["mode"] == "names":
            source = SecretsCache(client, cache_path(client.auth.state_file)).secrets()
            found = find_secrets(client, worker["terms"], project=worker.get("project"), source=source)
        else:
            found = client.get_secrets(worker["terms"])
        result = {"values": [s.value for s in found], "logins": client.auth.logins}
    except BWSSDKError as exc:
        result = {"error": "%s: %s" % (type(exc).__name__, exc)}
    result["pid"] = os.getpid()
    with open(result_path + ".part", "w") as handle:
        json.dump(result, handle)
    os.rename(result_path + ".part", result_path)


def main():
    job = json.loads(sys.argv[1])
    sys.path.insert(0, job["collections"])
    # import before forking, so each child starts at once
    from ansible_collections.bws.secrets.plugins.module_utils import _cache, _options, _resolve  # noqa: F401

    result_dir = job["result_dir"]
    pids = []
    for index, worker in enumerate(job["workers"]):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _child(job, worker, os.path.join(result_dir, "%d.json" % index))
            except BaseException:  # a crash: report it through the missing result
                import traceback
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    results = []
    for index in range(len(job["workers"])):
        try:
            with open(os.path.join(result_dir, "%d.json" % index)) as handle:
                results.append(json.load(handle))
        except (OSError, ValueError):
            results.append({"error": "worker %d crashed (see stderr)" % index})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
