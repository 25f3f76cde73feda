# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where to talk to: the one place that knows the Bitwarden endpoint URLs."""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

from urllib.parse import urlsplit

from ._errors import BWSSDKError

REGION_URLS = {
    "us": ("https://api.bitwarden.com", "https://identity.bitwarden.com"),
    "eu": ("https://api.bitwarden.eu", "https://identity.bitwarden.eu"),
}
SELF_HOSTED_API_PATH = "/api"
SELF_HOSTED_IDENTITY_PATH = "/identity"


class Region:
    """The API and identity base URLs (no trailing slash)."""

    __slots__ = ("api_url", "identity_url")

    def __init__(self, api_url: str, identity_url: str):
        self.api_url = _check_url(api_url, "api_url")
        self.identity_url = _check_url(identity_url, "identity_url")

    @classmethod
    def named(cls, name: str) -> "Region":
        _not_a_token(name, "region")
        try:
            return cls(*REGION_URLS[(name or "us").lower()])
        except KeyError:
            raise BWSSDKError("unknown region %s: use one of %s, or set server_url"
                              % (_shown(name), ", ".join(sorted(REGION_URLS)))) from None

    @classmethod
    def self_hosted(cls, server_url: str) -> "Region":
        base = _check_url(server_url, "server_url")
        return cls(base + SELF_HOSTED_API_PATH, base + SELF_HOSTED_IDENTITY_PATH)

    @classmethod
    def resolve(cls, region=None, server_url=None, api_url=None, identity_url=None) -> "Region":
        """Explicit api_url + identity_url win, then server_url, then the named region."""
        if api_url or identity_url:
            if not (api_url and identity_url):
                raise BWSSDKError("api_url and identity_url must be set together (or use server_url)")
            return cls(api_url, identity_url)
        if server_url:
            return cls.self_hosted(server_url)
        return cls.named(region)

    def check_transport(self, allow_insecure_http=False):
        """Refuse plain http:// to anything but a loopback address unless explicitly allowed."""
        if allow_insecure_http:
            return
        for url in (self.api_url, self.identity_url):
            parts = urlsplit(url)
            if parts.scheme == "http" and not is_loopback(parts.hostname):
                raise BWSSDKError(
                    "%s uses plain http:// to a host that is not loopback: the access token and secrets "
                    "would cross the network unencrypted. Use https://, or set allow_insecure_http=true "
                    "if you really mean it" % url)

    def __eq__(self, other):
        return isinstance(other, Region) and (self.api_url, self.identity_url) == (other.api_url, other.identity_url)

    def __repr__(self):
        return "Region(api_url=%r, identity_url=%r)" % (self.api_url, self.identity_url)


def is_loopback(host):
    """True for localhost and loopback addresses (asked of http:// URLs only)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    import ipaddress  # loaded by urllib.parse from Python 3.11; on a managed host's 3.9 only when needed

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _not_a_token(value, what):
    from ._token import looks_like_token  # here: _http imports this module, and must stay light

    if looks_like_token(value):
        raise BWSSDKError("%s holds what looks like an access token (not shown): put the token in access_token or "
                          "BWS_ACCESS_TOKEN, and remove it from %s" % (what, what))


def _shown(value, limit=100):
    """A mistaken option value for an error message; not shown if it may hold a URL's credentials
    or a query, which may carry a secret too (tokens never get here)."""
    text = str(value)
    if any(mark in text for mark in "@?#"):
        return "(not shown: it holds '@', '?' or '#', as a URL's credentials, query or fragment do)"
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_url(url, what):
    if not isinstance(url, str) or not url.strip():
        raise BWSSDKError("%s is empty" % what)
    _not_a_token(url, what)
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise BWSSDKError("%s is not a valid URL: %s" % (what, _shown(url))) from None
    if parts.scheme not in ("https", "http") or not host:
        raise BWSSDKError("%s must be an http(s) URL like https://vault.example.com, got %s" % (what, _shown(url)))
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BWSSDKError("%s must not contain credentials, a query or a fragment" % what)
    return url
