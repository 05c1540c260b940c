#!/usr/bin/env python3
"""Mint an awragate signed URL with the Python standard library only.

Usage: AWRA_URL_SECRET=<secret> python3 signer.py METHOD URL KEY_ID EXPIRES

EXPIRES is the expiry in Unix seconds (10 digits). The secret is used as raw
bytes and must be at least 32 bytes long. The signed URL is printed on stdout.
"""

import base64
import hashlib
import hmac
import os
import re
import sys

UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
SUB_DELIMS = frozenset(b"!$&'()*+,;=")
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
TOKEN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")
CONTROL = {b"X-Awra-Key-Id", b"X-Awra-Expires", b"X-Awra-Signature"}


def decode(raw: bytes) -> bytes:
    """Percent-decode raw; '+' stays a plus. Raise ValueError on a bad escape."""
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == ord("%"):
            if i + 2 >= len(raw) or not set(raw[i + 1 : i + 3]) <= HEX_DIGITS:
                raise ValueError("malformed percent-escape")
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def encode(data: bytes) -> bytes:
    """Keep unreserved bytes, write every other byte as %XX in upper-case hex."""
    return b"".join(bytes([c]) if c in UNRESERVED else b"%%%02X" % c for c in data)


def canonical_path(path: bytes) -> bytes:
    if not path:
        return b"/"
    out, i = bytearray(), 0
    while i < len(path):
        if path[i] == ord("%"):
            out += encode(decode(path[i : i + 3]))
            i += 3
        else:
            out.append(path[i])
            i += 1
    return bytes(out)


def canonical_string(method: str, scheme: str, host: str, path: bytes, query: bytes) -> bytes:
    host_b = host.encode().lower()
    default_port = {"https": b":443", "http": b":80"}.get(scheme.lower())
    if default_port and host_b.endswith(default_port):
        host_b = host_b[: -len(default_port)]

    params = []
    for piece in query.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        name, value = encode(decode(name)), encode(decode(value))
        if name != b"X-Awra-Signature":
            params.append((name, value))
    params.sort()

    lines = [b"AWRA-HMAC-SHA256", method.upper().encode(), host_b, canonical_path(path),
             b"&".join(n + b"=" + v for n, v in params)]
    return b"\n".join(lines)


def check(method: str, scheme: str, host: str, path: bytes, query: bytes) -> None:
    """Raise ValueError for anything awragate's own signer rejects."""
    if not method or not set(method.encode()) <= TOKEN:
        raise ValueError("method is not an HTTP token")
    if scheme.lower() not in ("http", "https"):
        raise ValueError("scheme must be http or https")
    if not host or not set(host.encode()) <= UNRESERVED | SUB_DELIMS | set(b":[]%"):
        raise ValueError("host is empty or has a character outside RFC 3986")
    if path and not path.startswith(b"/"):
        raise ValueError("path must start with '/'")
    if not set(path) <= UNRESERVED | SUB_DELIMS | set(b":@/%"):
        raise ValueError("path has a character that must be percent-encoded")
    if not set(query) <= UNRESERVED | SUB_DELIMS | set(b":@/%?"):
        raise ValueError("query has a character that must be percent-encoded")
    if b";" in query:
        raise ValueError("query has a ';'")
    decode(path)
    decode(query)
    for piece in query.split(b"&"):
        if decode(piece.partition(b"=")[0]) in CONTROL:
            raise ValueError("query already has an X-Awra-* parameter")


def sign_url(method: str, url: str, key_id: str, expires: int, secret: bytes) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise ValueError("URL must be absolute")
    rest, has_fragment, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    host, slash, path = rest.partition("/")
    path = slash + path
    if "@" in host:
        raise ValueError("URL must not have userinfo")
    check(method, scheme, host, path.encode(), query.encode())
    if not re.fullmatch(r"[a-z0-9-]{1,64}", key_id):
        raise ValueError("key id must be 1 to 64 of a-z, 0-9 and '-'")
    if not 1_000_000_000 <= expires <= 9_999_999_999:
        raise ValueError("expiry must be 10 digits")

    query = (query + "&" if query else "") + f"X-Awra-Key-Id={key_id}&X-Awra-Expires={expires}"
    signed = canonical_string(method, scheme, host, path.encode(), query.encode())
    mac = hmac.new(secret, signed, hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return f"{scheme}://{host}{path}?{query}&X-Awra-Signature={signature}" + (
        "#" + fragment if has_fragment else "")


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    secret = os.environ.get("AWRA_URL_SECRET", "").encode()
    if len(secret) < 32:
        print("AWRA_URL_SECRET must hold a secret of at least 32 bytes", file=sys.stderr)
        return 2
    method, url, key_id, expires = sys.argv[1:]
    if not re.fullmatch(r"[0-9]{10}", expires):
        print("EXPIRES must be 10 digits of Unix seconds", file=sys.stderr)
        return 2
    try:
        print(sign_url(method, url, key_id, int(expires), secret))
    except ValueError as err:
        print(f"cannot sign: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
