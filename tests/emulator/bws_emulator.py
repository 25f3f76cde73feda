#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local Bitwarden Secrets Manager server for tests, benchmarks and offline playbooks.

One process serves the identity endpoint (``/connect/token``) and the Secrets Manager API,
on 127.0.0.1 only, under ``/``, ``/identity`` and ``/api``. It holds the organization key
and the access-token keys itself and stores secrets and project names only as the
EncStrings clients sent (seeded plaintext is encrypted with the org key at start).

On start it prints ONE JSON line to stdout (urls, tokens, ids, ca_file with ``--tls``) and
serves until SIGTERM/SIGINT. Admin endpoints under ``/_admin/`` (no auth, loopback only)
give counters, fault injection, token revocation and JWT expiry. See README.md.

Only the standard library, ``cryptography`` and ``PyJWT`` are needed; EncStrings and the
token key derivation come from the collection's ``plugins/module_utils/_crypto.py``.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import email.utils
import hmac
import ipaddress
import json
import logging
import os
import pathlib
import re
import secrets as _secrets
import shutil
import signal
import socket
import socketserver
import ssl
import string
import struct
import sys
import tempfile
import threading
import time
import types
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt


def _load_module_utils():
    """Import the collection's module_utils as a plain package (no ansible needed)."""
    here = pathlib.Path(__file__).resolve().parent
    mu_dir = here.parent.parent / "plugins" / "module_utils"
    name = "_bws_module_utils"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(mu_dir)]
        sys.modules[name] = pkg
    import importlib

    return importlib.import_module(name + "._crypto"), importlib.import_module(name + "._errors")


_crypto, _errors = _load_module_utils()
SymmetricCryptoKey = _crypto.SymmetricCryptoKey
EncString = _crypto.EncString
derive_access_token_key = _crypto.derive_access_token_key
encrypt_text = _crypto.encrypt_text
CryptoError = _errors.CryptoError

LOG = logging.getLogger("bws_emulator")

# [EncryptedStringLength] of the server's request models (SecretCreateRequestModel, ...)
MAX_ENCRYPTED = {"key": 1000, "value": 35000, "note": 10000, "name": 1000}
MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_JWT_LIFETIME = 3600
TICKS_PER_SECOND = 10 ** 7


# --------------------------------------------------------------------------- helpers


def error_body(message, validation_errors=None):
    """The error JSON shape of the real API (vectors ``error_bodies``)."""
    return {
        "message": message,
        "validationErrors": validation_errors,
        "exceptionMessage": None,
        "exceptionStackTrace": None,
        "innerExceptionMessage": None,
        "object": "error",
    }


NOT_FOUND_MESSAGE = "Resource not found."
SERVER_ERROR_MESSAGE = "An unhandled server error has occurred."
MODEL_INVALID_MESSAGE = "The model state is invalid."


class HttpError(Exception):
    """Raised by handlers to answer with an error status and JSON body."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found():
    return HttpError(404, error_body(NOT_FOUND_MESSAGE))


def bad_request(message, validation_errors=None):
    return HttpError(400, error_body(message, validation_errors))


def invalid_model(field, message):
    return bad_request(MODEL_INVALID_MESSAGE, {field: [message]})


def dumps_json(obj):
    """Compact JSON, non-ASCII and ``+`` escaped like the real server (System.Text.Json)."""
    return json.dumps(obj, separators=(",", ":")).replace("+", "\\u002B")


def norm_uuid(value):
    """A UUID string in canonical lower-case form, or None when ``value`` is not a UUID."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def new_id():
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- clock


# The server's clock runs this many nanoseconds ahead of this machine's (negative: behind):
# its dates, JWTs, HTTP Date headers and the sync endpoint's idea of "the past" all follow it
# (``--clock-offset``, ``POST /_admin/clock``), as with a client whose clock is off.
_CLOCK_OFFSET_NS = [0]


def server_time_ns():
    return time.time_ns() + _CLOCK_OFFSET_NS[0]


def server_time():
    return server_time_ns() / 1e9


