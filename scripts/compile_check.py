"""module_utils and modules compile and import on every Python a managed host may run (3.9 to 3.13).

usage: python scripts/compile_check.py [--pythons 3.9,3.10,3.11,3.12,3.13] [--no-deps-pass]

For each Python (found by scripts/find_python.sh, so through pyenv):
1. byte-compile: ``python -m py_compile`` on module_utils and modules (and, from 3.10 on, the
   controller-side plugins: lookups, plugin_utils, doc_fragments; ansible-core 2.16, the
   oldest we support, needs 3.10 on the controller). Bytecode goes to a scratch directory
   (PYTHONPYCACHEPREFIX), never into the source tree.
2. bare import: ``python -S`` (no site-packages at all, so no cryptography) with only
   ansible-core's package and this collection on sys.path; every module_utils file and every
   module must import, and the one third-party import must be guarded (HAS_CRYPTOGRAPHY
   false, the import error kept). HTTP and the JWT claims need only the standard library.
3. with the libraries: a small virtualenv per Python with requirements.txt; every module
   imports with HAS_* true, and the client's crypto decrypts the interop vectors.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / ".tmp" / "compile"
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
CONTROLLER_MIN = (3, 10)

# Run by each interpreter under test (stdlib only; Python 3.9 syntax).
PROBE = r'''
import importlib, json, sys, traceback
path, mode, names, vectors = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
sys.path.insert(0, path)
failures = []
loaded = {}
for name in names:
    try:
        loaded[name] = importlib.import_module(name)
    except Exception:
        failures.append("%s: %s" % (name, traceback.format_exc().strip().splitlines()[-1]))
prefix = "ansible_collections.bws.secrets.plugins.module_utils."
flags = {"_crypto": "HAS_CRYPTOGRAPHY"}
for short, flag in sorted(flags.items()):
    mod = loaded.get(prefix + short)
    if mod is None:
        continue
    expected = mode == "deps"
    if getattr(mod, flag, None) is not expected:
        failures.append("%s.%s is %r, expected %r" % (short, flag, getattr(mod, flag, None), expected))
    error = getattr(mod, flag.replace("HAS_", "") + "_IMPORT_ERROR", "missing")
    if expected == (error is not None):
        failures.append("%s: import error %r does not match %s" % (short, error, flag))
if mode == "bare":
    for lib in ("cryptography",):
        try:
            importlib.import_module(lib)
            failures.append("%s is importable: the bare pass must not see third-party libraries" % lib)
        except ImportError:
            pass
elif not failures:
    import base64
    crypto = loaded[prefix + "_crypto"]
    token = loaded[prefix + "_token"]
    with open(vectors, encoding="utf-8") as handle:
        data = json.load(handle)
    org_key = crypto.SymmetricCryptoKey.from_b64(data["organization"]["org_key_b64"])
    for case in data["seeded_secrets"]:
        for field in ("key", "value", "note"):
            if crypto.decrypt_text(org_key, case["encrypted"][field]) != case["plaintext"][field]:
                failures.append("decrypt %s.%s differs" % (case["name"], field))
    client = token.ClientToken.from_str(data["access_token"]["token"])
    state = data["state_file"]["official_sdk"]
    if crypto.decrypt_text(client.encryption_key, state["raw"]) != state["plaintext"]:
        failures.append("the official state file does not decrypt")
    derived = crypto.derive_access_token_key(base64.b64decode(data["access_token"]["key16_b64"]))
    if base64.b64encode(derived.enc_key).decode() != data["access_token"]["derived_enc_key_b64"]:
        failures.append("derived access-token key differs")
print(json.dumps({"python": sys.version.split()[0], "imported": len(loaded), "failures": failures}))
'''


def find_python(minor):
    out = subprocess.run([str(ROOT / "scripts" / "find_python.sh"), minor], check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def files(*subdirs):
    found = []
    for sub in subdirs:
        found += sorted(str(p) for p in (ROOT / "plugins" / sub).glob("*.py"))
    return found


def module_names():
    names = ["ansible_collections.bws.secrets.plugins.module_utils." + p.stem
             for p in sorted((ROOT / "plugins" / "module_utils").glob("*.py")) if p.stem != "__init__"]
    names += ["ansible_collections.bws.secrets.plugins.modules." + p.stem
              for p in sorted((ROOT / "plugins" / "modules").glob("*.py")) if p.stem != "__init__"]
    return names


def import_path():
    """A directory with only ``ansible`` (ansible-core's package) and ``ansible_collections/bws/secrets``."""
    import ansible  # the running environment's ansible-core: its module_utils support Python 3.8+

    base = WORK / "path"
    if base.exists():
        shutil.rmtree(base)
    (base / "ansible_collections" / "bws").mkdir(parents=True)
    (base / "ansible_collections" / "bws" / "secrets").symlink_to(ROOT, target_is_directory=True)
    (base / "ansible").symlink_to(pathlib.Path(ansible.__file__).parent, target_is_directory=True)
    return base


def deps_python(minor):
    """A virtualenv for ``minor`` with requirements.txt (kept between runs, refreshed by bootstrap.sh)."""
    venv = WORK / ("venv-py" + minor)
    subprocess.run([str(ROOT / "scripts" / "bootstrap.sh"), str(venv), minor, "-r", str(ROOT / "requirements.txt")],
                   check=True, stdout=subprocess.DEVNULL)
    return str(venv / "bin" / "python")


def probe(python, mode, path, names):
    args = [python]
    if mode == "bare":
        args.append("-S")  # no site module: no site-packages, whatever that Python has installed
    args += ["-c", PROBE, str(path), mode, json.dumps(names), str(ROOT / "tests" / "fixtures" / "vectors.json")]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    out = subprocess.run(args, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         timeout=300)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"python": "?", "imported": 0, "failures": ["probe crashed: %s" % (out.stderr.strip()[-2000:])]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pythons", default=",".join(PYTHONS))
    parser.add_argument("--no-deps-pass", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    path = import_path()
    names = module_names()
    host_side = files("module_utils", "modules")
    controller_side = files("lookup", "plugin_utils", "doc_fragments")
    failed = False
    for minor in args.pythons.split(","):
        started = time.time()
        python = find_python(minor)
        if python is None:
            print("compile: Python %s: FAIL (not found; install it with pyenv)" % minor)
            failed = True
            continue
        problems = []
        version = tuple(int(x) for x in minor.split("."))
        targets = host_side + (controller_side if version >= CONTROLLER_MIN else [])
        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(WORK / ("pycache-" + minor)))
        out = subprocess.run([python, "-m", "py_compile"] + targets, check=False, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if out.returncode:
            problems.append("py_compile: " + out.stdout.strip())
        bare = probe(python, "bare", path, names)
        problems += ["bare import: " + f for f in bare["failures"]]
        summary = "%d files compiled, %d modules imported bare" % (len(targets), bare["imported"])
        if not args.no_deps_pass:
            deps = probe(deps_python(minor), "deps", path, names)
            problems += ["with libraries: " + f for f in deps["failures"]]
            summary += ", %d with cryptography + vectors decrypted" % deps["imported"]
        status = "FAIL" if problems else "PASS"
        failed = failed or bool(problems)
        print("compile: Python %s (%s): %s, %s (%.1fs)" % (minor, bare["python"], status, summary, time.time() - started))
        for problem in problems:
            print("    " + problem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
