"""The `make test` machinery itself: the tarball rules, the pytest summary parsing, the stage graph.

(The plugin docs generator runs in the plugin-docs stage, with the tools environment.)
"""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_tarball  # noqa: E402  pylint: disable=wrong-import-position
import stages  # noqa: E402  pylint: disable=wrong-import-position


def _shipped():
    names = list(check_tarball.REQUIRED)
    for sub in check_tarball.PLUGIN_DIRS:
        names += [str(p.relative_to(ROOT)) for p in (ROOT / "plugins" / sub).glob("*.py")]
    names += ["docs/plugins/%s" % p.name for p in (ROOT / "docs" / "plugins").glob("*.md")]
    names += ["docs/examples/%s" % p.name for p in (ROOT / "docs" / "examples").glob("*.yml")]
    return names + ["tests", "tests/config.yml", "tests/emulator/seeds/demo.json"]


def test_a_clean_tarball_passes():
    names = _shipped()
    problems, total = check_tarball.check_members(names, [100] * len(names))
    assert problems == []
    assert total == 100 * len(names)


@pytest.mark.parametrize("name", [
    "tests/unit/test_x.py", "tests/integration/targets/a/b.yml", "tests/fixtures/vectors.json",
    "tests/reliability/leakcheck.py", "tests/conftest.py", "tests/emulator/test_emulator.py",
    "plugins/module_utils/__pycache__/_api.cpython-311.pyc", ".pytest_cache/v/cache/nodeids",
    "tests/.hypothesis/examples/x", "scripts/stages.py", "bench/run.py", "Makefile", ".venv/bin/python",
    "changelogs/fragments/modules.yml", "changelogs/.plugin-cache.yaml", ".tmp/dist/x.tar.gz",
    "tests/sanity/ignore-2.19.txt",
])
def test_unwanted_files_are_refused(name):
    names = _shipped() + [name]
    problems, _total = check_tarball.check_members(names, [1] * len(names))
    assert len(problems) == 1 and name in problems[0]


def test_missing_plugin_is_reported():
    names = [n for n in _shipped() if n != "plugins/lookup/bws_secret.py"]
    problems, _total = check_tarball.check_members(names, [1] * len(names))
    assert problems == ["missing from the tarball: plugins/lookup/bws_secret.py"]


def test_size_limit():
    names = _shipped()
    problems, _total = check_tarball.check_members(names, [check_tarball.MAX_BYTES] * len(names))
    assert len(problems) == 1 and "bytes uncompressed" in problems[0]


@pytest.mark.parametrize("text, counts", [
    ("....\n200 passed in 359.50s (0:05:59)\n", {"passed": 200}),
    ("F.\n==== 1 failed, 192 passed, 7 xfailed in 587.00s (0:09:47) ====\n",
     {"failed": 1, "passed": 192, "xfailed": 7}),
    ("E\n1 error, 3 skipped in 0.5s\n", {"error": 1, "skipped": 3}),
    ("no tests ran in 0.01s\n", {}),
    ("ImportError while loading conftest\n", {}),
])
def test_pytest_counts(text, counts):
    assert stages.pytest_counts(text) == counts


def test_every_stage_is_scheduled_and_needs_exist():
    everything = stages.stages()
    names = [s.name for s in everything]
    assert len(names) == len(set(names))
    assert set(names) == set(stages.PRIORITY)
    for stage in everything:
        assert set(stage.needs) <= set(names), stage.name
    assert [s.name for s in stages.with_needs(["sanity"], everything)] == ["venv-tools", "sanity"]
