"""What a forked worker imports and does for one lookup, and what HTTP library to use.

1. ``probe``: a real play (playbooks/probe.yml) where ``bench_probe`` samples the worker's
   CPU time, page faults and garbage collections right before and after one ``bws_secret``
   lookup (and one ``ansible.builtin.env`` lookup, and imports of each HTTP library and of
   PyJWT), and lists the modules loaded before and after; and ``bench_steps`` does what
   the lookup does in a worker one step at a time, each measured.
2. ``worker``: a fresh interpreter that first imports exactly the modules a worker had loaded
   before the lookup, then loads and runs the lookup through Ansible's plugin loader, as the
   worker does: in steps (``phases``), under ``-X importtime`` (imports by package) and under
   cProfile (top functions).
3. ``http``: the same preloaded interpreter imports one HTTP library (requests, urllib3,
   ansible.module_utils.urls, or the standard library's http.client + ssl) and sends one
   request, then keep-alive requests, to the emulator: import and per-request CPU.

This file is also the script those fresh interpreters run:
``python bench/worker_costs.py worker|http|import CONFIG.json``.
"""

import cProfile
import glob
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import BenchError, log, median  # noqa: E402

MARK = "BENCH-IMPORTS-START"
HTTP_LIBS = ("requests", "urllib3", "ansible.module_utils.urls", "http.client")
KEEPALIVE = 30


# --------------------------------------------------------------------------- in a fresh interpreter

def _preload(modules):
    """Import what the worker had loaded (errors ignored: some are not importable by name)."""
    for name in modules:
        if name.startswith(("ansible_collections", "__", "_pytest")) or name in sys.modules:
            continue
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - anything a stray module raises on import
            pass


def worker_main(config):
    """Load and run the lookup like a forked worker; print one JSON line of timings (CPU ms).

    The parent of a real worker has already run a play: Ansible's own routing metadata is
    loaded and builtin lookups work. One ``ansible.builtin.env`` lookup reproduces that
    before anything is measured. In ``phases`` mode the third-party libraries the lookup
    imports are imported one by one first, so each gets its own line.
    """
    _preload(config["modules"])
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader, lookup_loader
    from ansible.template import Templar

    init_plugin_loader([config["collections"]])
    loader = DataLoader()
    templar = Templar(loader=loader)
    lookup_loader.get("ansible.builtin.env", loader=loader, templar=templar).run(["HOME"], variables={})
    out = {"steps": []}
    if config["mode"] == "phases":
        for name in config["preimport"]:
            if name in sys.modules:
                continue
            before = set(sys.modules)
            cpu = time.process_time()
            __import__(name)
            spent = (time.process_time() - cpu) * 1e3
            roots = sorted(set(m.split(".")[0] for m in set(sys.modules) - before) - {name.split(".")[0]})
            out["steps"].append(("import %s%s" % (name, " (with %s)" % ", ".join(roots) if roots else ""), spent))
    profiler = cProfile.Profile() if config["mode"] == "cprofile" else None
    if config["mode"] == "phases":
        out["steps"] += _plugin_steps(lookup_loader, config["collections"])
    sys.stderr.write(MARK + "\n")
    sys.stderr.flush()
    cpu0 = time.process_time()
    if profiler:
        profiler.enable()
    lookup = lookup_loader.get("bws.secrets.bws_secret", loader=loader, templar=templar)
    cpu1 = time.process_time()
    first = lookup.run(config["terms"], variables={})
    if profiler:
        profiler.disable()
    cpu2 = time.process_time()
    second = lookup.run(config["terms"], variables={})
    cpu3 = time.process_time()
    if list(first) != config["expected"] or list(second) != config["expected"]:
        print(json.dumps({"error": "wrong values"}))
        return 1
    out["steps"] += [("load the plugin" if config["mode"] != "phases" else "the plugin module and instance",
                      (cpu1 - cpu0) * 1e3), ("first run (connect from the state file, one request, decrypt)",
                                             (cpu2 - cpu1) * 1e3)]
    out["second_run_ms"] = (cpu3 - cpu2) * 1e3
    out["compile_ms"] = _compile_ours()
    if config["mode"] == "phases":  # what the ready-made definitions spare (under another name: not ours)
        out["docs_parse_ms"] = _parse_documentation(lookup_loader, config["collections"], "bench.docs.reference")
    if profiler:
        out["top"] = _top_functions(profiler)
    print(json.dumps(out))
    return 0


