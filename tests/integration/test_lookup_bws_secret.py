"""bws.secrets.bws_secret through real ansible-playbook runs of the installed collection."""

import hashlib
import json
import os
import pathlib
import stat

from conftest import TARGETS, assert_ok

TARGET = TARGETS / "lookup_bws_secret"
TEMPLATE_VALUE = "{{ lookup('ansible.builtin.env', 'HOME') }} and {% raw %}x{% endraw %}"


def _create_template_secret(emulator, project_id):
    """Create, with our own client, a secret whose value looks like a Jinja2 template."""
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect

    client = connect({"access_token": emulator.info["tokens"]["ci"], "server_url": emulator.info["server_url"],
                      "use_state_file": False})
    return client.create_secret("TEMPLATE_LIKE", TEMPLATE_VALUE, "", project_id).id


def test_read_fields_and_values(runner, expected, emulator):
    extra = dict(expected, template_secret_id=_create_template_secret(emulator, expected["secrets"]["ascii"]["project_id"]),
                 template_secret_sha256=hashlib.sha256(TEMPLATE_VALUE.encode()).hexdigest())
    emulator.reset()
    result = runner.run(TARGET / "read.yml", extra)
    assert_ok(result)
    assert "ok=7" in result.stdout or "ok=6" in result.stdout
    stats = emulator.stats()
    assert stats["routes"].get("POST /connect/token", 0) == 1  # one login for the whole play
    assert set(stats["routes"]) <= {"POST /connect/token", "POST /secrets/get-by-ids"}


def test_many_ids_cost_one_request_and_state_is_reused(runner, expected, emulator):
    s = expected["secrets"]
    names = ["ascii", "unicode", "multiline", "empty_note", "long_10k", "staging_ro"]
    extra = dict(expected, ids=[s[n]["id"] for n in names], expected_values=[s[n]["value"] for n in names])

    result = runner.run(TARGET / "count.yml", extra)
    assert_ok(result)
    assert emulator.stats()["routes"] == {"POST /connect/token": 1, "POST /secrets/get-by-ids": 1}

    state_files = os.listdir(runner.state_dir)
    token_id = emulator.info["tokens"]["ci"].split(".")[1]
    assert state_files == [token_id]
    assert stat.S_IMODE(os.stat(runner.state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(runner.state_dir, token_id)).st_mode) == 0o600
    with open(os.path.join(runner.state_dir, token_id)) as handle:
        assert handle.read().startswith("2.")  # encrypted, no JWT in clear

    emulator.reset()
    assert_ok(runner.run(TARGET / "count.yml", extra))
    assert emulator.stats()["routes"] == {"POST /secrets/get-by-ids": 1}  # no login: state file reused


def test_no_state_file_when_disabled(runner, expected, emulator):
    s = expected["secrets"]
    extra = dict(expected, ids=[s["ascii"]["id"]], expected_values=[s["ascii"]["value"]])
    assert_ok(runner.run(TARGET / "count.yml", extra, env={"BWS_USE_STATE_FILE": "false"}))
    assert not os.path.exists(runner.state_dir)


def test_errors_are_clear_and_leak_nothing(runner, expected, emulator):
    token = emulator.info["tokens"]["ci"]
    secret_part = token.split(".", 2)[2].split(":")[0]
    key_part = token.rsplit(":", 1)[1]
    wrong = token.replace(secret_part, "WrongSecretValue")
    result = runner.run(TARGET / "errors.yml", dict(expected, wrong_token=wrong), verbosity=4)
    assert_ok(result)
    assert "failed=0" in result.stdout and "rescued=7" in result.stdout, result.stdout[-3000:]
    for leak in (secret_part, key_part, "WrongSecretValue", "SuperSecretPart"):
        # the playbook text itself holds two of these in templates shown at -vvvv: only check results
        assert leak not in _result_lines(result.stdout), leak


def _result_lines(output):
    """The lines of the output that report results (not the task's own argument echo)."""
    return "\n".join(line for line in output.splitlines()
                     if '"msg"' in line or "ERROR" in line or "Traceback" in line)


def test_options_from_vars_and_ini(runner, expected, emulator):
    cfg = runner.workdir / "ansible.cfg"
    cfg.write_text("[bws_secrets]\nserver_url = %s\n" % emulator.info["server_url"])
    result = runner.run(TARGET / "sources.yml", dict(expected, token_from_vars=emulator.info["tokens"]["ci"]),
                        env={"BWS_ACCESS_TOKEN": None, "BWS_SERVER_URL": None, "ANSIBLE_CONFIG": str(cfg)})
    assert_ok(result)
    assert emulator.stats()["routes"].get("POST /secrets/get-by-ids") == 1