class Clock:
    """Strictly increasing UTC timestamps in 100 ns ticks since the Unix epoch."""

    def __init__(self):
        self._last = 0
        self._lock = threading.Lock()

    def now(self):
        """A timestamp later than every one handed out before (for writes)."""
        with self._lock:
            self._last = max(server_time_ns() // 100, self._last + 1)
            return self._last

    @staticmethod
    def wall():
        """The current time in ticks (for comparisons, does not advance the clock)."""
        return server_time_ns() // 100


def format_ticks(ticks):
    """Ticks -> ``2026-11-28T00:26:51.7683714Z``, trailing zeros of the fraction dropped (and
    the fraction with them when it is zero), as the server's JSON serializer writes dates."""
    secs, frac = divmod(ticks, TICKS_PER_SECOND)
    fraction = ("%07d" % frac).rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ("." + fraction if fraction else "") + "Z"


_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$")


def parse_date(text):
    """RFC 3339 / ISO 8601 date-time -> ticks. No offset means UTC. Raises ValueError."""
    match = _DATE_RE.match(text.strip())
    if not match:
        raise ValueError("not a date")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    datetime.datetime(year, month, day, hour, minute, second)  # range check
    frac = int((match.group(7) or "0")[:7].ljust(7, "0"))
    ticks = calendar.timegm((year, month, day, hour, minute, second)) * TICKS_PER_SECOND + frac
    zone = match.group(8)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        ticks -= sign * offset * TICKS_PER_SECOND
    return ticks


# --------------------------------------------------------------------------- world


class Project:
    __slots__ = ("id", "name", "creation", "revision")

    def __init__(self, pid, name, ticks):
        self.id = pid
        self.name = name  # EncString, as sent (or encrypted at seed time)
        self.creation = ticks
        self.revision = ticks


class Secret:
    __slots__ = ("id", "key", "value", "note", "project_ids", "creation", "revision", "versions")

    def __init__(self, sid, key, value, note, project_ids, ticks):
        self.id = sid
        self.key = key
        self.value = value
        self.note = note
        self.project_ids = list(project_ids)
        self.creation = ticks
        self.revision = ticks
        self.versions = []  # [(old value EncString, ticks, editor account id)]: updates sent with valueChanged


class MachineAccount:
    __slots__ = ("id", "name", "grants", "revision")

    def __init__(self, aid, name, ticks):
        self.id = aid
        self.name = name
        self.grants = {}  # project id -> "read" | "write"
        self.revision = ticks  # bumped on every change it can see (drives sync)


class AccessToken:
    """An access token as the server keeps it: id, secret, key, and the wrapped org key."""

    __slots__ = ("id", "client_secret", "key16", "account_id", "encrypted_payload", "revoked")

    def __init__(self, tid, client_secret, key16, account_id, org_key):
        self.id = tid
        self.client_secret = client_secret
        self.key16 = key16
        self.account_id = account_id
        self.revoked = False
        payload = json.dumps({"encryptionKey": org_key.to_b64()}, separators=(",", ":"))
        self.encrypted_payload = encrypt_text(derive_access_token_key(key16), payload)

    @property
    def text(self):
        return "0.%s.%s:%s" % (self.id, self.client_secret, _crypto.b64encode(self.key16))

    def __repr__(self):  # never show the secret or key
        return "AccessToken(%s)" % self.id


def parse_token_string(text):
    """``0.<uuid>.<client_secret>:<b64 key16>`` -> (id, secret, key16). Raises ValueError."""
    version, _unused, rest = text.partition(".")
    tid, _unused, rest = rest.partition(".")
    client_secret, _unused, key_b64 = rest.rpartition(":")
    if version != "0" or norm_uuid(tid) is None or not client_secret:
        raise ValueError("malformed access token")
    try:
        key16 = _crypto.b64decode_strict(key_b64, "the access token key")
    except CryptoError:
        raise ValueError("malformed access token key") from None
    if len(key16) != 16:
        raise ValueError("the access token key must be 16 bytes")
    return norm_uuid(tid), client_secret, key16


def random_client_secret():
    alphabet = string.ascii_letters + string.digits
    return "".join(_secrets.choice(alphabet) for _unused in range(30))


class World:
    """Organization, projects, machine accounts, tokens and secrets, behind one lock."""

    def __init__(self, org_id, org_key, clock):
        self.org_id = org_id
        self.org_key = org_key
        self.clock = clock
        self.lock = threading.RLock()
        self.projects = {}
        self.secrets = {}
        self.accounts = {}
        self.tokens = {}
        self.default_project_id = None

    # -- construction -----------------------------------------------------------------

    def add_project(self, name_plain, pid=None, ticks=None):
        ticks = ticks or self.clock.now()
        project = Project(pid or new_id(), encrypt_text(self.org_key, name_plain), ticks)
        self.projects[project.id] = project
        return project

    def add_account(self, name, aid=None, ticks=None):
        account = MachineAccount(aid or new_id(), name, ticks or self.clock.now())
        self.accounts[account.id] = account
        return account

    def add_token(self, account, tid=None, client_secret=None, key16=None):
        token = AccessToken(tid or new_id(), client_secret or random_client_secret(),
                            key16 or os.urandom(16), account.id, self.org_key)
        if token.id in self.tokens:
            raise ValueError("duplicate access token id %s" % token.id)
        self.tokens[token.id] = token
        return token

    def add_plain_secret(self, key, value, note, project_ids, sid=None, ticks=None):
        def enc(text):
            return encrypt_text(self.org_key, text)

        secret = Secret(sid or new_id(), enc(key), enc(value), enc(note or ""), project_ids,
                        ticks or self.clock.now())
        self.secrets[secret.id] = secret
        return secret

    def account_by_name(self, name):
        for account in self.accounts.values():
            if account.name == name:
                return account
        return None

    def tokens_of(self, account):
        return [t for t in self.tokens.values() if t.account_id == account.id]

    # -- access rules -----------------------------------------------------------------

    def secret_access(self, account, secret):
        """"write", "read" or None: the best grant on any of the secret's projects."""
        levels = [account.grants.get(pid) for pid in secret.project_ids]
        if "write" in levels:
            return "write"
        return "read" if "read" in levels else None

    def project_access(self, account, project_id):
        if project_id not in self.projects:
            return None
        return account.grants.get(project_id)

    def touch(self, project_ids, ticks):
        """Record a change visible through ``project_ids`` (for sync's hasChanges)."""
        wanted = set(project_ids)
        for account in self.accounts.values():
            if wanted.intersection(account.grants):
                account.revision = max(account.revision, ticks)

    # -- response models --------------------------------------------------------------

    def project_refs(self, secret):
        return [{"id": pid, "name": self.projects[pid].name}
                for pid in secret.project_ids if pid in self.projects]

    def secret_model(self, secret, access):
        return {
            "object": "secret", "id": secret.id, "organizationId": self.org_id,
            "key": secret.key, "value": secret.value, "note": secret.note,
            "creationDate": format_ticks(secret.creation),
            "revisionDate": format_ticks(secret.revision),
            "projects": self.project_refs(secret),
            "read": True, "write": access == "write",
        }

    def base_secret_model(self, secret):
        return {
            "object": "baseSecret", "id": secret.id, "organizationId": self.org_id,
            "key": secret.key, "value": secret.value, "note": secret.note,
            "creationDate": format_ticks(secret.creation),
            "revisionDate": format_ticks(secret.revision),
            "projects": self.project_refs(secret),
        }

    def listed_secret_model(self, secret, access):
        return {
            "id": secret.id, "organizationId": self.org_id, "key": secret.key,
            "creationDate": format_ticks(secret.creation),
            "revisionDate": format_ticks(secret.revision),
            "projects": self.project_refs(secret),
            "read": True, "write": access == "write",
        }

    def project_model(self, project, access):
        return {
            "object": "project", "id": project.id, "organizationId": self.org_id,
            "name": project.name,
            "creationDate": format_ticks(project.creation),
            "revisionDate": format_ticks(project.revision),
            "read": True, "write": access == "write",
        }


# --------------------------------------------------------------------------- seeding


BUILTIN_PROJECT = "Default"
BUILTIN_ACCOUNT = "default"


class SeedError(ValueError):
    """The seed file is not usable."""


def _seed_id(value, what):
    if value is None:
        return None
    ident = norm_uuid(value)
    if ident is None:
        raise SeedError("%s: %r is not a UUID" % (what, value))
    return ident


def load_seed(path):
    if path is None:
        return {}
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SeedError("cannot read seed file %s: %s" % (path, exc)) from None
    if not isinstance(data, dict):
        raise SeedError("the seed file must hold a JSON object")
    return data


def _organization_from_seed(seed):
    org = seed.get("organization") or {}
    org_id = _seed_id(org.get("id"), "organization.id") or new_id()
    key_b64 = org.get("key_b64")
    try:
        org_key = (SymmetricCryptoKey.from_b64(key_b64, "organization.key_b64") if key_b64
                   else SymmetricCryptoKey.from_bytes(os.urandom(64)))
    except CryptoError as exc:
        raise SeedError(str(exc)) from None
    return org_id, org_key


def _seed_projects(world, seed, ticks):
    """Create projects; returns {name or id: project id} for grant and secret lookups."""
    refs = {}
    entries = list(seed.get("projects") or [])
    if not any(p.get("name") == BUILTIN_PROJECT for p in entries):
        entries.insert(0, {"name": BUILTIN_PROJECT})
    for entry in entries:
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise SeedError("every project needs a non-empty name")
        project = world.add_project(name, _seed_id(entry.get("id"), "project id"), ticks)
        refs[name] = project.id
        refs[project.id] = project.id
    world.default_project_id = refs[BUILTIN_PROJECT]
    return refs


def _resolve_project(refs, ref, what):
    if ref is None:
        return None
    pid = refs.get(ref) or refs.get(norm_uuid(ref) or "")
    if pid is None:
        raise SeedError("%s: unknown project %r" % (what, ref))
    return pid


def _seed_tokens(world, account, entry):
    specs = list(entry.get("tokens") or [])
    if entry.get("token"):
        specs.insert(0, {"token": entry["token"]})
    if not specs:
        specs = [{}]
    for spec in specs:
        if spec.get("token"):
            try:
                tid, client_secret, key16 = parse_token_string(spec["token"])
            except ValueError as exc:
                raise SeedError("machine account %s: %s" % (account.name, exc)) from None
        else:
            tid = _seed_id(spec.get("id"), "token id")
            client_secret = spec.get("client_secret")
            key16 = None
            if spec.get("key_b64"):
                try:
                    key16 = _crypto.b64decode_strict(spec["key_b64"], "token key_b64")
                except CryptoError as exc:
                    raise SeedError(str(exc)) from None
                if len(key16) != 16:
                    raise SeedError("token key_b64 must be 16 bytes")
        try:
            world.add_token(account, tid, client_secret, key16)
        except ValueError as exc:
            raise SeedError(str(exc)) from None


def _seed_accounts(world, seed, refs, ticks):
    entries = list(seed.get("machine_accounts") or [])
    if not any(a.get("name") == BUILTIN_ACCOUNT for a in entries):
        entries.insert(0, {"name": BUILTIN_ACCOUNT, "grants": {BUILTIN_PROJECT: "write"}})
    for entry in entries:
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise SeedError("every machine account needs a name")
        account = world.add_account(name, _seed_id(entry.get("id"), "machine account id"), ticks)
        for ref, level in (entry.get("grants") or {}).items():
            if level not in ("read", "write"):
                raise SeedError("machine account %s: grant must be read or write" % name)
            account.grants[_resolve_project(refs, ref, "grant of " + name)] = level
        _seed_tokens(world, account, entry)


def _seed_secrets(world, seed, refs, ticks):
    for index, entry in enumerate(seed.get("secrets") or []):
        what = "secret #%d" % index
        if not isinstance(entry.get("key"), str) or not isinstance(entry.get("value"), str):
            raise SeedError("%s needs a string key and value" % what)
        pid = _resolve_project(refs, entry.get("project"), what)
        world.add_plain_secret(entry["key"], entry["value"], entry.get("note") or "",
                               [pid] if pid else [], _seed_id(entry.get("id"), what), ticks)


def build_world(seed, clock):
    """The built-in world (org, project "Default", machine account "default") plus the seed."""
    org_id, org_key = _organization_from_seed(seed)
    world = World(org_id, org_key, clock)
    ticks = clock.now()
    refs = _seed_projects(world, seed, ticks)
    _seed_accounts(world, seed, refs, ticks)
    _seed_secrets(world, seed, refs, ticks)
    return world


# --------------------------------------------------------------------------- JWTs


class TokenService:
    """Issues and checks bearer JWTs (HS256 with a per-process secret)."""

    def __init__(self, world, issuer, lifetime):
        self.world = world
        self.issuer = issuer
        self.lifetime = lifetime
        self._secret = os.urandom(32)
        self._live = {}  # jti -> access token id; forgetting a jti kills the JWT
        self._lock = threading.Lock()

    def issue(self, token, account):
        now = int(server_time())
        jti = uuid.uuid4().hex.upper()
        claims = {
            "nbf": now, "exp": now + self.lifetime, "iss": self.issuer,
            "client_id": token.id, "sub": account.id, "type": "ServiceAccount",
            "organization": self.world.org_id, "jti": jti, "iat": now,
            "scope": ["api.secrets"],
        }
        with self._lock:
            self._live[jti] = token.id
        return jwt.encode(claims, self._secret, algorithm="HS256", headers={"typ": "at+jwt"})

    def authenticate(self, header):
        """``Authorization`` header -> MachineAccount, or None (answer 401)."""
        scheme, _unused, credentials = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None
        try:
            claims = jwt.decode(credentials.strip(), self._secret, algorithms=["HS256"],
                                options={"require": ["exp", "sub", "jti", "client_id"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        except jwt.PyJWTError:
            return None
        if not isinstance(claims["exp"], (int, float)) or claims["exp"] <= server_time():  # the server's clock
            return None
        with self._lock:
            live = self._live.get(claims["jti"]) == claims["client_id"]
        token = self.world.tokens.get(claims["client_id"])
        if not live or token is None or token.revoked:
            return None
        return self.world.accounts.get(claims["sub"])

    def expire(self, token_id=None):
        """Invalidate every live JWT (or those of one access token)."""
        with self._lock:
            if token_id is None:
                count = len(self._live)
                self._live.clear()
                return count
            dead = [jti for jti, tid in self._live.items() if tid == token_id]
            for jti in dead:
                del self._live[jti]
            return len(dead)


# --------------------------------------------------------------------------- stats & faults


class Stats:
    """Request counters per route template, per status, and successful logins."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.routes = {}
            self.statuses = {}
            self.total = 0
            self.logins = 0

    def count(self, route):
        with self._lock:
            self.routes[route] = self.routes.get(route, 0) + 1
            self.total += 1

    def answered(self, status):
        with self._lock:
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1

    def login(self):
        with self._lock:
            self.logins += 1

    def snapshot(self):
        with self._lock:
            return {"routes": dict(self.routes), "statuses": dict(self.statuses),
                    "total": self.total, "logins": self.logins}


class FaultDecision:
    """What fault injection wants done with one request."""

    __slots__ = ("sleep", "reset", "retry_after", "fail_status", "fail_body", "non_json", "after", "trickle")

    def __init__(self):
        self.sleep = 0.0
        self.trickle = 0.0  # seconds over which the answer is sent, a few bytes at a time
        self.after = False  # serve the request first (its writes happen), then fail or reset
        self.reset = False
        self.retry_after = None
        self.fail_status = None
        self.fail_body = None
        self.non_json = False


_FAULT_KEYS = {"latency_ms", "rate_limit", "fail", "reset", "non_json", "hang", "trickle"}


def _check_rule_list(cfg, name, extra):
    rules = cfg.get(name) or []
    if not isinstance(rules, list):
        raise ValueError("%s must be a list" % name)
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("route", "*"), str):
            raise ValueError("%s entries must be objects with a route" % name)
        if not isinstance(rule.get("count", 1), int):
            raise ValueError("%s count must be an integer (-1: unlimited)" % name)
        for key, kinds in extra.items():
            if key in rule and not isinstance(rule[key], kinds):
                raise ValueError("%s.%s has the wrong type" % (name, key))
    return [dict(rule, route=rule.get("route", "*"), count=rule.get("count", 1))
            for rule in rules]


class Faults:
    """Fault injection configured through ``POST /_admin/faults`` (replaces the config)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.configure({})

    def configure(self, cfg):
        if not isinstance(cfg, dict):
            raise ValueError("faults must be a JSON object")
        if set(cfg) - _FAULT_KEYS:
            raise ValueError("unknown fault keys: %s" % sorted(set(cfg) - _FAULT_KEYS))
        num = (int, float)
        rate = cfg.get("rate_limit") or {}
        if not isinstance(rate, dict) or not all(isinstance(rate.get(k, 0), num)
                                                 for k in ("every", "rps", "retry_after")):
            raise ValueError("rate_limit must be {every|rps: number, retry_after: seconds}")
        if not isinstance(cfg.get("latency_ms", 0), num):
            raise ValueError("latency_ms must be a number")
        rules = {
            "fail": _check_rule_list(cfg, "fail", {"status": int, "body": str, "after": bool}),
            "reset": _check_rule_list(cfg, "reset", {"after": bool}),
            "non_json": _check_rule_list(cfg, "non_json", {}),
            "hang": _check_rule_list(cfg, "hang", {"seconds": num}),
            "trickle": _check_rule_list(cfg, "trickle", {"seconds": num}),
        }
        with self._lock:
            self.latency = float(cfg.get("latency_ms") or 0) / 1000.0
            self.rate = dict(rate)
            self.rules = rules
            self._seen = 0
            self._tokens = float(rate.get("rps") or 0)
            self._stamp = time.monotonic()
            self._config = json.loads(json.dumps(cfg))

    def config(self):
        with self._lock:
            return {"config": self._config,
                    "pending": {k: [dict(r) for r in v] for k, v in self.rules.items()}}

    def _take(self, kind, route):
        """Consume one use of the first rule of ``kind`` matching ``route``; return it."""
        for rule in self.rules[kind]:
            if rule["route"] in ("*", route) and rule["count"] != 0:
                if rule["count"] > 0:
                    rule["count"] -= 1
                return rule
        return None

    def _rate_limited(self):
        every = int(self.rate.get("every") or 0)
        rps = float(self.rate.get("rps") or 0)
        limited = False
        self._seen += 1
        if every > 0 and self._seen % every == 0:
            limited = True
        if rps > 0:
            now = time.monotonic()
            capacity = max(1.0, rps)
            self._tokens = min(capacity, self._tokens + (now - self._stamp) * rps)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
            else:
                limited = True
        return limited

    def decide(self, route):
        decision = FaultDecision()
        with self._lock:
            decision.sleep = self.latency
            hang = self._take("hang", route)
            if hang:
                decision.sleep += float(hang.get("seconds", 30))
            trickle = self._take("trickle", route)
            if trickle:
                decision.trickle = float(trickle.get("seconds", 5))
            reset = self._take("reset", route)
            if reset:
                decision.reset = True
                decision.after = bool(reset.get("after"))
                return decision
            if self._rate_limited():
                decision.retry_after = self.rate.get("retry_after", 1)
                return decision
            fail = self._take("fail", route)
            if fail:
                decision.fail_status = int(fail.get("status", 500))
                decision.fail_body = fail.get("body")
                decision.after = bool(fail.get("after"))
                return decision
            decision.non_json = bool(self._take("non_json", route))
        return decision


# --------------------------------------------------------------------------- responses


class Response:
    """An answer: status, body bytes, content type and extra headers."""

    __slots__ = ("status", "body", "content_type", "headers", "trickle")

    def __init__(self, status, body=b"", content_type=None, headers=None):
        self.trickle = 0.0  # seconds over which to send it (fault injection)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(cls, status, obj, headers=None):
        return cls(status, dumps_json(obj).encode("ascii"),
                   "application/json; charset=utf-8", headers)

    @classmethod
    def html(cls, status, text):
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8")


RESET = object()  # handler result: drop the connection without an answer

HTML_PAGES = {
    200: "<!DOCTYPE html><html><head><title>Sign in to the network</title></head>"
         "<body><h1>Captive portal</h1><p>Please accept the terms to continue.</p></body></html>",
    502: "<html><head><title>502 Bad Gateway</title></head><body><center>"
         "<h1>502 Bad Gateway</h1></center></body></html>",
    503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
         "<h1>503 Service Temporarily Unavailable</h1></center></body></html>",
}


class Request:
    """One parsed request as the handlers see it."""

    __slots__ = ("method", "path", "query", "headers", "body", "params", "account")

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.params = {}
        self.account = None

    def json(self):
        """The body as JSON; invalid JSON is a 400 like ASP.NET model binding."""
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise invalid_model("$", "The JSON value could not be converted.") from None


# --------------------------------------------------------------------------- API handlers


def _validate_encstring(body, field, errors, required=True):
    name = field[0].upper() + field[1:]
    value = body.get(field)
    if value is None:
        if required:
            errors[name] = ["The %s field is required." % name]
        return
    try:
        EncString.parse(value, name)
    except CryptoError:
        errors[name] = ["%s is not a valid encrypted string." % name]


def _uuid_list(value, field, allow_none=True):
    """A JSON list of UUID strings -> normalized list (None stays None). 400 otherwise."""
    if value is None and allow_none:
        return None
    if not isinstance(value, list) or not all(norm_uuid(v) for v in value):
        raise invalid_model(field, "The JSON value could not be converted to System.Guid[].")
    return [norm_uuid(v) for v in value]


def _secret_body(req):
    """Validate a create/update body; returns (key, value, note, projectIds or None)."""
    body = req.json()
    if not isinstance(body, dict):
        raise invalid_model("$", "The JSON value could not be converted.")
    errors = {}
    for field in ("key", "value", "note"):
        _validate_encstring(body, field, errors)
        _check_encrypted_length(body, field, errors)
    if errors:
        raise bad_request(MODEL_INVALID_MESSAGE, errors)
    project_ids = _uuid_list(body.get("projectIds"), "projectIds")
    if project_ids and len(project_ids) > 1:
        raise bad_request("Secrets can only belong to one project.")
    return body["key"], body["value"], body["note"], project_ids


def _project_name(req):
    body = req.json()
    if not isinstance(body, dict):
        raise invalid_model("$", "The JSON value could not be converted.")
    errors = {}
    _validate_encstring(body, "name", errors)
    _check_encrypted_length(body, "name", errors)
    if errors:
        raise bad_request(MODEL_INVALID_MESSAGE, errors)
    return body["name"]


def _check_encrypted_length(body, field, errors):
    text, limit = body.get(field), MAX_ENCRYPTED[field]
    if isinstance(text, str) and len(text) > limit:
        name = field.capitalize()
        errors[name] = ["The field %s exceeds the maximum encrypted value length of %d characters." % (name, limit)]


def _id_array(req):
    body = req.json()
    return _uuid_list(body, "ids", allow_none=False)


def _bulk_result(results):
    return {"object": "list",
            "data": [{"object": "BulkDeleteResponseModel", "id": i, "error": e}
                     for i, e in results],
            "continuationToken": None}


class Api:
    """The identity and Secrets Manager endpoints, over a World."""

    def __init__(self, world, tokens, stats):
        self.world = world
        self.tokens = tokens
        self.stats = stats

    # -- shared lookups ---------------------------------------------------------------

    def _org(self, req):
        if (req.params.get("org") or "").lower() != self.world.org_id:
            raise not_found()

    def _param_id(self, req):
        ident = norm_uuid(req.params.get("id"))
        if ident is None:
            raise not_found()
        return ident

    def _readable_secret(self, req, sid):
        secret = self.world.secrets.get(sid)
        access = secret and self.world.secret_access(req.account, secret)
        if not access:
            raise not_found()
        return secret, access

    def _writable_project(self, account, project_ids):
        """The single project id a machine account may write to, else 404."""
        if not project_ids or self.world.project_access(account, project_ids[0]) != "write":
            raise not_found()
        return project_ids[0]

    def _visible_secrets(self, account, project_id=None):
        world = self.world
        for secret in world.secrets.values():
            if project_id and project_id not in secret.project_ids:
                continue
            access = world.secret_access(account, secret)
            if access:
                yield secret, access

    def _secrets_with_projects(self, pairs):
        items, projects = [], {}
        for secret, access in pairs:
            items.append(self.world.listed_secret_model(secret, access))
            for ref in self.world.project_refs(secret):
                projects.setdefault(ref["id"], ref)
        return {"object": "SecretsWithProjectsList", "secrets": items,
                "projects": list(projects.values())}

    # -- identity ---------------------------------------------------------------------

    def login(self, req):
        """POST /connect/token (client_credentials with an access token)."""
        form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)

        def field(name):
            return (form.get(name) or [""])[0]

        invalid = Response.json(400, {"error": "invalid_client"})
        token = self.world.tokens.get(norm_uuid(field("client_id")) or "")
        if token is None or token.revoked or not hmac.compare_digest(
                token.client_secret.encode(), field("client_secret").encode()):
            return invalid
        if field("grant_type") != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type"})
        if field("scope").split() != ["api.secrets"]:
            return Response.json(400, {"error": "invalid_scope"})
        account = self.world.accounts[token.account_id]
        self.stats.login()
        return Response.json(200, {
            "access_token": self.tokens.issue(token, account),
            "expires_in": self.tokens.lifetime, "token_type": "Bearer",
            "scope": "api.secrets", "encrypted_payload": token.encrypted_payload,
        }, headers={"Cache-Control": "no-store, no-cache, max-age=0", "Pragma": "no-cache"})

    # -- secrets ----------------------------------------------------------------------

    def secret_get(self, req):
        with self.world.lock:
            secret, access = self._readable_secret(req, self._param_id(req))
            return Response.json(200, self.world.secret_model(secret, access))

    def secrets_get_by_ids(self, req):
        body = req.json()
        ids = _uuid_list(body.get("ids") if isinstance(body, dict) else None, "ids",
                         allow_none=False)
        with self.world.lock:
            found = {}
            for sid in ids:
                secret = self.world.secrets.get(sid)
                if secret and self.world.secret_access(req.account, secret):
                    found[sid] = secret
            # Like the real server: any missing/unreadable id (or a duplicate) is a 404.
            if not found or len(found) != len(ids):
                raise not_found()
            data = [self.world.base_secret_model(found[sid]) for sid in ids]
        return Response.json(200, {"object": "list", "data": data, "continuationToken": None})

    def secrets_list(self, req):
        self._org(req)
        with self.world.lock:
            body = self._secrets_with_projects(self._visible_secrets(req.account))
        return Response.json(200, body)

    def project_secrets(self, req):
        pid = self._param_id(req)
        with self.world.lock:
            if pid not in self.world.projects:
                raise not_found()
            # a project that exists but is not shared: 200 and nothing in it, as on the real server
            body = self._secrets_with_projects(self._visible_secrets(req.account, pid))
        return Response.json(200, body)

    def secrets_sync(self, req):
        self._org(req)
        raw = (req.query.get("lastSyncedDate") or [None])[0]
        since = None
        if raw not in (None, ""):
            try:
                since = parse_date(raw)
            except ValueError:
                raise invalid_model("lastSyncedDate",
                                    "The value '%s' is not valid." % raw[:64]) from None
            if since > Clock.wall():
                raise bad_request("Last synced date must be in the past.")
        with self.world.lock:
            changed = since is None or since <= req.account.revision  # SecretsSyncQuery's test
            secrets = None
            if changed:
                secrets = {"object": "list",
                           "data": [self.world.base_secret_model(s)
                                    for s, _unused in self._visible_secrets(req.account)],
                           "continuationToken": None}
        return Response.json(200, {"object": "secretsSync", "hasChanges": changed,
                                   "secrets": secrets})

    def secret_create(self, req):
        key, value, note, project_ids = _secret_body(req)
        self._org(req)
        world = self.world
        with world.lock:
            pid = self._writable_project(req.account, project_ids)
            ticks = world.clock.now()
            secret = Secret(new_id(), key, value, note, [pid], ticks)
            world.secrets[secret.id] = secret
            world.touch([pid], ticks)
            return Response.json(200, world.secret_model(secret, "write"))

    def secret_update(self, req):
        key, value, note, project_ids = _secret_body(req)
        if not isinstance(req.json().get("valueChanged", False), bool):  # the update's flag; a create ignores it
            raise invalid_model("$.valueChanged", "The JSON value could not be converted to System.Boolean.")
        world = self.world
        with world.lock:
            secret, access = self._readable_secret(req, self._param_id(req))
            if access != "write":
                raise not_found()
            # Omitted or empty projectIds means "no project": a machine account may not.
            pid = self._writable_project(req.account, project_ids)
            ticks = world.clock.now()
            world.touch(secret.project_ids + [pid], ticks)
            if req.json().get("valueChanged") is True:  # as the server: the old value becomes a version
                secret.versions.append((secret.value, ticks, req.account.id))
            secret.key, secret.value, secret.note = key, value, note
            secret.project_ids = [pid]
            secret.revision = ticks
            return Response.json(200, world.secret_model(secret, "write"))

    def secrets_delete(self, req):
        ids = _id_array(req)
        world = self.world
        with world.lock:
            if any(sid not in world.secrets for sid in ids):  # as the server: nothing deleted then
                raise not_found()
            results, ticks = [], world.clock.now()
            for sid in ids:
                secret = world.secrets[sid]
                if world.secret_access(req.account, secret) == "write":
                    world.touch(secret.project_ids, ticks)
                    del world.secrets[sid]
                    results.append((sid, None))
                else:  # read-only or not shared
                    results.append((sid, "access denied"))
        return Response.json(200, _bulk_result(results))

    # -- projects ---------------------------------------------------------------------

    def projects_list(self, req):
        self._org(req)
        with self.world.lock:
            data = [self.world.project_model(p, req.account.grants[p.id])
                    for p in self.world.projects.values() if p.id in req.account.grants]
        return Response.json(200, {"object": "list", "data": data, "continuationToken": None})

    def project_get(self, req):
        pid = self._param_id(req)
        with self.world.lock:
            access = self.world.project_access(req.account, pid)
            if not access:
                raise not_found()
            return Response.json(200, self.world.project_model(self.world.projects[pid], access))

    def project_create(self, req):
        name = _project_name(req)
        self._org(req)
        world = self.world
        with world.lock:
            ticks = world.clock.now()
            project = Project(new_id(), name, ticks)
            world.projects[project.id] = project
            req.account.grants[project.id] = "write"  # the creator gets write access
            req.account.revision = max(req.account.revision, ticks)
            return Response.json(200, world.project_model(project, "write"))

    def project_update(self, req):
        name = _project_name(req)
        pid = self._param_id(req)
        world = self.world
        with world.lock:
            if world.project_access(req.account, pid) != "write":
                raise not_found()
            project = world.projects[pid]
            project.name = name
            project.revision = world.clock.now()  # the server bumps no machine account's revision: a
            return Response.json(200, world.project_model(project, "write"))  # rename is not a sync change

    def projects_delete(self, req):
        ids = _id_array(req)
        world = self.world
        with world.lock:
            if any(pid not in world.projects for pid in ids):  # as the server: nothing deleted then
                raise not_found()
            results, ticks = [], world.clock.now()
            for pid in ids:
                if world.project_access(req.account, pid) == "write":
                    self._drop_project(pid, ticks)
                    results.append((pid, None))
                else:  # read-only or not shared
                    results.append((pid, "access denied"))
        return Response.json(200, _bulk_result(results))

    def _drop_project(self, pid, ticks):
        """Delete a project: its secrets stay, unassigned; grants on it disappear."""
        world = self.world
        world.touch([pid], ticks)
        del world.projects[pid]
        for secret in world.secrets.values():
            if pid in secret.project_ids:
                secret.project_ids.remove(pid)
        for account in world.accounts.values():
            account.grants.pop(pid, None)


# --------------------------------------------------------------------------- admin


class Admin:
    """``/_admin/*``: counters, fault injection, revocation, JWT expiry, storage view."""

    def __init__(self, world, tokens, stats, faults):
        self.world = world
        self.tokens = tokens
        self.stats = stats
        self.faults = faults

    def _body(self, req):
        body = req.json()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        return body

    def get_stats(self, req):
        return Response.json(200, self.stats.snapshot())

    def reset(self, req):
        self.stats.reset()
        return Response.json(200, {"ok": True})

    def set_faults(self, req):
        try:
            self.faults.configure(self._body(req))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return Response.json(200, self.faults.config())

    def get_faults(self, req):
        return Response.json(200, self.faults.config())

    def _token(self, req):
        tid = norm_uuid(self._body(req).get("token_id"))
        token = self.world.tokens.get(tid or "")
        if token is None:
            raise not_found()
        return token

    def revoke(self, req):
        token = self._token(req)
        token.revoked = True
        killed = self.tokens.expire(token.id)
        return Response.json(200, {"token_id": token.id, "revoked": True, "jwts_expired": killed})

    def unrevoke(self, req):
        token = self._token(req)
        token.revoked = False
        return Response.json(200, {"token_id": token.id, "revoked": False})

    def set_clock(self, req):
        offset = self._body(req).get("offset_seconds", 0)
        if not isinstance(offset, (int, float)) or isinstance(offset, bool):
            raise bad_request("offset_seconds must be a number")
        _CLOCK_OFFSET_NS[0] = int(offset * 1e9)
        return Response.json(200, {"offset_seconds": offset})

    def expire_jwts(self, req):
        tid = self._body(req).get("token_id")
        return Response.json(200, {"jwts_expired": self.tokens.expire(norm_uuid(tid) if tid else None)})

    def list_secrets(self, req):
        """Ids, project ids and dates; ``?ciphertext=1`` adds the stored EncStrings."""
        with_cipher = (req.query.get("ciphertext") or ["0"])[0] not in ("0", "", "false")
        with self.world.lock:
            items = []
            for secret in self.world.secrets.values():
                item = {"id": secret.id, "projectIds": list(secret.project_ids),
                        "creationDate": format_ticks(secret.creation),
                        "revisionDate": format_ticks(secret.revision), "versions": len(secret.versions)}
                if with_cipher:
                    item.update(key=secret.key, value=secret.value, note=secret.note,
                                versionValues=[value for value, _ticks, _editor in secret.versions])
                items.append(item)
        return Response.json(200, {"count": len(items), "secrets": items})

    def list_projects(self, req):
        with self.world.lock:
            items = [{"id": p.id, "name": p.name,
                      "grants": {a.name: a.grants[p.id] for a in self.world.accounts.values()
                                 if p.id in a.grants}}
                     for p in self.world.projects.values()]
        return Response.json(200, {"count": len(items), "projects": items})


# --------------------------------------------------------------------------- routing


class Route:
    __slots__ = ("kind", "method", "template", "regex", "handler")

    def __init__(self, kind, method, template, handler):
        self.kind = kind
        self.method = method
        self.template = template
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self.regex = re.compile("^%s$" % pattern, re.IGNORECASE)
        self.handler = handler

    @property
    def name(self):
        return "%s %s" % (self.method, self.template)


def build_routes(api, admin):
    """The route table: literal routes before parameterised ones."""
    table = [
        ("identity", "POST", "/connect/token", api.login),
        ("api", "POST", "/secrets/get-by-ids", api.secrets_get_by_ids),
        ("api", "POST", "/secrets/delete", api.secrets_delete),
        ("api", "GET", "/secrets/{id}", api.secret_get),
        ("api", "PUT", "/secrets/{id}", api.secret_update),
        ("api", "GET", "/organizations/{org}/secrets/sync", api.secrets_sync),
        ("api", "GET", "/organizations/{org}/secrets", api.secrets_list),
        ("api", "POST", "/organizations/{org}/secrets", api.secret_create),
        ("api", "GET", "/organizations/{org}/projects", api.projects_list),
        ("api", "POST", "/organizations/{org}/projects", api.project_create),
        ("api", "POST", "/projects/delete", api.projects_delete),
        ("api", "GET", "/projects/{id}/secrets", api.project_secrets),
        ("api", "GET", "/projects/{id}", api.project_get),
        ("api", "PUT", "/projects/{id}", api.project_update),
        ("admin", "GET", "/_admin/stats", admin.get_stats),
        ("admin", "POST", "/_admin/reset", admin.reset),
        ("admin", "GET", "/_admin/faults", admin.get_faults),
        ("admin", "POST", "/_admin/faults", admin.set_faults),
        ("admin", "POST", "/_admin/revoke", admin.revoke),
        ("admin", "POST", "/_admin/unrevoke", admin.unrevoke),
        ("admin", "POST", "/_admin/expire-jwts", admin.expire_jwts),
        ("admin", "POST", "/_admin/clock", admin.set_clock),
        ("admin", "GET", "/_admin/secrets", admin.list_secrets),
        ("admin", "GET", "/_admin/projects", admin.list_projects),
    ]
    return [Route(*row) for row in table]


PREFIXES = {"/api": "api", "/identity": "identity"}


class App:
    """Routes a request, applies auth and fault injection, and produces a Response."""

    def __init__(self, world, tokens, stats, faults):
        self.world = world
        self.tokens = tokens
        self.stats = stats
        self.faults = faults
        self.routes = build_routes(Api(world, tokens, stats), Admin(world, tokens, stats, faults))

    def match(self, method, path):
        """-> (route or None, params, name for counters)."""
        kinds = None
        for prefix, kind in PREFIXES.items():
            if path.lower() == prefix or path.lower().startswith(prefix + "/"):
                path, kinds = path[len(prefix):] or "/", {kind}
                break
        if len(path) > 1:
            path = path.rstrip("/")
        for route in self.routes:
            if kinds is not None and route.kind not in kinds:
                continue
            found = route.regex.match(path)
            if found and route.method == method:
                return route, found.groupdict(), route.name
        return None, {}, "%s (unmatched)" % method

    def handle(self, method, raw_path, headers, body, client_ip):
        parts = urlsplit(raw_path)
        req = Request(method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                      headers, body)
        route, req.params, name = self.match(method, parts.path)
        if parts.path.startswith("/_admin/"):
            if not ipaddress.ip_address(client_ip).is_loopback:
                return Response.json(403, error_body("admin endpoints are loopback only"))
            if route is None:
                return Response.json(404, error_body(NOT_FOUND_MESSAGE))
            return self._call(route, req)
        self.stats.count(name)
        decision = self.faults.decide(name)
        if decision.sleep:
            time.sleep(decision.sleep)
        result = None if decision.after else self._faulted(decision)
        if result is None:
            result = self._serve(route, req)
            if decision.after:  # the server acted; the answer is lost on the way back
                result = self._faulted(decision)
        if result is not RESET:
            self.stats.answered(result.status)
            result.trickle = decision.trickle
        return result

    @staticmethod
    def _faulted(decision):
        """The Response/RESET that fault injection puts in place of the real answer, or None."""
        if decision.reset:
            return RESET
        if decision.retry_after is not None:
            seconds = decision.retry_after
            text = "%g" % seconds
            return Response.json(
                429, error_body("Slow down! Too many requests. Try again in %ss." % text),
                headers={"Retry-After": text})
        if decision.fail_status:
            status = decision.fail_status
            style = decision.fail_body or ("html" if status in HTML_PAGES else "json")
            if style == "html":
                return Response.html(status, HTML_PAGES.get(status, "<html>error</html>"))
            return Response.json(status, error_body(SERVER_ERROR_MESSAGE))
        if decision.non_json:
            return Response.html(200, HTML_PAGES[200])
        return None

    def _serve(self, route, req):
        if route is None:  # no route: ASP.NET's bare 404, not the API's error body
            return Response(404)
        if route.kind == "api":
            req.account = self.tokens.authenticate(req.headers.get("Authorization"))
            if req.account is None:
                return Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return self._call(route, req)

    @staticmethod
    def _call(route, req):
        try:
            return route.handler(req)
        except HttpError as exc:
            return Response.json(exc.status, exc.body, exc.headers)
        except Exception:  # pragma: no cover - a bug in the emulator
            LOG.exception("unhandled error in %s", route.name)
            return Response.json(500, error_body(SERVER_ERROR_MESSAGE))


# --------------------------------------------------------------------------- HTTP server


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every answer carries Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each request after the first on a connection waits ~40 ms for a delayed ACK
    server_version = "bws-emulator"
    sys_version = ""
    timeout = 120

    def date_time_string(self, timestamp=None):
        """The Date header, on the server's clock."""
        return email.utils.formatdate(server_time() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self):
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise ValueError("body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _handle(self, method):
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(Response.json(413, error_body("Request body too large or malformed.")))
            return
        result = self.server.app.handle(method, self.path, self.headers, body,
                                        self.client_address[0])
        if result is RESET:
            self._reset()
            return
        self._send(result)

    def _send(self, response):
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        if not response.trickle:
            self.end_headers()
            self.wfile.write(response.body)
            return
        self._headers_buffer.append(b"\r\n")  # the whole answer, headers too, a few bytes at a time
        data, self._headers_buffer = b"".join(self._headers_buffer) + response.body, []
        pieces = [data[i:i + 16] for i in range(0, len(data), 16)]
        for piece in pieces:
            self.wfile.write(piece)
            self.wfile.flush()
            time.sleep(response.trickle / len(pieces))

    def _reset(self):
        """Close without an answer (RST where the OS allows it)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    def log_message(self, fmt, *args):  # only method, path and status: never headers/bodies
        LOG.info("%s %s", self.client_address[0], fmt % args)


class EmulatorServer(ThreadingHTTPServer):
    """Threaded server; with TLS the handshake runs in the connection's thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, ssl_context=None, family=socket.AF_INET):
        self.address_family = family
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def server_bind(self):
        """Bind without HTTPServer's reverse DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            LOG.info("TLS handshake with %s failed: %s", client_address[0], exc)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        LOG.debug("connection error from %s", client_address[0], exc_info=True)


# --------------------------------------------------------------------------- TLS material


def _write_private(path, data):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _load_ca(directory):
    """Reuse ca.pem/ca-key.pem from a state dir when present and still valid."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        return None
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(
        tzinfo=datetime.timezone.utc)
    if not_after < datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1):
        return None
    return cert, key


def _new_ca(directory, now):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bws emulator test CA %s"
                                         % uuid.uuid4().hex[:8])])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / "ca-key.pem", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert, key


