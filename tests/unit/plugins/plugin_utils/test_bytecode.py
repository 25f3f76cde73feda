"""The bytecode finder answers for our plain modules only, with the standard loader."""

import importlib.machinery
import sys

from ansible_collections.bws.secrets.plugins.plugin_utils import _bytecode
from ansible_collections.bws.secrets.plugins.plugin_utils._bytecode import BytecodeFinder, use_bytecode_cache

MODULE_UTILS = "ansible_collections.bws.secrets.plugins.module_utils"


def test_answers_for_our_modules_with_the_source_file_loader(tmp_path):
    (tmp_path / "_thing.py").write_text("VALUE = 42\n")
    spec = BytecodeFinder.find_spec(MODULE_UTILS + "._thing", [str(tmp_path)])
    assert isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert spec.origin == str(tmp_path / "_thing.py")
    assert spec.cached.endswith(".pyc")


def test_declines_everything_else(tmp_path):
    (tmp_path / "_thing.py").write_text("VALUE = 42\n")
    assert BytecodeFinder.find_spec(MODULE_UTILS + "._missing", [str(tmp_path)]) is None
    assert BytecodeFinder.find_spec(MODULE_UTILS + "._thing", None) is None  # no package path
    assert BytecodeFinder.find_spec(MODULE_UTILS, [str(tmp_path)]) is None  # the package itself
    assert BytecodeFinder.find_spec("ansible_collections.other.coll.plugins.module_utils._thing",
                                    [str(tmp_path)]) is None
    assert BytecodeFinder.find_spec("json", None) is None


class _AnsibleCollectionFinder:
    """Stands in for Ansible's collection finder (only its class name matters)."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        return None


def test_installed_once_right_before_the_collection_finder(monkeypatch):
    first, collection_finder = object(), _AnsibleCollectionFinder()
    monkeypatch.setattr(sys, "meta_path", [first, collection_finder])
    use_bytecode_cache()
    use_bytecode_cache()
    assert sys.meta_path[0] is first  # whatever came first stays first
    assert isinstance(sys.meta_path[1], _bytecode.BytecodeFinder)
    assert sys.meta_path[2] is collection_finder
    assert len(sys.meta_path) == 3


def test_nothing_to_do_without_the_collection_finder(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", [object()])
    use_bytecode_cache()
    assert len(sys.meta_path) == 1
