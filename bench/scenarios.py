"""Playbook scenarios: the env baseline and our lookup, interleaved, against the emulator.

A *group* fixes the shape (hosts x secrets, forks), the injected latency and the scheme; its
*subjects* are the baseline and variants of our lookup (by id or key name, cold or warm,
cache on, off or with a TTL). Each repetition runs every subject once, in the same order
(baseline, v1, v2, ..., baseline, v1, ...), so drift hits all subjects alike. Every run is
checked: exit code, no traceback, and each host's recap ``ok=2 failed=0`` (the play's
assert compares what the lookup returned with the seeded values).
"""

import json
import pathlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from common import (BENCH_PROJECT, PLAYBOOKS, BenchError, Measure, env_name, log, median)

import collection  # noqa: E402  (scripts/, put on sys.path by common)

LOGIN = "POST /connect/token"
SHORT_ROUTES = {
    LOGIN: "login",
    "POST /secrets/get-by-ids": "get-by-ids",
    "GET /organizations/{org}/secrets/sync": "sync",
    "GET /organizations/{org}/secrets": "list",
    "GET /projects/{id}/secrets": "list-project",
    "GET /secrets/{id}": "get",
}


@dataclass(frozen=True)
class Shape:
    hosts: int
    secrets: int
    forks: int

    @property
    def label(self):
        return "%d host%s x %d secret%s, forks %d" % (
            self.hosts, "s" * (self.hosts > 1), self.secrets, "s" * (self.secrets > 1), self.forks)


@dataclass(frozen=True)
class Variant:
    """One way of using our lookup."""

    name: str
    by: str  # "id" or "name"
    warm: bool  # state file (and cache) present before the run
    cache: bool = True
    ttl: int = 0
    preload: bool = False  # the bws.secrets.preload callback enabled
    share: bool = True  # share_across_hosts: the hosts of a task share one answer
    trust: str = "ca_path"  # over TLS: "ca_path" (BWS_CA_PATH), or the system store (see SYSTEM_STORES)

    @property
    def comparison(self):
        """Measured for comparison only (not our settings but the machine's): no target applies."""
        return self.trust == "whole bundle"

    @property
    def asks_per_host(self):
        """Every host asks the server: nothing is shared across the hosts of a task."""
        return not (self.cache and self.share)

    def env(self):
        env = {"BWS_CACHE": "true" if self.cache else "false", "BWS_CACHE_TTL": str(self.ttl),
               "BWS_SHARE_ACROSS_HOSTS": "true" if self.share else "false"}
        if self.preload:
            env["ANSIBLE_CALLBACKS_ENABLED"] = "bws.secrets.preload"
        if self.by == "name":
            env["BWS_PROJECT"] = BENCH_PROJECT
        return env


ID_COLD = Variant("id, cold", "id", False)
ID_WARM = Variant("id, warm", "id", True)
ID_TTL = Variant("id, warm, cache_ttl=60", "id", True, ttl=60)
NAME_COLD = Variant("name, cold", "name", False)
NAME_WARM = Variant("name, warm", "name", True)
NAME_NOCACHE = Variant("name, warm, cache=false", "name", True, cache=False)
NAME_TTL = Variant("name, warm, cache_ttl=60", "name", True, ttl=60)
NAME_TTL_COLD = Variant("name, cold, cache_ttl=60", "name", False, ttl=60)
ID_WARM_PRELOAD = Variant("id, warm, preload", "id", True, preload=True)
NAME_WARM_PRELOAD = Variant("name, warm, preload", "name", True, preload=True)
# Every host asks the server, as before answers were shared (and as with cache=false)
ID_WARM_NOSHARE = Variant("id, warm, share_across_hosts=false", "id", True, share=False)
NAME_WARM_NOSHARE = Variant("name, warm, share_across_hosts=false", "name", True, share=False)
ID_WARM_NOSHARE_PRELOAD = Variant("id, warm, share_across_hosts=false, preload", "id", True, preload=True, share=False)
# Over TLS with no ca_path, as against the Bitwarden cloud: the system store trusts the server
ID_WARM_SYSTEM = Variant("id, warm, system CA store", "id", True, trust="system")
ID_WARM_BUNDLE = Variant("id, warm, system CA store without a hashed directory", "id", True, trust="whole bundle")
ALL_VARIANTS = (ID_COLD, ID_WARM, ID_TTL, NAME_COLD, NAME_WARM, NAME_NOCACHE, NAME_TTL, NAME_TTL_COLD,
                ID_WARM_PRELOAD, NAME_WARM_PRELOAD, ID_WARM_NOSHARE, NAME_WARM_NOSHARE, ID_WARM_NOSHARE_PRELOAD)