def _plugin_steps(lookup_loader, collections):
    """Time what loading the plugin does, in two parts: its option definitions (registered
    ready-made, or in trees from before that, Ansible parsing the documentation and doc
    fragments), and importing our modules."""
    import importlib

    name = lookup_loader.find_plugin_with_context("bws.secrets.bws_secret").plugin_resolved_name
    steps = []
    cpu = time.process_time()
    try:  # as the plugin does first, so our modules come from their .pyc (trees without it: compiled)
        importlib.import_module("ansible_collections.bws.secrets.plugins.plugin_utils._bytecode").use_bytecode_cache()
    except ImportError:
        pass
    try:
        config_defs = importlib.import_module("ansible_collections.bws.secrets.plugins.plugin_utils._config_defs")
    except ImportError:
        steps.append(("Ansible parses the plugin's documentation and doc fragments", _parse_documentation(
            lookup_loader, collections, name)))
    else:
        if not config_defs.register_option_definitions(name):
            raise BenchError("the lookup's ready-made option definitions were not registered")
        steps.append(("option definitions, ready-made (`plugin_utils/_option_defs.py`)",
                      (time.process_time() - cpu) * 1e3))
    cpu = time.process_time()
    importlib.import_module("ansible_collections.bws.secrets.plugins.plugin_utils._lookup_base")
    steps.append(("our modules (plugin_utils, module_utils): compile or .pyc, and run",
                  (time.process_time() - cpu) * 1e3))
    return steps


def _parse_documentation(lookup_loader, collections, name):
    """CPU ms of Ansible turning the lookup's documentation into option definitions, as its plugin
    loader does for a plugin without registered ones (under ``name``)."""
    import types

    path, doc = _documentation(collections)
    cpu = time.process_time()
    lookup_loader._load_config_defs(name, types.SimpleNamespace(DOCUMENTATION=doc), path)
    return (time.process_time() - cpu) * 1e3


def _compile_ours():
    """CPU ms to compile the sources of our modules loaded in this process (what the
    collection loader does in every worker, as it keeps no .pyc)."""
    total = 0.0
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        cached = getattr(module, "__cached__", None)
        if cached and os.path.exists(cached):
            continue  # loaded from a .pyc
        if name.startswith("ansible_collections.bws.secrets.") and path.endswith(".py"):
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            cpu = time.process_time()
            compile(source, path, "exec", dont_inherit=True)
            total += time.process_time() - cpu
    return total * 1e3


def _top_functions(profiler, limit=25):
    stats = pstats.Stats(profiler).stats
    rows = []
    for (path, line, func), (_primitive, calls, tottime, cumtime, _callers) in stats.items():
        rows.append({"where": _short_path(path, line, func), "calls": calls, "self_ms": tottime * 1e3,
                     "cum_ms": cumtime * 1e3})
    by_self = sorted(rows, key=lambda r: -r["self_ms"])[:limit]
    by_cum = sorted(rows, key=lambda r: -r["cum_ms"])
    return {"self": by_self, "cum": by_cum[:200]}


def _short_path(path, line, func):
    path = re.sub(r"^.*?(site-packages|ansible_collections|lib/python3\.\d+)/", "", path)
    return "%s:%d(%s)" % (path, line, func) if line else func


def http_main(config):
    """Import one HTTP library, send one request, then keep-alive requests; print timings."""
    _preload(config["modules"])
    lib, url, cafile = config["lib"], config["url"], config.get("cafile")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    send = _client(lib, cafile)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    body = send(url)
    cpu2, wall2 = time.process_time(), time.perf_counter()
    for _request in range(KEEPALIVE):
        body = send(url)
    cpu3 = time.process_time()
    if not isinstance(json.loads(body), dict):
        return 1
    print(json.dumps({"import_ms": (cpu1 - cpu0) * 1e3, "import_wall_ms": (wall1 - wall0) * 1e3,
                      "first_ms": (cpu2 - cpu1) * 1e3, "first_wall_ms": (wall2 - wall1) * 1e3,
                      "next_ms": (cpu3 - cpu2) * 1e3 / KEEPALIVE}))
    return 0


def _client(lib, cafile):
    """A ``send(url) -> bytes`` keeping one connection open where the library can."""
    if lib == "requests":
        import requests
        session = requests.Session()
        return lambda url: session.get(url, timeout=10, verify=cafile or True).content
    if lib == "urllib3":
        import urllib3
        pool = urllib3.PoolManager(ca_certs=cafile) if cafile else urllib3.PoolManager()
        return lambda url: pool.request("GET", url, timeout=10.0).data
    if lib == "ansible.module_utils.urls":
        from ansible.module_utils.urls import Request
        request = Request(ca_path=cafile) if cafile else Request()
        return lambda url: request.open("GET", url, timeout=10).read()  # urllib: a new connection each time
    import http.client
    import ssl
    import urllib.parse
    connections = {}

    def send(url):
        parts = urllib.parse.urlsplit(url)
        conn = connections.get(parts.netloc)
        if conn is None:
            if parts.scheme == "https":
                context = ssl.create_default_context(cafile=cafile)
                conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=10, context=context)
            else:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connections[parts.netloc] = conn
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        return conn.getresponse().read()
    return send


