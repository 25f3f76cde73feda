"""Our modules and the official ``bitwarden-sdk`` against one emulator (HTTPS, its own process).

* A secret written by ``bws.secrets.bws_secret`` (a real ansible-playbook run) decrypts with the
  official SDK to exactly what the playbook declared; a project made by ``bws_project`` is read
  by the SDK with its name.
* A secret the SDK wrote is read by our ``bws_secret`` lookup and ``bws_secret_info`` module, and
  ``bws_secret`` declaring the same content finds nothing to change (no write request).
"""

import json
import pathlib
import subprocess
import sys

import pytest

bitwarden_sdk = pytest.importorskip("bitwarden_sdk")

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

VALUE = "module ✓ значение 値 🚀\nsecond line\r\nthird\ttabbed\n" + "x" * 2000
NOTE = "written by bws.secrets — «quoted»\nline two"
SDK_VALUE = "sdk 🔐 ñ Ω≈ç√\nmulti\nline\n"
SDK_NOTE = "from the official SDK ✓"
WRITES = ("POST /organizations/{org}/secrets", "PUT /secrets/{id}", "POST /secrets/delete",
          "POST /organizations/{org}/projects", "PUT /projects/{id}", "POST /projects/delete")

WRITE_PLAYBOOK = """
- name: Write with our modules
  hosts: localhost
  gather_facts: false
  tasks:
    - name: A project
      bws.secrets.bws_project:
        name: "{{ project_name }}"
      register: project

    - name: A secret in it
      bws.secrets.bws_secret:
        key: "{{ secret_key }}"
        value: "{{ secret_value }}"
        note: "{{ secret_note }}"
        project: "{{ project.id }}"
      register: secret

    - name: Hand the ids to the test
      ansible.builtin.copy:
        content: "{{ {'project_id': project.id, 'secret_id': secret.secret.id} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""

READ_PLAYBOOK = """
- name: Read and re-declare what the SDK wrote
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The lookup reads it
      ansible.builtin.assert:
        that:
          - lookup('bws.secrets.bws_secret', sdk_id) == sdk_value
          - lookup('bws.secrets.bws_secret', sdk_id, field='note') == sdk_note
          - lookup('bws.secrets.bws_secret', sdk_id, field='key') == sdk_key
      no_log: true

    - name: The info module reads it
      bws.secrets.bws_secret_info:
        keys: ["{{ sdk_key }}"]
        project: "{{ project_id }}"
      register: info
      no_log: true

    - name: Declaring the same content changes nothing
      bws.secrets.bws_secret:
        key: "{{ sdk_key }}"
        value: "{{ sdk_value }}"
        note: "{{ sdk_note }}"
        project: "{{ project_id }}"
      register: same

    - name: Checks
      ansible.builtin.assert:
        that:
          - info.secrets | length == 1
          - info.secrets[0].id == sdk_id
          - info.secrets[0].value == sdk_value
          - same is not changed
      no_log: true
"""


@pytest.fixture(scope="module")
def tls_emulator(vectors_seed):
    from control import Emulator

    with Emulator(tls=True, seed=vectors_seed) as emu:
        yield emu


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory):
    import collection

    return collection.install(tmp_path_factory.mktemp("collections"))


@pytest.fixture()
def sdk(tls_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", tls_emulator.info["ca_file"])  # read when the client is built
    settings = bitwarden_sdk.ClientSettings(
        api_url=tls_emulator.info["api_url"], identity_url=tls_emulator.info["identity_url"],
        device_type=bitwarden_sdk.DeviceType.SDK, user_agent="bws.secrets-module-interop")
    client = bitwarden_sdk.BitwardenClient(settings)
    login = client.auth().login_access_token(tls_emulator.info["tokens"]["ci"], str(tmp_path / "sdk-state"))
    assert login.success, login.error_message
    return client


def playbook(collections_path, emulator, tmp_path, text, extravars):
    bindir = pathlib.Path(sys.executable).parent
    book = tmp_path / "playbook.yml"
    book.write_text(text)
    (tmp_path / "extravars.json").write_text(json.dumps(extravars))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    import collection

    env = collection.playbook_env(collections_path, tmp_path, BWS_ACCESS_TOKEN=emulator.info["tokens"]["ci"],
                                  BWS_SERVER_URL=emulator.info["server_url"], BWS_CA_PATH=emulator.info["ca_file"],
                                  BWS_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run([str(bindir / "ansible-playbook"), "-i", str(inventory), str(book),
                             "-e", "@%s" % (tmp_path / "extravars.json")],
                            env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Traceback" not in result.stdout
    return result


def test_module_written_secret_decrypts_with_the_official_sdk(collections_path, tls_emulator, sdk, tmp_path, vectors):
    out = tmp_path / "ids.json"
    playbook(collections_path, tls_emulator, tmp_path, WRITE_PLAYBOOK,
             {"project_name": "Interop ✨ project", "secret_key": "MODULE_WROTE_ÜNÏ_密钥", "secret_value": VALUE,
              "secret_note": NOTE, "out": str(out)})
    ids = json.loads(out.read_text())

    got = sdk.secrets().get(ids["secret_id"])
    assert got.success, got.error_message
    secret = got.data
    assert (secret.key, secret.value, secret.note) == ("MODULE_WROTE_ÜNÏ_密钥", VALUE, NOTE)
    assert str(secret.project_id) == ids["project_id"]
    assert str(secret.organization_id) == vectors["organization"]["id"]

    project = sdk.projects().get(ids["project_id"])
    assert project.success, project.error_message
    assert project.data.name == "Interop ✨ project"


def test_sdk_written_secret_is_read_by_our_lookup_and_modules(collections_path, tls_emulator, sdk, tmp_path, vectors):
    org = vectors["organization"]["id"]
    prod = vectors["projects"]["Production"]
    created = sdk.secrets().create(org, "SDK_WROTE_THIS", SDK_VALUE, SDK_NOTE, [prod])
    assert created.success, created.error_message
    sid = str(created.data.id)
    tls_emulator.reset()
    playbook(collections_path, tls_emulator, tmp_path, READ_PLAYBOOK,
             {"sdk_id": sid, "sdk_key": "SDK_WROTE_THIS", "sdk_value": SDK_VALUE, "sdk_note": SDK_NOTE,
              "project_id": prod})
    routes = tls_emulator.stats()["routes"]
    assert not [name for name in WRITES if routes.get(name)], routes