ZERO_LATENCY_VARIANTS = (ID_COLD, ID_WARM, NAME_COLD, NAME_WARM, NAME_NOCACHE, NAME_TTL, ID_WARM_PRELOAD,
                         ID_WARM_NOSHARE)
LATENCY_VARIANTS = (ID_COLD, ID_WARM, NAME_WARM, ID_WARM_PRELOAD, ID_WARM_NOSHARE)
BASELINE = "baseline (env)"
# The baseline again, run last in each repetition of a group of 20+ hosts (where the variants
# run, the furthest from the baseline they are paired with): an A/A control, its "CPU over
# the baseline" is the noise a per-host figure carries in that group.
CONTROL = "control: the baseline again"
HEADLINE = Shape(20, 5, 5)
PER_HOST_MIN = 20  # plays of fewer hosts get no per-host figure: one run's noise swamps the difference
# A play's CPU moves by about 10% between two runs of the same subject (about 10 ms per host
# at 20 hosts, mostly in ansible-playbook's own process): one group's median of 7 repetitions
# moved by 5-15 ms per host from one full run to the next; 11 narrow that.
PER_HOST_REPS = 11


@dataclass
class Group:
    """A shape at a latency (over TLS or not): the subjects compared, and their runs."""

    shape: Shape
    latency_ms: int
    variants: tuple
    reps: int
    tls: bool = False
    runs: dict = field(default_factory=dict)  # subject name -> [run dict]

    @property
    def label(self):
        return "%s, %d ms%s" % (self.shape.label, self.latency_ms, ", TLS" if self.tls else "")

    @property
    def headline(self):
        return self.shape == HEADLINE and self.latency_ms == 0 and not self.tls

    @property
    def subjects(self):
        """The order of one repetition: the baseline, the variants, and for 20+ hosts the control."""
        return [BASELINE] + list(self.variants) + ([CONTROL] if self.shape.hosts >= PER_HOST_MIN else [])


def plan(quick, reps):
    """The groups to run: the matrix of issue 6 (every variant in the headline group), or a
    short subset with ``quick``."""
    if quick:
        return [Group(Shape(1, 1, 5), 0, (ID_WARM, NAME_WARM), reps),
                Group(HEADLINE, 0, (ID_COLD, ID_WARM, NAME_WARM, NAME_TTL, ID_WARM_PRELOAD, NAME_WARM_PRELOAD,
                                    ID_WARM_NOSHARE), reps),
                Group(HEADLINE, 20, (ID_WARM, ID_WARM_PRELOAD), reps),
                Group(HEADLINE, 0, (ID_WARM, ID_WARM_SYSTEM, ID_WARM_BUNDLE), reps, tls=True)]
    shapes = (Shape(1, 1, 5), Shape(1, 10, 5), Shape(20, 1, 5), HEADLINE, Shape(50, 5, 10))
    # a per-host figure is a small difference of two plays' totals divided by many hosts: the groups
    # it is judged on get at least PER_HOST_REPS repetitions (one run's CPU varies by 10-15% on a busy machine)
    many = max(reps, PER_HOST_REPS)
    groups = [Group(s, 0, ALL_VARIANTS, many) if s == HEADLINE
              else Group(s, 0, ZERO_LATENCY_VARIANTS, many if s.hosts >= PER_HOST_MIN else reps) for s in shapes]
    groups += [Group(s, 20, LATENCY_VARIANTS, many if s.hosts >= PER_HOST_MIN else reps) for s in shapes]
    groups.append(Group(HEADLINE, 0, (ID_WARM, NAME_WARM, ID_WARM_PRELOAD, ID_WARM_NOSHARE, ID_WARM_NOSHARE_PRELOAD,
                                      ID_WARM_SYSTEM, ID_WARM_BUNDLE), many, tls=True))
    return groups


