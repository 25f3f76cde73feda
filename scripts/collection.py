"""Build the collection tarball and install it where tests and the demo load it from.

usage: python scripts/collection.py build|install   (install builds first)
Prints the tarball (build) or the collections path, the directory holding ansible_collections/ (install).

Several builds may run at once (parallel test stages): each install builds into a directory
of its own, so one build never removes or overwrites the tarball another one is installing.
"""

import glob
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIST = ROOT / ".tmp" / "dist"
INSTALLED = ROOT / ".tmp" / "collections"


def source_link():
    """(base, link): ``base/ansible_collections/bws/secrets`` is a symlink to this tree, made if
    missing, so that ``base`` on sys.path or ANSIBLE_COLLECTIONS_PATH imports the sources."""
    base = ROOT / ".tmp" / "src"
    link = base / "ansible_collections" / "bws" / "secrets"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    return base, link


def _tool(name):
    candidate = pathlib.Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def build(output=DIST):
    """Build the tarball into ``output`` (emptied of older tarballs first); return its path."""
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    for old in glob.glob(str(output / "bws-secrets-*.tar.gz")):
        os.unlink(old)
    subprocess.run([_tool("ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(output),
                    "--force"], check=True, stdout=subprocess.DEVNULL)
    (tarball,) = glob.glob(str(output / "bws-secrets-*.tar.gz"))
    return tarball


def install(dest=INSTALLED):
    """Build into a private directory and install the tarball with ansible-galaxy under ``dest``."""
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (ROOT / ".tmp").mkdir(exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="build-", dir=str(ROOT / ".tmp"))
    try:
        tarball = build(workdir)
        subprocess.run([_tool("ansible-galaxy"), "collection", "install", tarball, "-p", str(dest), "--force"],
                       check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return str(dest)


def playbook_env(collections, workdir, **extra):
    """The environment of an ``ansible-playbook`` run of the collection installed under
    ``collections``, isolated from the user's Ansible setup: no ansible.cfg, no BWS_* variable
    of the caller, scratch directories in ``workdir``, no color, this Python's bin first on
    PATH. ``extra`` sets variables (a value of None removes one)."""
    workdir = pathlib.Path(workdir)
    env = dict((name, value) for name, value in os.environ.items() if not name.startswith("BWS_"))
    env.pop("ANSIBLE_CONFIG", None)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
        "ANSIBLE_HOME": str(workdir / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "PATH": "%s%s%s" % (pathlib.Path(sys.executable).parent, os.pathsep, os.environ.get("PATH", "")),
    })
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


if __name__ == "__main__":
    ACTION = sys.argv[1] if len(sys.argv) > 1 else "install"
    print(build() if ACTION == "build" else install())
