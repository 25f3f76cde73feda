"""Every plugin's DOCUMENTATION, EXAMPLES and RETURN are valid YAML of the expected shape."""

import ast
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = sorted((ROOT / "plugins" / "lookup").glob("*.py")) + sorted((ROOT / "plugins" / "modules").glob("*.py"))
CALLBACKS = sorted((ROOT / "plugins" / "callback").glob("*.py"))
FRAGMENTS = sorted((ROOT / "plugins" / "doc_fragments").glob("*.py"))


def _strings(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found[node.targets[0].id] = node.value.value
    return found


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: p.stem)
def test_plugin_docs_parse(path):
    docs = _strings(path)
    doc = yaml.safe_load(docs["DOCUMENTATION"])
    assert doc.get("name", doc.get("module")) == path.stem
    assert doc["short_description"] and doc["description"]
    assert isinstance(yaml.safe_load(docs["EXAMPLES"]), list)
    assert isinstance(yaml.safe_load(docs["RETURN"]), dict)


@pytest.mark.parametrize("path", CALLBACKS, ids=lambda p: p.stem)
def test_callback_docs_parse(path):
    doc = yaml.safe_load(_strings(path)["DOCUMENTATION"])
    assert doc["name"] == path.stem and doc["type"] in ("aggregate", "notification", "stdout")
    assert doc["short_description"] and doc["description"]


@pytest.mark.parametrize("path", FRAGMENTS, ids=lambda p: p.stem)
def test_fragments_parse(path):
    for name, text in _strings(path).items():
        part = yaml.safe_load(text)
        assert isinstance(part.get("options", part.get("attributes")), dict), name