def test_a_vault_encrypted_token_is_taken(runner, expected, emulator):
    """An inline !vault token is no str before ansible-core decrypts it: it must not be taken for
    a list or dictionary given as the token."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(b"vault password of the test"))])
    cipher = vault.encrypt(emulator.info["tokens"]["ci"]).decode()
    block = "".join("  %s\n" % line for line in cipher.splitlines())
    vars_file = runner.workdir / "vaulted.yml"
    vars_file.write_text("bws_access_token: !vault |\n%svaulted_token: !vault |\n%s" % (block, block))
    password = runner.workdir / "vault-password"
    password.write_text("vault password of the test\n")
    result = runner.run(TARGET / "vaulted.yml", dict(expected, vaulted_vars_file=str(vars_file)),
                        env={"BWS_ACCESS_TOKEN": None, "ANSIBLE_VAULT_PASSWORD_FILE": str(password)})
    assert_ok(result)
    assert emulator.stats()["routes"].get("POST /secrets/get-by-ids") == 2


def test_keywords_and_clashing_variables(runner, expected, emulator):
    """A misspelt keyword fails naming the options (bws_secrets would otherwise read every
    project); a dictionary in bws_project (a registered result) is ignored with a warning."""
    result = runner.run(TARGET / "keywords.yml", expected)
    assert_ok(result)
    assert "failed=0" in result.stdout and "rescued=2" in result.stdout, result.stdout[-3000:]
    warning = ("bws.secrets.bws_secret: the variable bws_project holds a dictionary (a registered result?), not "
               "the option project: ignored")
    assert warning in " ".join(result.stdout.split()), result.stdout[-3000:]
    assert "bws.secrets.bws_secrets: the variable bws_project holds a dictionary" in " ".join(result.stdout.split())


def test_modules_load_with_bytecode(runner, expected, collections_path, tmp_path):
    """Ansible's collection loader compiles from source in every worker; ours keeps .pyc."""
    out = tmp_path / "probe.json"
    for attempt in range(2):  # the first worker may write the bytecode, the second must read it
        assert_ok(runner.run(TARGET / "bytecode.yml", dict(expected, out=str(out)),
                             env={"PYTHONDONTWRITEBYTECODE": None}))  # as on a user's machine
        seen = json.loads(out.read_text())
    for name in ("_api", "_auth", "_crypto", "_http", "_state", "_options", "_lookup_base"):
        assert seen[name] == {"loader": "SourceFileLoader", "bytecode": True}, (name, seen)
    assert "_bytecode" in seen  # the bootstrap itself comes through Ansible's loader
    pycache = pathlib.Path(collections_path, "ansible_collections", "bws", "secrets", "plugins",
                           "module_utils", "__pycache__")
    assert any(p.name.startswith("_api.") and p.suffix == ".pyc" for p in pycache.iterdir())


def test_preload_callback_hands_workers_the_loaded_lookup(runner, expected, emulator, tmp_path):
    """With bws.secrets.preload enabled the forked workers inherit our modules, http.client and
    ssl; without, none of them."""
    inventory = runner.hosts_inventory(3)
    for enabled in (False, True):
        out = tmp_path / ("enabled" if enabled else "disabled")
        out.mkdir()
        emulator.reset()
        result = runner.run(TARGET / "preload.yml", dict(expected, out=str(out)), forks=3, inventory=inventory,
                            verbosity=3, env={"ANSIBLE_CALLBACKS_ENABLED": "bws.secrets.preload" if enabled else None})
        assert_ok(result)
        assert "not preloaded" not in result.stdout
        assert emulator.stats()["routes"].get("POST /secrets/get-by-ids") == 1  # the hosts of the task share it
        seen = [json.loads(p.read_text()) for p in sorted(out.iterdir())]
        assert len(seen) == 3
        for before in seen:
            assert before["http"]["http.client"] is enabled, before
            if enabled:  # without the callback ssl is already there on 2.16 (Ansible's own imports)
                assert before["http"]["ssl"], before
            if enabled:
                assert {"_api", "_auth", "_http", "_crypto", "_lookup_base", "_options"} <= set(before["modules"]), before
            else:
                assert before["modules"] == {}, before


def test_a_lookup_from_the_cache_imports_no_http_module(runner, expected, emulator, tmp_path):
    """A worker whose lookup is answered from the cache never imports http.client or ssl (about
    15 ms of a forked worker's CPU); one whose lookup sends a request does."""
    out = tmp_path / "http.json"
    assert_ok(runner.run(TARGET / "cached.yml", dict(expected, out=str(out))))
    seen = json.loads(out.read_text())
    before, after = seen["cached"]
    assert after == before and not after["http.client"], seen  # ssl: loaded by Ansible itself on 2.16
    before, after = seen["sent"]
    assert not before["http.client"] and after == {"http.client": True, "ssl": True}, seen
    # the cached lookup sent nothing: one login and sync to fill the cache, one read without it
    assert emulator.stats()["routes"] == {"POST /connect/token": 1, "GET /organizations/{org}/secrets/sync": 1,
                                          "POST /secrets/get-by-ids": 1}
