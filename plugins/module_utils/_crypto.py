# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys and EncStrings: the only place that touches AES, HMAC, HKDF and PKCS#7.

* ``derive_access_token_key``: 16-byte access-token key -> 64-byte ``SymmetricCryptoKey``.
* ``EncString``: type 2 ``2.<iv>|<ciphertext>|<mac>`` (AES-256-CBC, PKCS#7, HMAC-SHA256
  over iv || ciphertext), MAC verified in constant time before anything is decrypted.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import base64
import binascii
import hmac as _stdlib_hmac
import os
import traceback

from ._errors import CryptoError

try:
    from cryptography.hazmat.primitives import hashes, hmac, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
except ImportError:  # pragma: no cover - reported by the plugins with install advice
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
    _SHA256 = hashes.SHA256()  # algorithm descriptors, stateless: made once, not per value
    _PKCS7 = padding.PKCS7(128)

ENC_TYPE_AES_CBC_256_HMAC_SHA256 = 2
_IV_LEN = 16
_MAC_LEN = 32
_BLOCK = 16
_TOKEN_KEY_SALT = b"bitwarden-accesstoken"
_TOKEN_KEY_INFO = b"sm-access-token"


def b64decode_strict(text, what):
    """Decode standard base64 (padding optional); raise CryptoError naming ``what``."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            raise CryptoError("%s is not valid base64 (non-ASCII characters)" % what) from None
    text = text + b"=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("%s is not valid base64" % what) from None


def b64encode(data):
    return base64.b64encode(data).decode("ascii")


class SymmetricCryptoKey:
    """A 64-byte key: 32 bytes of AES-256 key then 32 bytes of HMAC-SHA256 key."""

    __slots__ = ("enc_key", "mac_key")

    def __init__(self, enc_key, mac_key):
        if len(enc_key) != 32 or len(mac_key) != 32:
            raise CryptoError("a symmetric key must be 32 bytes of AES key and 32 bytes of MAC key")
        self.enc_key = bytes(enc_key)
        self.mac_key = bytes(mac_key)

    @classmethod
    def from_bytes(cls, raw):
        if len(raw) != 64:
            raise CryptoError("a symmetric key must be 64 bytes, got %d" % len(raw))
        return cls(raw[:32], raw[32:])

    @classmethod
    def from_b64(cls, text, what="the key"):
        return cls.from_bytes(b64decode_strict(text, what))

    def to_bytes(self):
        return self.enc_key + self.mac_key

    def to_b64(self):
        return b64encode(self.to_bytes())

    def __eq__(self, other):
        return isinstance(other, SymmetricCryptoKey) and _stdlib_hmac.compare_digest(
            self.to_bytes(), other.to_bytes())

    def __hash__(self):
        return hash(self.mac_key)

    def __repr__(self):  # never show key material
        return "SymmetricCryptoKey(<redacted>)"


def derive_access_token_key(key16):
    """Derive the 64-byte token key from the access token's 16-byte key.

    ``prk = HMAC-SHA256(b"bitwarden-accesstoken", key16)``, then HKDF-Expand(prk,
    info=b"sm-access-token", L=64): the HMAC plays the role of HKDF-Extract.
    """
    if len(key16) != 16:
        raise CryptoError("the access token key must be 16 bytes, got %d" % len(key16))
    mac = hmac.HMAC(_TOKEN_KEY_SALT, _SHA256)
    mac.update(bytes(key16))
    prk = mac.finalize()
    okm = HKDFExpand(algorithm=_SHA256, length=64, info=_TOKEN_KEY_INFO).derive(prk)
    return SymmetricCryptoKey.from_bytes(okm)


def _mac(key, iv, ciphertext):
    mac = hmac.HMAC(key.mac_key, _SHA256)
    mac.update(iv)
    mac.update(ciphertext)
    return mac.finalize()


class EncString:
    """A parsed type-2 EncString. ``str(enc)`` gives the wire form back."""

    __slots__ = ("iv", "data", "mac")

    def __init__(self, iv, data, mac):
        self.iv = iv
        self.data = data
        self.mac = mac

    @classmethod
    def parse(cls, text, what="an encrypted value"):
        """Parse ``2.<iv>|<data>|<mac>``; anything else raises CryptoError naming ``what``."""
        if not isinstance(text, str):
            raise CryptoError("%s is not an encrypted string (got %s)" % (what, type(text).__name__))
        head, sep, body = text.partition(".")
        if not sep:
            raise CryptoError("%s is not an encrypted string (no type prefix)" % what)
        if head != str(ENC_TYPE_AES_CBC_256_HMAC_SHA256):
            if head.isdigit() and len(head) < 3:
                raise CryptoError(
                    "%s uses encryption type %s; Secrets Manager only uses type 2" % (what, head))
            raise CryptoError("%s is not an encrypted string (bad type prefix)" % what)
        parts = body.split("|")
        if len(parts) != 3:
            raise CryptoError("%s is malformed: expected 3 parts (iv|data|mac), got %d" % (what, len(parts)))
        iv = b64decode_strict(parts[0], what + " (iv)")
        data = b64decode_strict(parts[1], what + " (data)")
        mac = b64decode_strict(parts[2], what + " (mac)")
        if len(iv) != _IV_LEN:
            raise CryptoError("%s is malformed: iv must be 16 bytes, got %d" % (what, len(iv)))
        if len(mac) != _MAC_LEN:
            raise CryptoError("%s is malformed: mac must be 32 bytes, got %d" % (what, len(mac)))
        if not data or len(data) % _BLOCK:
            raise CryptoError("%s is malformed: ciphertext is not a whole number of AES blocks" % what)
        return cls(iv, data, mac)

    def __str__(self):
        return "%d.%s|%s|%s" % (ENC_TYPE_AES_CBC_256_HMAC_SHA256,
                                b64encode(self.iv), b64encode(self.data), b64encode(self.mac))

    def decrypt(self, key, what="an encrypted value"):
        """Verify the MAC (constant time), then decrypt and unpad. Returns bytes."""
        if not _stdlib_hmac.compare_digest(_mac(key, self.iv, self.data), self.mac):
            raise CryptoError(
                "%s failed its integrity check (MAC mismatch): wrong key or tampered data" % what)
        decryptor = Cipher(algorithms.AES(key.enc_key), modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(self.data) + decryptor.finalize()
        unpadder = _PKCS7.unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise CryptoError("%s has invalid padding after decryption" % what) from None

    @classmethod
    def encrypt(cls, key, plaintext):
        """Encrypt bytes or text (UTF-8) with a fresh random IV."""
        if isinstance(plaintext, str):
            plaintext = plaintext.encode("utf-8")
        iv = os.urandom(_IV_LEN)
        padder = _PKCS7.padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key.enc_key), modes.CBC(iv)).encryptor()
        data = encryptor.update(padded) + encryptor.finalize()
        return cls(iv, data, _mac(key, iv, data))


def warm_up():
    """Round-trip one value under a throwaway random key, so that OpenSSL's one-time setup of
    HMAC-SHA256, HKDF and AES-CBC (about 2 ms) is done in this process and inherited by every
    process it forks (the preload callback). No key or secret of anyone's is involved."""
    if HAS_CRYPTOGRAPHY:
        key = derive_access_token_key(os.urandom(16))
        EncString.encrypt(key, b"warm-up").decrypt(key)


def decrypt_text(key, text, what="an encrypted value"):
    """EncString wire form -> UTF-8 text."""
    raw = EncString.parse(text, what).decrypt(key, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError("%s decrypted to bytes that are not UTF-8 text" % what) from None


def encrypt_text(key, text):
    """Text -> EncString wire form."""
    return str(EncString.encrypt(key, text))
