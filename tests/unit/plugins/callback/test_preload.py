"""The preload callback loads both lookups once per run and never fails a play."""

from ansible_collections.bws.secrets.plugins.callback import preload


class _Display:
    def __init__(self):
        self.messages = []

    def vvv(self, msg, host=None):
        self.messages.append(msg)


def _callback(monkeypatch, get):
    calls = []

    def fake_get(name, **kwargs):
        calls.append((name, kwargs))
        return get(name)

    monkeypatch.setattr(preload.lookup_loader, "get", fake_get)
    callback = preload.CallbackModule()
    callback._display = _Display()
    return callback, calls


def test_loads_both_lookups_class_only_once_per_run(monkeypatch):
    callback, calls = _callback(monkeypatch, lambda name: object)
    callback.v2_playbook_on_play_start(None)
    callback.v2_playbook_on_play_start(None)  # a second play: nothing more to do
    assert calls == [("bws.secrets.bws_secret", {"class_only": True}),
                     ("bws.secrets.bws_secrets", {"class_only": True})]
    assert callback._display.messages == []


def test_a_lookup_that_cannot_load_is_reported_at_vvv_not_raised(monkeypatch):
    def broken(name):
        raise ImportError("No module named 'cryptography'")

    callback, calls = _callback(monkeypatch, broken)
    callback.v2_playbook_on_play_start(None)
    assert len(calls) == 2  # the second is still tried
    assert all("not preloaded" in m and "cryptography" in m for m in callback._display.messages)
    assert len(callback._display.messages) == 2