# --------------------------------------------------------------------------- from the benchmark

def _spawn(kind, config, env=None, importtime=False):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    try:
        cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + [os.path.abspath(__file__), kind,
                                                                                 handle.name]
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
                              check=False)
    finally:
        os.unlink(handle.name)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise BenchError("%s %s failed (%d):\n%s\n%s" % (kind, config.get("lib", ""), proc.returncode,
                                                         proc.stdout[-2000:], proc.stderr[-3000:]))
    result = json.loads(lines[-1])
    if "error" in result:
        raise BenchError("%s: %s" % (kind, result["error"]))
    return result, proc.stderr


PROBE_TASKS = 10  # tasks of playbooks/probe.yml, each ok on every host
DOCS_STUB = '''# Generated by bench/worker_costs.py: a lookup that does nothing but take the options of
# bws.secrets.bws_secret, with its documentation (and doc fragments), to measure what Ansible
# spends loading such a plugin in a worker.
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = %r


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return list(terms)
'''


def _documentation(collections):
    """(path, DOCUMENTATION) of the installed bws_secret lookup, read without importing it."""
    import ast

    path = os.path.join(collections, "ansible_collections", "bws", "secrets", "plugins", "lookup", "bws_secret.py")
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    assigns = [node for node in tree.body if isinstance(node, ast.Assign)]
    return path, next(node.value.value for node in assigns if getattr(node.targets[0], "id", "") == "DOCUMENTATION")


def write_docs_stub(collections, directory):
    """Write ``bench_docs.py`` (see DOCS_STUB) into ``directory``; return the directory."""
    doc = _documentation(collections)[1].replace("name: bws_secret", "name: bench_docs", 1)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "bench_docs.py"), "w", encoding="utf-8") as handle:
        handle.write(DOCS_STUB % doc)
    return directory


def probe(runner, shape, variant, world):
    """Run playbooks/probe.yml: per-call CPU in real forked workers, and what the lookup loaded."""
    from scenarios import Group, validate_run

    probe_dir = tempfile.mkdtemp(prefix="bench-probe-")
    state = runner.state_dir(Group(shape, 0, (variant,), 1), variant)
    runner.prepare(state, variant)
    stubs = write_docs_stub(runner.collections, os.path.join(probe_dir, "plugins"))
    env = runner.base_env(dict(variant.env(), BWS_STATE_DIR=str(state), BENCH_PROBE_DIR=probe_dir,
                               ANSIBLE_LOOKUP_PLUGINS=stubs))
    try:
        proc, _measured = runner.run("probe.yml", shape, variant.by, env)
        validate_run(proc.returncode, proc.stdout, shape.hosts, tasks=PROBE_TASKS)
        records = {}
        for path in glob.glob(os.path.join(probe_dir, "*.json")):
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
            records.setdefault(record["name"], []).append(record)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    for name, rows in records.items():
        if len(rows) != shape.hosts:
            raise BenchError("the probe recorded %d %r calls for %d hosts" % (len(rows), name, shape.hosts))

    def med(name, key, scale=1e3):
        return median([r[key] for r in records[name]]) * scale

    sample = records["bws"][0]
    labels = [step["step"] for step in records["steps"][0]["steps"]]
    steps = [{"step": label,
              "cpu_ms": median([r["steps"][i]["cpu"] for r in records["steps"]]) * 1e3,
              "minor_faults": median([r["steps"][i]["minor_faults"] for r in records["steps"]])}
             for i, label in enumerate(labels)]
    return {
        "variant": variant.name, "hosts": shape.hosts,
        "env_cpu_ms": med("env", "cpu"), "bws_cpu_ms": med("bws", "cpu"), "bws_wall_ms": med("bws", "wall"),
        "docs_stub_cpu_ms": med("docs", "cpu"), "gc_ms": med("bws", "gc_ms", 1),
        "bws_user_ms": med("bws", "user"), "bws_sys_ms": med("bws", "sys"),
        "bws_minor_faults": med("bws", "minor_faults", 1), "env_minor_faults": med("env", "minor_faults", 1),
        "bws_gc": [median([r["gc_collections"][i] for r in records["bws"]]) for i in range(3)],
        "imports_ms": dict((name[len("import "):], med(name, "cpu")) for name in records if name.startswith("import ")),
        "steps": steps, "steps_had": records["steps"][0]["had"],
        "modules_before": sample["modules_before"],
        "modules_new": sorted(set(sample["modules_after"]) - set(sample["modules_before"])),
    }


