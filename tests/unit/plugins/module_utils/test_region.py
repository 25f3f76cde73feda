import pytest

from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError
from ansible_collections.bws.secrets.plugins.module_utils._region import Region


def test_named_regions():
    assert Region.resolve() == Region("https://api.bitwarden.com", "https://identity.bitwarden.com")
    assert Region.resolve("EU") == Region("https://api.bitwarden.eu", "https://identity.bitwarden.eu")


def test_self_hosted_and_precedence():
    region = Region.resolve("eu", server_url="https://vault.example.com/")
    assert (region.api_url, region.identity_url) == ("https://vault.example.com/api",
                                                     "https://vault.example.com/identity")
    explicit = Region.resolve("eu", "https://vault.example.com", "https://a.example/x/", "https://i.example")
    assert (explicit.api_url, explicit.identity_url) == ("https://a.example/x", "https://i.example")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"region": "mars"}, "unknown region 'mars'"),
    ({"api_url": "https://a.example"}, "must be set together"),
    ({"server_url": "vault.example.com"}, "must be an http(s) URL"),
    ({"server_url": "ftp://vault.example.com"}, "must be an http(s) URL"),
    ({"server_url": "https://user:pw@vault.example.com"}, "must not contain credentials"),
])
def test_bad_endpoints(kwargs, fragment):
    with pytest.raises(BWSSDKError) as info:
        Region.resolve(**kwargs)
    assert fragment in str(info.value)
    assert "pw@" not in str(info.value) or "credentials" in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:1", "http://127.9.9.9"])
def test_plain_http_allowed_for_loopback(url):
    Region.resolve(server_url=url).check_transport()


@pytest.mark.parametrize("url", ["http://vault.example.com", "http://10.0.0.5", "http://localhost.example.com"])
def test_plain_http_refused_elsewhere_unless_allowed(url):
    region = Region.resolve(server_url=url)
    with pytest.raises(BWSSDKError, match="allow_insecure_http"):
        region.check_transport()
    region.check_transport(allow_insecure_http=True)
    Region.resolve(server_url=url.replace("http://", "https://")).check_transport()


TOKEN = "0.ec2c1d46-6a4b-4751-a310-af9601317f2d.C2IgxjjLF7qSshsbwe8JGcbM075YXw:X8vbvA0bduihIDe/qrzIQQ=="


@pytest.mark.parametrize("kwargs", [
    {"region": TOKEN}, {"server_url": TOKEN}, {"server_url": " " + TOKEN},
    {"api_url": TOKEN, "identity_url": "https://i.example"}, {"api_url": "https://a.example", "identity_url": TOKEN},
    {"server_url": "https://vault.example.com/" + TOKEN},
])
def test_a_token_given_as_a_region_or_url_is_never_echoed(kwargs):
    with pytest.raises(BWSSDKError) as info:
        Region.resolve(**kwargs)
    message = str(info.value)
    assert "looks like an access token (not shown)" in message and "access_token or BWS_ACCESS_TOKEN" in message
    for part in ("C2IgxjjLF7qSshsbwe8JGcbM075YXw", "X8vbvA0bduihIDe", "ec2c1d46"):
        assert part not in message


@pytest.mark.parametrize("url", ["https://user:pw@vault.example.com:bad", "ftp://user:pw@vault.example.com",
                                 "https://user:p/w@vault.example.com", "https://user:p@w@vault.example.com:bad",
                                 "user:pw@vault.example.com", "vault.example.com?token=pw", "ftp://v.example#pw"])
def test_credentials_of_a_bad_url_are_never_echoed(url):
    with pytest.raises(BWSSDKError) as info:
        Region.resolve(server_url=url)
    assert "pw" not in str(info.value) and "p/w" not in str(info.value) and "user" not in str(info.value)
    assert "server_url" in str(info.value)


@pytest.mark.parametrize("url, shown", [("vault.example.com", "'vault.example.com'"),
                                        ("ftp://vault.example.com", "'ftp://vault.example.com'")])
def test_a_bad_url_without_credentials_is_shown(url, shown):
    with pytest.raises(BWSSDKError, match="got %s" % shown):
        Region.resolve(server_url=url)
