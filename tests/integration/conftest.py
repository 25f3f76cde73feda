"""Integration harness: the built and installed collection, real ansible-playbook runs."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGETS = ROOT / "tests" / "integration" / "targets"
sys.path.insert(0, str(ROOT / "scripts"))

import collection  # noqa: E402  (scripts/: build, install, playbook_env)


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    """Build the tarball and install it with ansible-galaxy into a fresh collections path."""
    return collection.install(tmp_path_factory.mktemp("collections"))


class Runner:
    """Runs ansible-playbook with the installed collection and an emulator's settings."""

    def __init__(self, collections, emulator, workdir):
        self.collections = collections
        self.emulator = emulator
        self.workdir = pathlib.Path(workdir)
        self.state_dir = str(self.workdir / "state")
        self.inventory = self.workdir / "inventory.ini"
        self.inventory.write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)

    def env(self, **extra):
        info = self.emulator.info
        settings = {"BWS_ACCESS_TOKEN": info["tokens"]["ci"], "BWS_SERVER_URL": info["server_url"],
                    "BWS_STATE_DIR": self.state_dir}
        settings.update(extra)
        return collection.playbook_env(self.collections, self.workdir, **settings)

    def hosts_inventory(self, count):
        """An inventory of ``count`` local hosts (h001...), for plays over many hosts."""
        path = self.workdir / ("hosts-%d.ini" % count)
        path.write_text("[all]\nh[001:%03d] ansible_connection=local ansible_python_interpreter=%s\n"
                        % (count, sys.executable))
        return path

    def run(self, playbook, extravars=None, verbosity=0, env=None, forks=None, cwd=None, inventory=None):
        cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i",
               str(inventory or self.inventory), str(playbook)]
        if extravars is not None:
            path = self.workdir / "extravars.json"
            path.write_text(json.dumps(extravars))
            cmd += ["-e", "@%s" % path]
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        if forks:
            cmd += ["--forks", str(forks)]
        return subprocess.run(cmd, env=self.env(**(env or {})), cwd=str(cwd or self.workdir),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
                              check=False)


@pytest.fixture()
def runner(collections_path, emulator, tmp_path):
    emulator.reset()
    return Runner(collections_path, emulator, tmp_path)


@pytest.fixture(scope="session")
def expected(vectors):
    """Extra vars describing the vectors' seeded secrets, for assertions inside playbooks."""
    secrets = {}
    for case in vectors["seeded_secrets"]:
        secrets[case["name"]] = dict(case["plaintext"], id=case["id"], project_id=case["projectId"])
    return {"secrets": secrets, "organization_id": vectors["organization"]["id"]}


def assert_ok(result):
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Traceback" not in result.stdout, result.stdout[-6000:]
