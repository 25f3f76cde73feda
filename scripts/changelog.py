"""The changelog, with antsibull-changelog: fold fragments into the current release, or check it.

usage: python scripts/changelog.py update   (`make changelog`)
       python scripts/changelog.py check    (a `make test` stage)
Run with the tools environment (.venv-tools: antsibull-changelog, ansible-core for ansible-doc).

Each change adds a fragment to changelogs/fragments/ (see changelogs/config.yaml for the
sections). Fragments are kept (keep_fragments: true), so one edited later is picked up too.

update: `antsibull-changelog release --version <galaxy.yml version>` adds every new fragment
        and plugin to that release in changelogs/changelog.yaml (creating it if needed), then
        `generate --refresh-fragments` rewrites CHANGELOG.rst. Run it before committing a
        change that adds or edits a fragment or a plugin.
check:  `antsibull-changelog lint` on the fragments, `lint-changelog-yaml` on changelog.yaml,
        and, on a scratch copy, that `update` would change neither changelog.yaml nor
        CHANGELOG.rst when galaxy.yml's version already has a release entry (otherwise only
        that CHANGELOG.rst is what `generate` makes: fragments may wait for the next release).
"""

import os
import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COPY_BASE = ROOT / ".tmp" / "changelog"
FILES = ("galaxy.yml", "CHANGELOG.rst", "changelogs", "plugins", "meta", "README.md")


def tool():
    return str(pathlib.Path(sys.executable).parent / "antsibull-changelog")


def run(args, cwd, env=None, check=True):
    out = subprocess.run([tool()] + args, cwd=str(cwd), env=env, check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    text = "\n".join(line for line in out.stdout.splitlines()
                     if "Found no release_summary" not in line and "already exists" not in line)
    if text.strip():
        print(text.strip())
    if check and out.returncode:
        raise SystemExit("antsibull-changelog %s failed (exit %d)" % (" ".join(args), out.returncode))
    return out.returncode


def galaxy_version(root):
    return str(yaml.safe_load((root / "galaxy.yml").read_text(encoding="utf-8"))["version"])


def released_versions(root):
    path = root / "changelogs" / "changelog.yaml"
    if not path.exists():
        return set()
    return set(str(v) for v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("releases") or {})


def env_for(collection_root):
    """ansible-doc (for the plugin list) finds the collection at collection_root."""
    bindir = str(pathlib.Path(sys.executable).parent)
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collection_root.parent.parent.parent),
                ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1",
                PATH=bindir + os.pathsep + os.environ.get("PATH", ""))


def update(root):
    env = env_for(root)
    version = galaxy_version(root)
    run(["release", "--version", version, "--reload-plugins"], cwd=root, env=env)
    run(["generate", "--refresh-fragments", "--reload-plugins"], cwd=root, env=env)


def scratch_copy():
    dest = COPY_BASE / "ansible_collections" / "bws" / "secrets"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def check():
    env = env_for(ROOT)
    problems = []
    if run(["lint"], cwd=ROOT, env=env, check=False):
        problems.append("changelog fragments do not lint")
    changes = ROOT / "changelogs" / "changelog.yaml"
    if not changes.exists():
        problems.append("changelogs/changelog.yaml is missing")
    elif run(["lint-changelog-yaml", str(changes)], cwd=ROOT, env=env, check=False):
        problems.append("changelogs/changelog.yaml does not lint")
    if problems:
        return problems
    copy = scratch_copy()
    version = galaxy_version(ROOT)
    if version in released_versions(ROOT):
        update(copy)
        compared = ("changelogs/changelog.yaml", "CHANGELOG.rst")
        hint = "fragments or plugins are missing from the %s release" % version
    else:
        run(["generate"], cwd=copy, env=env_for(copy))
        compared = ("CHANGELOG.rst",)
        hint = "CHANGELOG.rst is not what changelogs/changelog.yaml generates"
    for name in compared:
        if (copy / name).read_text(encoding="utf-8") != (ROOT / name).read_text(encoding="utf-8"):
            problems.append("%s is out of date (%s): run `make changelog`" % (name, hint))
    return problems


def main():
    action = sys.argv[1] if len(sys.argv) > 1 else "check"
    if action == "update":
        update(ROOT)
        print("changelog: %s release updated; CHANGELOG.rst regenerated" % galaxy_version(ROOT))
        return 0
    problems = check()
    for problem in problems:
        print("changelog: FAIL: " + problem)
    if not problems:
        print("changelog: fragments lint; changelog.yaml and CHANGELOG.rst are up to date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
