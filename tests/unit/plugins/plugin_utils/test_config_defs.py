"""Our lookups hand Ansible their option definitions; Ansible then parses none of their docs."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from ansible import constants as C

from ansible_collections.bws.secrets.plugins.plugin_utils import _option_defs
from ansible_collections.bws.secrets.plugins.plugin_utils._config_defs import register_option_definitions

ROOT = pathlib.Path(__file__).resolve().parents[4]
LOOKUP = "ansible_collections.bws.secrets.plugins.lookup."


def _run(code, **env):
    source = pathlib.Path(_option_defs.__file__).parents[5]  # the ansible_collections/bws/secrets link's base
    environ = dict((name, value) for name, value in os.environ.items()
                   if not name.startswith("BWS_") and name != "ANSIBLE_CONFIG")
    environ.update(ANSIBLE_COLLECTIONS_PATH=str(source),
                   ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ, cwd=str(ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, check=False)


def test_generated_definitions_are_what_this_ansible_core_builds_from_the_docs():
    """The check `make docs` keeps true, run on this suite's ansible-core: fails on stale definitions."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "option_defs.py"), "check"], cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout


def test_the_plugin_loader_takes_them_and_parses_no_documentation(tmp_path):
    config = tmp_path / "ansible.cfg"
    config.write_text("[bws_secrets]\ntimeout = 7\nretries = 1\n")
    out = _run("""
        import json
        from ansible import constants as C
        from ansible.plugins import loader
        from ansible.plugins.loader import init_plugin_loader, lookup_loader

        init_plugin_loader()
        parsed = []
        real = loader.add_fragments
        loader.add_fragments = lambda doc, path, **kw: (parsed.append(path), real(doc, path, **kw))[1]
        lookup_loader.get("ansible.builtin.env")  # the control: its documentation is parsed
        control = len(parsed)
        secret = lookup_loader.get("bws.secrets.bws_secret")
        lookup_loader.get("bws.secrets.bws_secrets", class_only=True)
        secret.set_options(var_options={"bws_project": "from vars"}, direct={"region": "eu"})
        print(json.dumps({
            "control": control, "ours": parsed[control:],
            "options": [secret.get_option(n) for n in ("region", "field", "project", "timeout", "retries", "state_dir")],
            "keys": sorted(C.config.get_configuration_definitions("lookup", "%sbws_secret")),
        }))
    """ % LOOKUP, BWS_PROJECT="from env", BWS_RETRIES="2", ANSIBLE_CONFIG=str(config))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["control"] == 1  # the counting works
    assert result["ours"] == []  # neither lookup's documentation nor fragments were parsed
    # the definitions work as Ansible's would: direct > vars > env > ini (ansible.cfg) > default, types applied
    assert result["options"][:5] == ["eu", "value", "from vars", 7, 2]
    assert result["options"][5].endswith("/.config/bws/state") and not result["options"][5].startswith("~")
    assert result["keys"] == sorted(_option_defs.DEFINITIONS["bws_secret"])


@pytest.fixture()
def plugin_defs(monkeypatch):
    """A scratch registry of plugin definitions for in-process registrations."""
    monkeypatch.setattr(C.config, "_plugins", {})
    return C.config._plugins


def test_registers_once_under_the_module_name(plugin_defs):
    assert register_option_definitions(LOOKUP + "bws_secrets") is True
    assert plugin_defs["lookup"][LOOKUP + "bws_secrets"] is _option_defs.DEFINITIONS["bws_secrets"]
    assert register_option_definitions(LOOKUP + "bws_secrets") is False  # already there: left alone
    assert list(plugin_defs["lookup"]) == [LOOKUP + "bws_secrets"]


def test_leaves_definitions_already_registered_alone(plugin_defs):
    C.config.initialize_plugin_configuration_definitions("lookup", LOOKUP + "bws_secret", {"mine": {}})
    assert register_option_definitions(LOOKUP + "bws_secret") is False
    assert plugin_defs["lookup"][LOOKUP + "bws_secret"] == {"mine": {}}


def test_registers_nothing_for_a_plugin_without_generated_definitions(plugin_defs):
    assert register_option_definitions(LOOKUP + "no_such_lookup") is False
    assert plugin_defs == {}


def test_an_unexpected_configuration_manager_means_ansible_parses_as_usual(monkeypatch):
    monkeypatch.setattr(C, "config", object())  # no has_configuration_definition
    assert register_option_definitions(LOOKUP + "bws_secret") is False
