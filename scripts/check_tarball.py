"""The built collection tarball ships what users need and nothing else, and installs.

usage: python scripts/check_tarball.py   (with the ansible-galaxy of the running environment)

Checks, on a fresh `ansible-galaxy collection build`:
* no tests data the user does not need (unit, integration, interop, client, reliability
  tests, fixtures, conftest), no caches or bytecode, no development tooling (scripts/,
  bench/, Makefile, CI files, virtualenvs, changelog fragments);
* under tests/ only the emulator (for testing your own playbooks offline) and
  tests/config.yml;
* every plugin, the docs, the license, the changelog and the execution-environment files;
* `ansible-galaxy collection install` of the tarball, `collection list`, `verify --offline`,
  and ansible-doc finds every plugin of the installed copy.
"""

import fnmatch
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import collection  # noqa: E402  pylint: disable=wrong-import-position

FORBIDDEN = [
    "*__pycache__*", "*.pyc", "*.pyo", "*.pytest_cache*", "*.hypothesis*", "*.ansible/*", "*.cache/*",
    ".tmp*", ".venv*", ".git*", ".ci*", ".github*", "*.tar.gz", "*.log", "*.orig", "*.rej", "*~",
    "bench*", "scripts*", "Makefile",
    "changelogs/fragments*", "changelogs/.plugin-cache.yaml",
]
# under tests/, only these may ship
TESTS_ALLOWED = [
    "tests/config.yml",
    "tests/emulator", "tests/emulator/README.md", "tests/emulator/bws_emulator.py", "tests/emulator/control.py",
    "tests/emulator/seeds", "tests/emulator/seeds/*.json",
]
REQUIRED = [
    "MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "LICENSES/GPL-3.0-or-later.txt",
    "requirements.txt", "meta/runtime.yml", "meta/execution-environment.yml", "meta/requirements.txt",
    "changelogs/changelog.yaml", "changelogs/config.yaml", "docs/guide.md", "docs/plugins/README.md",
    "tests/emulator/bws_emulator.py", "tests/emulator/control.py", "tests/emulator/README.md",
]
PLUGIN_DIRS = ("lookup", "modules", "callback", "module_utils", "plugin_utils", "doc_fragments")  # all must ship
MAX_BYTES = 1024 * 1024  # uncompressed; today well under half of it


def _matches(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _run(cmd, **kwargs):
    return subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def check_members(names, sizes):
    problems = []
    for name in names:
        if _matches(name, FORBIDDEN):
            problems.append("must not ship: %s" % name)
        elif (name == "tests" or name.startswith("tests/")) and name != "tests" and not _matches(name, TESTS_ALLOWED):
            problems.append("test file or data users do not need: %s" % name)
    wanted = list(REQUIRED)
    for sub in PLUGIN_DIRS:
        wanted += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "plugins" / sub).glob("*.py"))]
    wanted += ["docs/plugins/%s" % p.name for p in sorted((ROOT / "docs" / "plugins").glob("*.md"))]
    wanted += ["docs/examples/%s" % p.name for p in sorted((ROOT / "docs" / "examples").glob("*.yml"))]
    problems += ["missing from the tarball: %s" % name for name in wanted if name not in names]
    total = sum(sizes)
    if total > MAX_BYTES:
        problems.append("the collection is %d bytes uncompressed (limit %d)" % (total, MAX_BYTES))
    return problems, total


def check_install(tarball, work):
    problems = []
    bindir = pathlib.Path(sys.executable).parent
    dest = pathlib.Path(work) / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_HOME=str(pathlib.Path(work) / "home"), ANSIBLE_NOCOLOR="1")
    steps = [
        ("install", [str(bindir / "ansible-galaxy"), "collection", "install", tarball, "-p", str(dest)]),
        ("list", [str(bindir / "ansible-galaxy"), "collection", "list", "bws.secrets", "-p", str(dest),
                  "--format", "json"]),
        ("verify", [str(bindir / "ansible-galaxy"), "collection", "verify", "--offline", "bws.secrets", "-p",
                    str(dest)]),
    ]
    outputs = {}
    for label, cmd in steps:
        out = _run(cmd, env=env)
        outputs[label] = out.stdout
        if out.returncode:
            problems.append("ansible-galaxy collection %s failed:\n%s" % (label, out.stdout[-3000:]))
            return problems
    version = collection_version()
    if '"%s"' % version not in outputs["list"]:
        problems.append("collection list does not show bws.secrets %s:\n%s" % (version, outputs["list"]))
    for kind, sub in (("lookup", "lookup"), ("module", "modules")):
        out = _run([str(bindir / "ansible-doc"), "-t", kind, "--list", "--json", "bws.secrets"], env=env)
        try:
            listed = set(json.loads(out.stdout))
        except ValueError:
            problems.append("ansible-doc --list -t %s failed:\n%s" % (kind, out.stdout[-2000:]))
            continue
        expected = {"bws.secrets." + p.stem for p in (ROOT / "plugins" / sub).glob("*.py")}
        if listed != expected:
            problems.append("ansible-doc -t %s lists %s, expected %s" % (kind, sorted(listed), sorted(expected)))
    return problems


def collection_version():
    for line in (ROOT / "galaxy.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    raise SystemExit("no version in galaxy.yml")


def main():
    (ROOT / ".tmp").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tarball-", dir=str(ROOT / ".tmp")) as work:
        tarball = collection.build(work)
        with tarfile.open(tarball) as archive:
            members = archive.getmembers()
        names = [m.name[2:] if m.name.startswith("./") else m.name for m in members]
        problems, total = check_members(names, [m.size for m in members])
        problems += check_install(tarball, work)
        print("tarball: %s, %d entries, %d bytes uncompressed, %d bytes compressed"
              % (os.path.basename(tarball), len(names), total, os.path.getsize(tarball)))
        for problem in problems:
            print("  FAIL: " + problem)
        if not problems:
            print("tarball: contents as expected; installs, lists, verifies and documents with ansible-galaxy/ansible-doc")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
