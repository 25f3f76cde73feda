"""`make demo`: install the built collection, start the emulator, run the example playbooks."""

import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "emulator"))

import collection  # noqa: E402
from control import Emulator  # noqa: E402

# (playbook, extra arguments): secrets as code is first checked (--check --diff), then applied
PLAYBOOKS = [("lookup_secrets.yml", []), ("lookup_by_name.yml", []), ("secrets_as_code.yml", ["--check", "--diff"]),
             ("secrets_as_code.yml", [])]


def main():
    bindir = pathlib.Path(sys.executable).parent
    collections = collection.install()
    print("demo: collection built and installed in %s" % collections)
    with tempfile.TemporaryDirectory(prefix="bws-demo-") as work, \
            Emulator(tls=True, seed=str(ROOT / "tests" / "emulator" / "seeds" / "demo.json")) as emu:
        info = emu.info
        print("demo: emulator at %s (HTTPS, its own CA)" % info["server_url"])
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1",
                   BWS_ACCESS_TOKEN=info["tokens"]["demo"], BWS_SERVER_URL=info["server_url"],
                   BWS_CA_PATH=info["ca_file"], BWS_STATE_DIR=os.path.join(work, "state"),
                   PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
        inventory = os.path.join(work, "inventory.ini")
        with open(inventory, "w") as handle:
            handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
        for name, extra in PLAYBOOKS:
            print("\ndemo: ansible-playbook docs/examples/%s" % " ".join([name] + extra), flush=True)
            subprocess.run([str(bindir / "ansible-playbook"), "-i", inventory, str(ROOT / "docs" / "examples" / name)]
                           + extra, env=env, check=True)
        stats = emu.stats()
        print("\ndemo: the emulator answered %d requests: %s" % (stats["total"], stats["routes"]))


if __name__ == "__main__":
    main()
