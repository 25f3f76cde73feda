# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error classes every layer raises; plugins translate them at their edge.

Messages never carry an access token, a key, a JWT or a secret value: they name the
secret id or key that failed and say what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class BWSSDKError(Exception):
    """Base class of every error raised by the bws.secrets client."""


class InvalidTokenError(BWSSDKError):
    """The access token string is malformed (refused before any network call)."""


class CryptoError(BWSSDKError):
    """An EncString or key is malformed, or its MAC does not verify."""


class SendRequestError(BWSSDKError):
    """The request could not be sent or no usable answer came back (DNS, TLS, timeout...)."""


class InvalidIdentityResponseError(BWSSDKError):
    """The identity server answered 2xx with something that is not a usable login."""


class UnauthorisedTokenError(BWSSDKError):
    """The identity server refused the access token (invalid_client and friends)."""


class ApiError(BWSSDKError):
    """The API answered with an error status.

    ``status`` is the HTTP status code (or None), ``server_message`` what the server said.
    """

    def __init__(self, message, status=None, server_message=None):
        super(ApiError, self).__init__(message)
        self.status = status
        self.server_message = server_message


class NotFoundError(ApiError):
    """404: the object is missing or not shared with this machine account."""


class AmbiguousError(BWSSDKError):
    """A name matches several objects."""


class RateLimitedError(ApiError):
    """429 after every allowed retry."""


class StateFileError(BWSSDKError):
    """The state directory or file cannot be used (callers usually just warn)."""
