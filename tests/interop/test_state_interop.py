"""The state file is shared with the official SDK both ways: a file either side wrote saves
the other a login (counted by the emulator)."""

import os

import pytest

bitwarden_sdk = pytest.importorskip("bitwarden_sdk")

from ansible_collections.bws.secrets.plugins.module_utils._options import connect  # noqa: E402

LOGIN = "POST /connect/token"


@pytest.fixture(scope="module")
def tls_emulator(vectors_seed):
    from control import Emulator

    with Emulator(tls=True, seed=vectors_seed) as emu:
        yield emu


def _sdk_client(emu):
    os.environ["SSL_CERT_FILE"] = emu.info["ca_file"]  # read when the client is built
    settings = bitwarden_sdk.client_settings_from_dict({
        "apiUrl": emu.info["api_url"], "identityUrl": emu.info["identity_url"],
        "deviceType": bitwarden_sdk.DeviceType.SDK, "userAgent": "bws.secrets-interop"})
    return bitwarden_sdk.BitwardenClient(settings)


def _ours(emu, state_dir):
    return connect({"access_token": emu.info["tokens"]["ci"], "server_url": emu.info["server_url"],
                    "ca_path": emu.info["ca_file"], "state_dir": state_dir})


def test_sdk_reuses_our_state_file(tls_emulator, vectors, tmp_path):
    state_dir = str(tmp_path / "state")
    ours = _ours(tls_emulator, state_dir)
    assert ours.get_secret(vectors["seeded_secrets"][0]["id"]).value == "hunter2"
    path = ours.auth.state_file
    tls_emulator.reset()
    client = _sdk_client(tls_emulator)
    client.auth().login_access_token(tls_emulator.info["tokens"]["ci"], path)
    got = client.secrets().get(vectors["seeded_secrets"][0]["id"])
    assert got.data.value == "hunter2"
    assert tls_emulator.stats()["routes"].get(LOGIN, 0) == 0  # the SDK used our file


def test_we_reuse_the_sdk_state_file(tls_emulator, vectors, tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    token = tls_emulator.info["tokens"]["ci"]
    path = str(state_dir / token.split(".")[1])
    client = _sdk_client(tls_emulator)
    client.auth().login_access_token(token, path)
    assert os.path.exists(path)
    tls_emulator.reset()
    ours = _ours(tls_emulator, str(state_dir))
    assert ours.get_secret(vectors["seeded_secrets"][0]["id"]).value == "hunter2"
    assert tls_emulator.stats()["routes"].get(LOGIN, 0) == 0  # we used the SDK's file
    assert ours.auth.logins == 0
