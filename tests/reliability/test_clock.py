"""A controller whose clock is not the server's: the emulator's clock runs behind this
machine's (``--clock-offset``), as when a controller's clock is ahead. Real processes, real
files, real HTTP."""

import os
import time

from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path
from ansible_collections.bws.secrets.plugins.module_utils._options import connect
from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets

from relsupport import PROD, SYNC, options, plain, routes


def test_a_cache_synced_by_a_controller_ahead_of_the_server_still_sees_changes(make_emulator, vectors, tmp_path):
    """The sync date sent back is on the server's clock (the answer's Date header). With this
    machine's, 2 s ahead, a change made in the 2 s after a sync was never reported once the
    server's clock had passed that date (before, the server refuses a date in its future, and
    the client fetched everything)."""
    emu = make_emulator(extra_args=["--clock-offset", "-2"])
    state_dir = str(tmp_path / "state")
    secret = plain(vectors, "ascii")
    client = connect(options(emu, state_dir))
    cache = cache_path(client.auth.state_file)
    assert find_secrets(client, ["DB_PASSWORD"], source=SecretsCache(client, cache).secrets())[0].value == "hunter2"
    elsewhere = connect(options(emu))  # another controller, the web vault: no cache of ours to discard
    elsewhere.update_secret(secret["id"], "DB_PASSWORD", "rotated", "", [PROD])
    time.sleep(2.5)  # the server's clock passes this machine's time of the first sync
    for _unused in range(2):  # and it stays seen in later runs
        emu.reset()
        source = SecretsCache(connect(options(emu, state_dir)), cache).secrets()
        assert [s.value for s in source if s.id == secret["id"]] == ["rotated"]
        assert routes(emu) == {SYNC: 1}


def test_a_controller_an_hour_ahead_logs_in_once_not_on_every_call(make_emulator, vectors, tmp_path):
    """A JWT of an hour's lifetime, issued by a server an hour behind this machine (a hardware
    clock kept in local time): its end is reckoned from when it was issued here, so it is used,
    by this process and by the next one through the state file."""
    emu = make_emulator(extra_args=["--clock-offset", "-3600", "--jwt-lifetime", "3600"])
    state_dir = str(tmp_path / "state")
    sid = plain(vectors, "ascii")["id"]
    client = connect(options(emu, state_dir))
    for _unused in range(5):
        assert client.get_secret(sid).value == "hunter2"
    assert client.auth.logins == 1
    later = connect(options(emu, state_dir))
    assert later.get_secret(sid).value == "hunter2"
    assert later.auth.logins == 0 and emu.stats()["logins"] == 1
    assert os.path.exists(client.auth.state_file)
