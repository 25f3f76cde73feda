"""Answers of the wrong shape become a clear ApiError (or an unknown date), never a Python exception."""

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._api import SecretsManager
from ansible_collections.bws.secrets.plugins.module_utils._crypto import SymmetricCryptoKey, encrypt_text
from ansible_collections.bws.secrets.plugins.module_utils._errors import ApiError
from ansible_collections.bws.secrets.plugins.module_utils._models import Project, Secret
from ansible_collections.bws.secrets.plugins.module_utils._resolve import date_order

SID = "5e000000-0000-4000-8000-0000000000aa"


@pytest.fixture(scope="module")
def key():
    return SymmetricCryptoKey.from_bytes(bytes(range(64)))


@pytest.mark.parametrize("date", [5, 1.5, ["2026-11-28T00:00:00Z"], {"at": "x"}, True])
def test_dates_and_ids_that_are_not_text_are_unknown(key, date):
    secret = Secret.from_api({"id": SID, "organizationId": date, "key": encrypt_text(key, "K"),
                              "creationDate": date, "revisionDate": date}, key)
    project = Project.from_api({"id": SID, "organizationId": date, "name": encrypt_text(key, "P"),
                                "creationDate": date, "revisionDate": date}, key)
    for item in (secret, project):
        assert (item.organization_id, item.creation_date, item.revision_date) == (None, None, None)
    assert date_order(secret.creation_date) == ""


@pytest.mark.parametrize("answer", [{"data": [1]}, {"data": ["x", {"id": SID, "error": None}]}, {"data": [None]}])
def test_a_delete_answer_listing_something_else_than_objects_is_an_api_error(answer):
    manager = SecretsManager.__new__(SecretsManager)
    manager._write = lambda *args, **kwargs: answer
    with pytest.raises(ApiError, match="delete secret %s: the server's answer lists something that is not an "
                                       "object" % SID):
        manager._delete("/secrets/delete", [SID], "secret")


def test_a_token_given_as_an_id_is_never_echoed():
    from ansible_collections.bws.secrets.plugins.module_utils._api import check_uuid
    from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError

    token = "0.ec2c1d46-6a4b-4751-a310-af9601317f2d.C2IgxjjLF7qSshsbwe8JGcbM075YXw:X8vbvA0bduihIDe/qrzIQQ=="
    with pytest.raises(BWSSDKError) as info:
        check_uuid(token, "secret id")
    assert str(info.value) == "secret id (what looks like an access token, not shown) is not a valid UUID"
    with pytest.raises(BWSSDKError, match="secret id 'DB_PASSWORD' is not a valid UUID"):
        check_uuid("DB_PASSWORD", "secret id")