# Imported one by one before the plugin in "phases" mode (those the lookup imports), in this
# order: what any HTTP client needs, then urllib3, then what requests adds, then PyJWT.
PREIMPORT = ("http.client", "ssl", "urllib3", "requests", "jwt")


def worker_profile(runner, world, probe_result, reps, variant_env, state_dir):
    """Steps (median of ``reps`` fresh interpreters), imports by package, cProfile top functions."""
    terms = [row.id for row in world.bench[:5]]
    new = set(probe_result["modules_new"])
    config = {"modules": probe_result["modules_before"], "collections": runner.collections, "terms": terms,
              "expected": [row.value for row in world.bench[:5]],
              "preimport": [name for name in PREIMPORT if name in new]}
    env = runner.base_env(dict(variant_env, BWS_STATE_DIR=str(state_dir)))
    phases = [_spawn("worker", dict(config, mode="phases"), env)[0] for _run in range(max(3, reps))]
    imports = []
    for _run in range(max(2, reps // 2)):
        _out, stderr = _spawn("worker", dict(config, mode="importtime"), env, importtime=True)
        imports.append(_imports_by_package(stderr))
    profiled, _stderr = _spawn("worker", dict(config, mode="cprofile"), env)
    packages = sorted(set(p for run in imports for p in run))
    steps = [(step[0], median([p["steps"][i][1] for p in phases])) for i, step in enumerate(phases[0]["steps"])]
    return {
        "steps": steps,
        "total_ms": sum(step[1] for step in steps),
        "second_run_ms": median([p["second_run_ms"] for p in phases]),
        "docs_parse_ms": median([p["docs_parse_ms"] for p in phases]),
        "compile_ms": median([p["compile_ms"] for p in phases]),
        "imports": sorted(((p, median([run.get(p, 0.0) for run in imports])) for p in packages),
                          key=lambda item: -item[1]),
        "top": profiled["top"],
    }


def _imports_by_package(stderr):
    """{package: self ms} of the imports logged by -X importtime after MARK."""
    totals = {}
    started = False
    for line in stderr.splitlines():
        if line.strip() == MARK:
            started = True
            continue
        if not started or not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3:
            continue
        name = fields[2].strip()
        totals[_package(name)] = totals.get(_package(name), 0.0) + int(fields[0]) / 1000.0
    return totals


def _package(module):
    parts = module.split(".")
    if parts[0] == "ansible_collections":
        return "bws.secrets (our code)" \
            if parts[1:3] == ["bws", "secrets"] else "other collections"
    if parts[0] == "ansible":
        return "ansible." + parts[1] if len(parts) > 1 else "ansible"
    if parts[0] in getattr(sys, "stdlib_module_names", ()):
        return "stdlib: " + parts[0]
    return parts[0]


def http_compare(modules, urls, reps):
    """{lib: {scheme: timings}}: import and per-request client CPU, medians of fresh interpreters."""
    out = {}
    for lib in HTTP_LIBS:
        out[lib] = {}
        for scheme, (url, cafile) in urls.items():
            runs = [_spawn("http", {"modules": modules, "lib": lib, "url": url, "cafile": cafile})[0]
                    for _run in range(reps)]
            out[lib][scheme] = dict((key, median([r[key] for r in runs])) for key in runs[0])
        log("  %-28s import %5.1f ms  first request %5.1f ms  next %5.2f ms" % (
            lib, out[lib]["http"]["import_ms"], out[lib]["http"]["first_ms"], out[lib]["http"]["next_ms"]))
    return out


def jwt_import(modules, reps):
    """Import CPU (ms) of PyJWT in a fresh interpreter preloaded with the worker's modules."""
    runs = [_spawn("import", {"modules": modules, "name": "jwt"})[0]["ms"] for _run in range(reps)]
    return median(runs)


def import_main(config):
    """Import one module after the preload; print its import CPU."""
    _preload(config["modules"])
    cpu = time.process_time()
    __import__(config["name"])
    print(json.dumps({"ms": (time.process_time() - cpu) * 1e3}))
    return 0


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as config_file:
        cfg = json.load(config_file)
    sys.exit({"worker": worker_main, "http": http_main, "import": import_main}[kind](cfg))
