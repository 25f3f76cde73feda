"""meta/execution-environment.yml makes an execution environment build context, both ways it is read.

usage: python scripts/check_ee.py   (with ansible-builder and ansible-core in the running environment)

1. `ansible-builder create -f meta/execution-environment.yml` writes a build context: a
   Containerfile, the Python requirements (meta/requirements.txt, equal to requirements.txt),
   the Galaxy requirements naming bws.secrets, and the builder's scripts.
2. ansible-builder's introspection, run on an installed copy of the built collection (what
   happens inside any EE build that includes bws.secrets), finds our Python requirements.
No image is built (that needs a container runtime and registries).
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import collection  # noqa: E402  pylint: disable=wrong-import-position

EXPECTED_FILES = ["Containerfile", "_build/requirements.txt", "_build/requirements.yml",
                  "_build/scripts/assemble", "_build/scripts/introspect.py", "_build/scripts/install-from-bindep",
                  "_build/scripts/check_ansible", "_build/scripts/check_galaxy", "_build/scripts/entrypoint"]


def requirement_lines(path):
    return [line.strip() for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def check_create(work):
    problems = []
    definition = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    wanted = requirement_lines(ROOT / "requirements.txt")
    if requirement_lines(ROOT / "meta" / "requirements.txt") != wanted:
        problems.append("meta/requirements.txt differs from requirements.txt: copy it over")
    context = pathlib.Path(work) / "context"
    builder = pathlib.Path(sys.executable).parent / "ansible-builder"
    out = subprocess.run([str(builder), "create", "-f", str(ROOT / "meta" / "execution-environment.yml"),
                          "-c", str(context), "--output-filename", "Containerfile"], check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(out.stdout.strip())
    if out.returncode:
        return problems + ["ansible-builder create failed (exit %d)" % out.returncode]
    written = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
    print("ee: build context files: %s" % ", ".join(written))
    problems += ["build context lacks %s" % name for name in EXPECTED_FILES if name not in written]
    if problems:
        return problems
    if requirement_lines(context / "_build" / "requirements.txt") != wanted:
        problems.append("_build/requirements.txt is not our requirements.txt")
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    if {"name": "bws.secrets"} not in (galaxy or {}).get("collections", []):
        problems.append("_build/requirements.yml does not install bws.secrets: %r" % galaxy)
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    base = definition["images"]["base_image"]["name"]
    for needle in ('EE_BASE_IMAGE="%s"' % base, "--user-pip=requirements.txt", "ansible-galaxy collection install",
                   "ansible-runner", definition["dependencies"]["ansible_core"]["package_pip"]):
        if needle not in containerfile:
            problems.append("Containerfile lacks %r" % needle)
    return problems


def check_introspection(work):
    """What ansible-builder does with an installed bws.secrets inside any EE build."""
    import ansible_builder

    dest = collection.install(pathlib.Path(work) / "collections")
    script = pathlib.Path(ansible_builder.__file__).parent / "_target_scripts" / "introspect.py"
    out = subprocess.run([sys.executable, str(script), "introspect", dest], check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if out.returncode:
        return ["introspection failed:\n" + out.stdout[-3000:]]
    found = yaml.safe_load(out.stdout) or {}
    python = [line.split("#")[0].strip() for line in found.get("python") or []]
    print("ee: introspection of the installed collection: python %s, system %s" % (python, found.get("system")))
    wanted = requirement_lines(ROOT / "requirements.txt")
    if sorted(python) != sorted(wanted):
        return ["introspection found python requirements %s, expected %s" % (python, wanted)]
    return []


def main():
    (ROOT / ".tmp").mkdir(exist_ok=True)
    work = tempfile.mkdtemp(prefix="ee-", dir=str(ROOT / ".tmp"))
    try:
        env_problems = check_create(work) + check_introspection(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for problem in env_problems:
        print("  FAIL: " + problem)
    if not env_problems:
        print("ee: ansible-builder create made a complete build context; introspection finds our requirements")
    return 1 if env_problems else 0


if __name__ == "__main__":
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    sys.exit(main())
