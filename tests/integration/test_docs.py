"""Every plugin of the installed collection renders in ansible-doc, with the shared options."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOOKUPS = sorted(p.stem for p in (ROOT / "plugins" / "lookup").glob("*.py"))
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
CONNECTION = {"access_token", "region", "server_url", "api_url", "identity_url", "state_dir", "allow_insecure_http",
              "use_state_file", "validate_certs", "ca_path", "timeout", "retries"}


def _doc(collections_path, kind, name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1")
    tool = str(pathlib.Path(sys.executable).parent / "ansible-doc")
    full = "bws.secrets." + name
    out = subprocess.run([tool, "-t", kind, "--json", full], env=env, check=True, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = subprocess.run([tool, "-t", kind, full], env=env, check=True, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return json.loads(out.stdout)[full], text.stdout, text.stderr


@pytest.mark.parametrize("name", LOOKUPS)
def test_lookup_docs(collections_path, name):
    data, text, stderr = _doc(collections_path, "lookup", name)
    options = data["doc"]["options"]
    assert CONNECTION <= set(options)
    assert {"name": "BWS_ACCESS_TOKEN"} in options["access_token"]["env"]
    assert data["examples"].strip() and data["return"]
    assert "EXAMPLES" in text and "BWS_ACCESS_TOKEN" in text
    assert "WARNING" not in stderr and "ERROR" not in stderr


@pytest.mark.parametrize("name", MODULES)
def test_module_docs(collections_path, name):
    data, text, stderr = _doc(collections_path, "module", name)
    options = data["doc"]["options"]
    assert CONNECTION <= set(options)
    assert "env" not in options["access_token"]  # modules read BWS_ACCESS_TOKEN via the argspec
    assert data["examples"].strip() and data["return"]
    assert "WARNING" not in stderr and "ERROR" not in stderr
