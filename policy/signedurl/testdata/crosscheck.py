#!/usr/bin/env python3
"""Test driver: runs signer.py on a JSON list of cases read from stdin.

Each case is {"op": "sign", "method", "url", "key_id", "expires"} or
{"op": "canonical", "method", "scheme", "host", "path", "query"}. The output is
a JSON list with, per case, {"result": ...} or {"error": ...}; a canonical case
also gets the base64url HMAC-SHA256 signature. The secret is AWRA_URL_SECRET.
"""

import base64
import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import signer  # noqa: E402

secret = os.environ["AWRA_URL_SECRET"].encode()
out = []
for case in json.load(sys.stdin):
    try:
        if case["op"] == "sign":
            out.append({"result": signer.sign_url(case["method"], case["url"], case["key_id"], case["expires"], secret)})
        else:
            text = signer.canonical_string(case["method"], case["scheme"], case["host"],
                                           case["path"].encode(), case["query"].encode())
            mac = hmac.new(secret, text, hashlib.sha256).digest()
            out.append({"result": text.decode(),
                        "signature": base64.urlsafe_b64encode(mac).rstrip(b"=").decode()})
    except ValueError as err:
        out.append({"error": str(err)})
json.dump(out, sys.stdout)
