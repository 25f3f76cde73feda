#!/usr/bin/env python3
"""Build the collection tarball and install it where tests and the demo load it from.

usage: python scripts/collection.py build|install   (install builds first)
Prints the collections path (the directory holding ansible_collections/).
"""

import glob
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIST = ROOT / ".tmp" / "dist"
INSTALLED = ROOT / ".tmp" / "collections"


def _tool(name):
    candidate = pathlib.Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def build():
    DIST.mkdir(parents=True, exist_ok=True)
    for old in glob.glob(str(DIST / "bws-secrets-*.tar.gz")):
        os.unlink(old)
    subprocess.run([_tool("ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(DIST),
                    "--force"], check=True, stdout=subprocess.DEVNULL)
    (tarball,) = glob.glob(str(DIST / "bws-secrets-*.tar.gz"))
    return tarball


def install(dest=INSTALLED):
    tarball = build()
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([_tool("ansible-galaxy"), "collection", "install", tarball, "-p", str(dest), "--force"],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest)))
    return str(dest)


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "install"
    print(build() if action == "build" else install())