def make_tls_material(directory, extra_ips=()):
    """CA (reused from ``directory`` if present) + server cert for 127.0.0.1/localhost/::1.

    Returns (ca_file, cert_file, key_file) paths inside ``directory``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = pathlib.Path(directory)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_cert, ca_key = _load_ca(directory) or _new_ca(directory, now)
    key = ec.generate_private_key(ec.SECP256R1())
    ips = {"127.0.0.1", "::1"} | set(extra_ips)
    san = [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(ip))
                                         for ip in sorted(ips)]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = directory / "server.pem", directory / "server-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_file, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(directory / "ca.pem"), str(cert_file), str(key_file)


def server_ssl_context(cert_file, key_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


# --------------------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Local Bitwarden Secrets Manager emulator.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a generated CA")
    parser.add_argument("--seed", help="JSON seed file (organization, projects, accounts, secrets)")
    parser.add_argument("--state-dir", help="directory for TLS material (kept; CA reused)")
    parser.add_argument("--jwt-lifetime", type=int, default=DEFAULT_JWT_LIFETIME,
                        help="bearer token lifetime in seconds (default 3600)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay every answer")
    parser.add_argument("--clock-offset", type=float, default=0,
                        help="seconds the server's clock runs ahead of this machine's (negative: behind)")
    parser.add_argument("--rate-limit-every", type=int, default=0,
                        help="answer every Nth request with 429")
    parser.add_argument("--rate-limit-rps", type=float, default=0,
                        help="token bucket: at most R requests per second, others get 429")
    parser.add_argument("--retry-after", type=float, default=1, help="Retry-After seconds for 429s")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the parent process goes away")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log requests to stderr (-vv: debug)")
    return parser.parse_args(argv)


def loopback_host(host):
    """Map --host to a loopback IP literal; raise ValueError for anything else."""
    if host.lower() == "localhost":
        return "127.0.0.1"
    address = ipaddress.ip_address(host)
    if not address.is_loopback:
        raise ValueError("refusing to listen on non-loopback address %s" % host)
    return str(address)


def initial_faults(args):
    cfg = {}
    if args.latency_ms:
        cfg["latency_ms"] = args.latency_ms
    rate = {}
    if args.rate_limit_every:
        rate["every"] = args.rate_limit_every
    if args.rate_limit_rps:
        rate["rps"] = args.rate_limit_rps
    if rate:
        rate["retry_after"] = args.retry_after
        cfg["rate_limit"] = rate
    return cfg


def startup_info(world, server_url, ca_file):
    default = world.account_by_name(BUILTIN_ACCOUNT)
    info = {
        "server_url": server_url,
        "api_url": server_url + "/api",
        "identity_url": server_url + "/identity",
        "access_token": world.tokens_of(default)[0].text,
        "organization_id": world.org_id,
        "project_id": world.default_project_id,
    }
    if ca_file:
        info["ca_file"] = ca_file
    info["tokens"] = {a.name: world.tokens_of(a)[0].text
                      for a in world.accounts.values() if world.tokens_of(a)}
    info["pid"] = os.getpid()
    return info


def _watch_parent(stop):
    parent = os.getppid()

    def run():
        while not stop.wait(0.5):
            if os.getppid() != parent:
                LOG.warning("parent process went away; stopping")
                stop.set()

    threading.Thread(target=run, name="parent-watch", daemon=True).start()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s bws-emulator %(levelname)s %(message)s",
                        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)])
    try:
        host = loopback_host(args.host)
        world = build_world(load_seed(args.seed), Clock())
    except ValueError as exc:
        LOG.error("%s", exc)
        return 2

    temp_dir = None
    ssl_context, ca_file = None, None
    if args.tls:
        if args.state_dir:
            state_dir = pathlib.Path(args.state_dir)
            state_dir.mkdir(parents=True, exist_ok=True)
        else:
            temp_dir = state_dir = pathlib.Path(tempfile.mkdtemp(prefix="bws-emulator-"))
        extra = [host] if ipaddress.ip_address(host).version == 4 else []
        ca_file, cert_file, key_file = make_tls_material(state_dir, extra)
        ssl_context = server_ssl_context(cert_file, key_file)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    stats, faults = Stats(), Faults()
    _CLOCK_OFFSET_NS[0] = int(args.clock_offset * 1e9)
    try:
        faults.configure(initial_faults(args))
        server = EmulatorServer((host, args.port), None, ssl_context, family)
    except (OSError, ValueError) as exc:
        LOG.error("cannot start: %s", exc)
        if temp_dir:
            shutil.rmtree(str(temp_dir), ignore_errors=True)
        return 2
    port = server.server_address[1]
    url_host = "[%s]" % host if family == socket.AF_INET6 else host
    server_url = "%s://%s:%d" % ("https" if args.tls else "http", url_host, port)
    tokens = TokenService(world, server_url, args.jwt_lifetime)
    server.app = App(world, tokens, stats, faults)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_unused: stop.set())
    if args.exit_with_parent:
        _watch_parent(stop)
    thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    thread.start()

    sys.stdout.write(json.dumps(startup_info(world, server_url, ca_file)) + "\n")
    sys.stdout.flush()
    LOG.info("listening on %s", server_url)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
        if temp_dir:
            shutil.rmtree(str(temp_dir), ignore_errors=True)
        LOG.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
