"""The text the modules show for --diff: key, note and project, never a value."""

from ansible_collections.bws.secrets.plugins.module_utils._module import project_diff_text, secret_diff_text

PID = "b0000000-0000-4000-8000-000000000001"


def test_a_project_by_name_and_id():
    text = secret_diff_text("DB", "a note", PID, "Production", "(hidden)")
    assert text == 'key: "DB"\nnote: "a note"\nproject: "Production" (%s)\nvalue: (hidden)\n' % PID


def test_a_project_to_be_created_in_check_mode_has_no_id_yet():
    assert 'project: "New one" (new)\n' in secret_diff_text("DB", "", None, "New one", "(hidden)")
    assert "project: (new)\n" in secret_diff_text("DB", "", None, None, "(hidden)")
    assert "project: %s\n" % PID in secret_diff_text("DB", "", PID, None, "(hidden)")
    assert project_diff_text("New one", None) == 'name: "New one"\nid: (new)\n'
