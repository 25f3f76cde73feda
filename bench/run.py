"""The benchmark of issue 6: ``make bench`` (``python bench/run.py``).

Builds and installs the collection, starts emulators on loopback, runs the playbook
scenarios (the ``ansible.builtin.env`` baseline and our lookup, interleaved), the
micro-benchmarks and the worker profile, and writes ``docs/performance.md``.

    python bench/run.py                 # the full run (about 20-25 minutes on 2 cores)
    python bench/run.py --quick         # a short run (under 3 minutes)
    python bench/run.py --reps 5 --out /tmp/perf.md --skip micro
    python bench/run.py --source /path/to/a/modified/tree   # benchmark another checkout

Every run checks the values it got; a wrong value or a failed play stops the benchmark
with exit code 1. Missed targets are reported, and with ``--strict`` also exit 1.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import micro  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402
import worker_costs  # noqa: E402
from common import ROOT, WORK, BenchError, World, log  # noqa: E402
from control import Emulator  # noqa: E402

PARTS = ("scenarios", "micro", "profile")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="a short run: fewer scenarios and repetitions")
    parser.add_argument("--reps", type=int, help="repetitions per scenario (default 3, quick 2; 20+ hosts at least %d)" % scenarios.PER_HOST_REPS)
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"), help="the report to write")
    parser.add_argument("--json", default=str(WORK / "results.json"), help="raw results (JSON)")
    parser.add_argument("--source", default=str(ROOT), help="the collection tree to build and measure")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[], help="skip a part (repeatable)")
    parser.add_argument("--report-only", metavar="JSON", help="only render the report from saved results")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 3
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def install(source):
    """Build ``source`` with its own scripts/collection.py and install it under .tmp/bench."""
    script = pathlib.Path(source) / "scripts" / "collection.py"
    spec = importlib.util.spec_from_file_location("bench_collection", str(script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dest = WORK / "collections"
    shutil.rmtree(dest, ignore_errors=True)
    return module.install(dest)


def run(args):
    """Every part not skipped; returns the results (JSON-friendly)."""
    started = time.time()
    results = {"machine": common.machine(), "args": {"quick": args.quick, "reps": args.reps,
                                                     "source": os.path.abspath(args.source)}}
    WORK.mkdir(parents=True, exist_ok=True)
    log("installing the collection from %s" % args.source)
    collections = install(args.source)
    client = micro.Client(collections)
    world, big_world = World(bench=10, filler=40), World(bench=0, filler=0, big=5000)
    results["world_secrets"] = world.size
    tmp = tempfile.mkdtemp(prefix="run-", dir=str(WORK))
    emulators = []
    try:
        seed = world.write_seed(tmp)
        emu = Emulator(seed=seed)
        tls_emu = Emulator(seed=seed, tls=True)
        for e in (emu, tls_emu):
            emulators.append(e)
            e.start()
        runner = scenarios.Runner(emu, world, collections, os.path.join(tmp, "http"),
                                  (client.connect, client.SecretsCache, client.cache_path))
        tls_runner = scenarios.Runner(tls_emu, world, collections, os.path.join(tmp, "tls"), runner.client)

        if "scenarios" not in args.skip:
            results["groups"] = []
            for group in scenarios.plan(args.quick, args.reps):
                log("scenario: %s (%d reps)" % (group.label, group.reps))
                (tls_runner if group.tls else runner).run_group(group)
                results["groups"].append(report.group_result(group, scenarios.summarize(group)))

        if "micro" not in args.skip:
            big_emu = Emulator(seed=big_world.write_seed(tmp), start_timeout=120)
            emulators.append(big_emu)
            big_emu.start()
            results["micro"] = micro.run_all(collections, emu, big_emu, big_world, quick=args.quick)

        if "profile" not in args.skip:
            results["profile"] = profile(runner, tls_emu, world, args.quick)
    finally:
        for e in emulators:
            e.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = time.time() - started
    return results


def profile(runner, tls_emu, world, quick):
    """Probe real workers, profile the lookup in worker-like interpreters, compare HTTP libraries."""
    shape = scenarios.Shape(10, 5, 5)
    variants = ((scenarios.ID_WARM,) if quick else
                (scenarios.ID_WARM, scenarios.NAME_WARM, scenarios.ID_TTL, scenarios.ID_WARM_NOSHARE))
    out = {"probes": []}
    for variant in variants:
        log("profile: probe, %s" % variant.name)
        out["probes"].append(worker_costs.probe(runner, shape, variant, world))
    first = out["probes"][0]
    log("profile: worker steps, imports and cProfile")
    state = runner.state_dir(scenarios.Group(shape, 0, variants[:1], 1), variants[0])
    runner.prepare(state, variants[0])
    out["worker"] = worker_costs.worker_profile(runner, world, first, 3 if quick else 7, variants[0].env(), state)
    log("profile: HTTP libraries")
    urls = {"http": (runner.emu.server_url + "/_admin/stats", None),
            "https": (tls_emu.server_url + "/_admin/stats", tls_emu.ca_file)}
    out["http"] = worker_costs.http_compare(first["modules_before"], urls, 2 if quick else 5)
    out["jwt_import_ms"] = worker_costs.jwt_import(first["modules_before"], 3 if quick else 5)
    for probe in out["probes"]:
        del probe["modules_before"]
    return out


def main(argv=None):
    args = parse_args(argv)

    if args.report_only:
        with open(args.report_only, encoding="utf-8") as handle:
            results = json.load(handle)
    else:
        try:
            results = run(args)
            results["args"]["argv"] = list(sys.argv[1:] if argv is None else argv)
        except BenchError as exc:
            log("BENCHMARK FAILED: %s" % exc)
            return 1
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, default=str)
    text, verdicts = report.render(results)
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(text, encoding="utf-8")
    log("wrote %s (%s)" % (args.out, ", ".join("%s %d" % (k, v) for k, v in sorted(verdicts.items()))))
    return 1 if args.strict and verdicts.get("MISS") else 0


if __name__ == "__main__":
    sys.exit(main())
