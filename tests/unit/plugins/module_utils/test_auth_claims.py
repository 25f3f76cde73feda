"""Reading the bearer token's claims: a well-formed JWT is read, anything else is refused unshown."""

import base64
import json

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._auth import jwt_claims
from ansible_collections.bws.secrets.plugins.module_utils._errors import InvalidIdentityResponseError


def _segment(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


CLAIMS = {"organization": "7a1b0e1c-0000-4000-8000-000000000001", "exp": 2000000000, "iat": 1999996400}
GOOD = "%s.%s.c2lnbmF0dXJl" % (_segment({"alg": "RS256", "typ": "JWT"}), _segment(CLAIMS))


def test_claims_of_a_well_formed_jwt():
    assert jwt_claims(GOOD) == CLAIMS
    assert jwt_claims(GOOD.rsplit(".", 1)[0] + ".") == CLAIMS  # an empty signature segment


@pytest.mark.parametrize("token", [
    GOOD.replace(".", ".\r\n", 1),          # header injection
    GOOD + "\nX-Injected: 1",
    " " + GOOD,
    GOOD.replace(".", "+", 1),              # standard base64, not base64url
    GOOD.rsplit(".", 1)[0],                 # two segments
    GOOD + ".extra",                        # four segments
    "%s.%s.sig" % (_segment({"alg": "RS256"}), _segment(["not", "a", "dict"])),
    "%s.%s.sig" % (_segment("header"), _segment(CLAIMS)),
    "",
    None,
])
def test_anything_else_is_refused_without_showing_it(token):
    with pytest.raises(InvalidIdentityResponseError) as caught:
        jwt_claims(token)
    assert GOOD[:20] not in str(caught.value)