_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def validate_run(returncode, output, hosts, tasks=2):
    """Raise BenchError unless the play succeeded on every host (its assert checked the values)."""
    tail = output[-3000:]
    if returncode != 0:
        raise BenchError("ansible-playbook exited %d:\n%s" % (returncode, tail))
    if "Traceback" in output:
        raise BenchError("a traceback in the output:\n%s" % tail)
    recap = _RECAP.findall(output)
    if len(recap) != hosts:
        raise BenchError("expected %d hosts in the recap, found %d:\n%s" % (hosts, len(recap), tail))
    bad = [name for name, ok, unreachable, failed in recap if int(ok) != tasks or int(unreachable) or int(failed)]
    if bad:
        raise BenchError("hosts without ok=%d failed=0: %s\n%s" % (tasks, ", ".join(bad[:5]), tail))


class Runner:
    """Runs the play of a subject against one emulator, measured and checked."""

    def __init__(self, emulator, world, collections, workdir, client):
        self.emu = emulator
        self.world = world
        self.collections = collections
        self.workdir = pathlib.Path(workdir)
        self.client = client  # the installed module_utils, to warm state directories in-process
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token = emulator.info["tokens"]["bench"]

    def base_env(self, extra=None):
        env = collection.playbook_env(self.collections, self.workdir, BWS_ACCESS_TOKEN=self.token,
                                      BWS_SERVER_URL=self.emu.info["server_url"],
                                      PYTHONDONTWRITEBYTECODE=None)  # plugin files get their .pyc, as usual
        if self.emu.ca_file:
            env["BWS_CA_PATH"] = self.emu.ca_file
        for index, row in enumerate(self.world.bench, 1):
            env[env_name(index)] = row.value
        env.update(extra or {})
        return dict((name, value) for name, value in env.items() if value is not None)

    def trust_env(self, variant):
        """The environment of a variant's TLS trust: BWS_CA_PATH, or a system store that knows the server."""
        if not self.emu.ca_file or variant.trust == "ca_path":
            return {}
        bundle, hashed, plain = system_store(self.workdir / "system-store", self.emu.ca_file)
        return {"BWS_CA_PATH": None, "REQUESTS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None, "SSL_CERT_FILE": bundle,
                "SSL_CERT_DIR": hashed if variant.trust == "system" else plain}

    def inventory(self, hosts):
        path = self.workdir / ("hosts-%d.ini" % hosts)
        if not path.exists():
            path.write_text("[all]\nh[001:%03d] ansible_connection=local ansible_python_interpreter=%s\n"
                            % (hosts, sys.executable))
        return path

    def extravars(self, secrets, by):
        rows = self.world.bench[:secrets]
        path = self.workdir / ("vars-%d-%s.json" % (secrets, by))
        path.write_text(json.dumps({
            "bench_terms": [row.id if by == "id" else row.key for row in rows],
            "bench_env_names": [env_name(i) for i in range(1, secrets + 1)],
            "bench_expected": [row.value for row in rows],
        }))
        return path

    def state_dir(self, group, variant):
        slug = re.sub(r"[^a-z0-9]+", "-", ("%s-%s" % (group.label, variant.name)).lower()).strip("-")
        return self.workdir / "state" / slug

    def prepare(self, path, variant):
        """Cold: an empty state directory. Warm: a fresh login state and a just-synced cache."""
        if not variant.warm:
            shutil.rmtree(path, ignore_errors=True)
            return
        connect, cache_class, cache_path = self.client
        options = {"access_token": self.token, "server_url": self.emu.info["server_url"], "state_dir": str(path)}
        if self.emu.ca_file:
            options["ca_path"] = self.emu.ca_file
        client = connect(options)
        if variant.cache:
            cache_class(client, cache_path(client.auth.state_file)).secrets()
        client.http.close()

    def run(self, playbook, shape, by, env):
        """Run a play, measured; ``measured.controller`` is the CPU of ansible-playbook's own
        process (the bench_controller callback), the rest of ``measured.children`` its workers'."""
        cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(self.inventory(shape.hosts)),
               str(PLAYBOOKS / playbook), "-e", "@%s" % self.extravars(shape.secrets, by),
               "--forks", str(shape.forks)]
        out = self.workdir / "controller.json"
        enabled = [name for name in (env.get("ANSIBLE_CALLBACKS_ENABLED"), "bench_controller") if name]
        env = dict(env, ANSIBLE_CALLBACK_PLUGINS=str(PLAYBOOKS / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED=",".join(enabled), BENCH_CONTROLLER_OUT=str(out))
        if out.exists():
            out.unlink()
        self.emu.reset()
        with Measure() as measured:
            proc = subprocess.run(cmd, env=env, cwd=str(self.workdir), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
        measured.controller = json.loads(out.read_text())["cpu"] if out.exists() else None
        return proc, measured

    def run_subject(self, group, subject):
        """One measured, checked run; returns {"wall", "cpu", "routes", "logins"}."""
        if subject in (BASELINE, CONTROL):
            proc, measured = self.run("baseline.yml", group.shape, "id", self.base_env())
        else:
            state = self.state_dir(group, subject)
            self.prepare(state, subject)
            env = self.base_env(dict(subject.env(), BWS_STATE_DIR=str(state), **self.trust_env(subject)))
            proc, measured = self.run("bws.yml", group.shape, subject.by, env)
        validate_run(proc.returncode, proc.stdout, group.shape.hosts)
        routes = self.emu.stats()["routes"]
        if measured.controller is None:
            raise BenchError("the bench_controller callback recorded nothing")
        return {"wall": measured.wall, "cpu": measured.children, "controller": measured.controller, "routes": routes}

    def run_group(self, group):
        self.emu.faults({"latency_ms": group.latency_ms} if group.latency_ms else {})
        try:
            for rep in range(group.reps):
                for subject in group.subjects:
                    name = subject if isinstance(subject, str) else subject.name
                    result = self.run_subject(group, subject)
                    group.runs.setdefault(name, []).append(result)
                    log("  %-44s rep %d/%d  wall %6.2f s  cpu %6.2f s  %s" % (
                        name, rep + 1, group.reps, result["wall"], result["cpu"], routes_text(result["routes"])))
        finally:
            self.emu.faults({})


def system_store(directory, extra_ca):
    """This machine's system CA store plus ``extra_ca``, for SSL_CERT_FILE and SSL_CERT_DIR:
    (bundle, hashed directory, directory without hash names). The bundle is the system's
    (every certificate, as OpenSSL's default file) with the emulator's CA appended; the hashed
    directory links every hashed entry of the system's and adds the CA under its subject hash."""
    import ssl

    directory = pathlib.Path(directory)
    bundle, hashed, plain = directory / "bundle.pem", directory / "certs", directory / "plain"
    if bundle.exists():
        return str(bundle), str(hashed), str(plain)
    paths = ssl.get_default_verify_paths()
    if not (paths.cafile and paths.capath):
        raise BenchError("this machine has no system CA bundle and directory (%s) to measure" % (paths,))
    for path in (hashed, plain):
        path.mkdir(parents=True)
    ca = pathlib.Path(extra_ca).read_bytes()
    bundle.write_bytes(pathlib.Path(paths.cafile).read_bytes().rstrip(b"\n") + b"\n" + ca)
    for entry in pathlib.Path(paths.capath).iterdir():
        if re.match(r"[0-9a-f]{8}\.[0-9]+$", entry.name):
            (hashed / entry.name).symlink_to(entry.resolve())
    digest = subprocess.run(["openssl", "x509", "-subject_hash", "-noout", "-in", str(extra_ca)], check=True,
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    index = 0
    while (hashed / ("%s.%d" % (digest, index))).exists():
        index += 1
    (hashed / ("%s.%d" % (digest, index))).write_bytes(ca)
    return str(bundle), str(hashed), str(plain)


def routes_text(routes):
    """``login 1, get-by-ids 20`` (routes in a stable order)."""
    if not routes:
        return "none"
    return ", ".join("%s %s" % (SHORT_ROUTES.get(route, route), _num(count))
                     for route, count in sorted(routes.items(), key=lambda item: (item[0] != LOGIN, item[0])))


def _num(value):
    return "%d" % value if float(value).is_integer() else "%.1f" % value


def _against(runs, base, hosts):
    """A subject's medians, and its runs paired with the baseline's: ratios and per-host differences."""
    return {"wall": median([r["wall"] for r in runs]), "cpu": median([r["cpu"] for r in runs]),
            "wall_ratio": _paired_ratio(runs, base, "wall"), "cpu_ratio": _paired_ratio(runs, base, "cpu"),
            "cpu_over_ms": _paired_over_ms(runs, base, "cpu", hosts),
            "controller_over_ms": _paired_over_ms(runs, base, "controller", hosts),
            "cpu_runs": [r["cpu"] for r in runs], "wall_runs": [r["wall"] for r in runs]}


def _paired_ratio(runs, base, key):
    """Median over the repetitions of run[key] / baseline[key], each run over the baseline of its
    own repetition, as the per-host differences are paired."""
    return median([r[key] / b[key] for r, b in zip(runs, base)])


def _paired_over_ms(runs, base, key, hosts):
    """Median over the repetitions of run[key] - baseline[key], in ms per host (None if unmeasured)."""
    if any(r.get(key) is None for r in list(runs) + list(base)):
        return None
    return median([r[key] - b[key] for r, b in zip(runs, base)]) * 1000.0 / hosts


def summarize(group):
    """Medians per subject, ratios to the baseline, and the request counts of each run.

    Ratios and CPU over the baseline per host-lookup are paired: the median, over the
    repetitions, of each run's wall or CPU over (or minus) the baseline's of the same
    repetition (run before it, interleaved), so that a drift of the machine's speed during the
    group cancels instead of adding to the comparison.
    """
    base = group.runs[BASELINE]
    base_wall, base_cpu = median([r["wall"] for r in base]), median([r["cpu"] for r in base])
    rows = [{"subject": BASELINE, "wall": base_wall, "cpu": base_cpu, "wall_ratio": 1.0, "cpu_ratio": 1.0,
             "cpu_over_ms": 0.0, "routes": {}, "requests": 0, "logins": 0, "max_requests": 0, "max_logins": 0,
             "controller_over_ms": 0.0, "cpu_runs": [r["cpu"] for r in base], "wall_runs": [r["wall"] for r in base],
             "variant": None}]
    hosts = group.shape.hosts
    for variant in group.variants:
        runs = group.runs[variant.name]
        routes = {}
        for run in runs:
            for route in run["routes"]:
                routes[route] = median([r["routes"].get(route, 0) for r in runs])
        totals = [sum(r["routes"].values()) for r in runs]
        logins = [r["routes"].get(LOGIN, 0) for r in runs]
        rows.append(dict(_against(runs, base, hosts), subject=variant.name, variant=variant, routes=routes,
                         requests=median(totals), logins=median(logins), max_requests=max(totals),
                         max_logins=max(logins),
                         max_api_per_lookup=max(t - l for t, l in zip(totals, logins)) / hosts))
    if CONTROL in group.runs:
        rows.append(dict(_against(group.runs[CONTROL], base, hosts), subject=CONTROL, variant=None, control=True,
                         routes={}, requests=0, logins=0, max_requests=0, max_logins=0, max_api_per_lookup=0.0))
    return rows
