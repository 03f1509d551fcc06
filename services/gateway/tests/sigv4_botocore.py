#!/usr/bin/env python3
"""Signs requests with botocore's SigV4 signer (what the AWS CLI and boto3 use) and sends
them, byte for byte as signed, to a gateway that requires SigV4.

Usage: sigv4_botocore.py ENDPOINT  (http://127.0.0.1:PORT; key AKIDSIGV4TEST / sigv4-secret)
Requests carry query strings, repeated, mixed-case and space-padded headers and the port in
the signed host; tampered ones (body, secret, date, a signed header, the query) must be
refused with AWS's error types. Prints `OK` last when every check passed.
"""

import datetime
import http.client
import json
import sys
import urllib.parse
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ENDPOINT = sys.argv[1]
KEY, SECRET = "AKIDSIGV4TEST", "sigv4-secret"
TARGET = "AWSStepFunctions.ListStateMachines"


def signed(path="/", body=b"{}", headers=(), key=KEY, secret=SECRET, at=None):
    """An AWSRequest signed as botocore signs for Step Functions (region `local`)."""
    request = AWSRequest(method="POST", url=ENDPOINT + path, data=body)
    request.headers["Content-Type"] = "application/x-amz-json-1.0"
    request.headers["X-Amz-Target"] = TARGET
    for name, value in headers:
        # HTTPHeaders appends: a name given twice is sent (and signed) twice.
        request.headers[name] = value
    signer = botocore.auth.SigV4Auth(Credentials(key, secret), "states", "local")
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
            signer.add_auth(request)
    return request


def send(request, path=None, body=None, replace=(), extra=()):
    """Sends `request` as signed, optionally with another path, body or header values."""
    url = urllib.parse.urlsplit(ENDPOINT)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    target = path or (urllib.parse.urlsplit(request.url).path or "/")
    if path is None and urllib.parse.urlsplit(request.url).query:
        target += "?" + urllib.parse.urlsplit(request.url).query
    data = request.body if body is None else body
    if isinstance(data, str):
        data = data.encode()
    connection.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
    replace = dict(replace)
    names = set()
    for name, value in request.headers.items():
        names.add(name.lower())
        connection.putheader(name, replace.get(name.lower(), value))
    if "host" not in names:
        # botocore signs the URL's host:port without setting the header; send the same.
        connection.putheader("Host", url.netloc)
    for name, value in extra:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(data)))
    connection.endheaders(data)
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, answer


def accepted(label, request, **changes):
    status, answer = send(request, **changes)
    assert status == 200 and "stateMachines" in answer, f"{label}: {status} {answer}"


def refused(label, error, request, **changes):
    status, answer = send(request, **changes)
    assert status in (400, 403) and answer.get("__type") == error, (
        f"{label}: expected {error}, got {status} {answer}")
    return answer.get("message", "")


# Accepted: what the CLI and SDKs send, and the awkward corners of canonicalisation.
accepted("plain", signed())
accepted("query string", signed(path="/?b=2&a=x%20y&a=1&empty=&tilde=~&plus=a%2Bb&slash=%2F"))
accepted("path", signed(path="/some/deeper/path"))
accepted("repeated header", signed(headers=[("X-Multi", "one"), ("X-Multi", "two  three")]))
accepted("mixed case and whitespace", signed(headers=[("X-MiXeD-CaSe", "  padded   value  ")]))
accepted("header value with commas", signed(headers=[("X-List", "a, b,c")]))
accepted("an unsigned header added after signing", signed(), extra=[("X-Added-Later", "fine")])
accepted("User-Agent is not signed", signed(), extra=[("User-Agent", "changed/1.0")])
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
accepted("ten minutes of skew", signed(at=now - datetime.timedelta(minutes=10)))

# Refused, with AWS's error types.
refused("tampered body", "InvalidSignatureException", signed(), body=b'{"maxResults": 5}')
refused("wrong secret", "InvalidSignatureException", signed(secret="not-the-secret"))
message = refused("stale date", "InvalidSignatureException",
                  signed(at=now - datetime.timedelta(minutes=20)))
assert message.startswith("Signature expired:") and "- 15 min.)" in message, message
refused("future date", "InvalidSignatureException",
        signed(at=now + datetime.timedelta(minutes=20)))
refused("signed header changed", "InvalidSignatureException",
        signed(headers=[("X-Custom", "a")]), replace=[("x-custom", "b")])
refused("target changed", "InvalidSignatureException",
        signed(), replace=[("x-amz-target", "AWSStepFunctions.ListStateMachinez")])
refused("query changed", "InvalidSignatureException", signed(path="/?a=1"), path="/?a=2")
refused("unknown key", "UnrecognizedClientException", signed(key="AKIDUNKNOWN"))
unsigned = signed()
del unsigned.headers["Authorization"]
refused("no signature", "MissingAuthenticationTokenException", unsigned)
refused("no Signature part", "IncompleteSignatureException", signed(), replace=[(
    "authorization",
    f"AWS4-HMAC-SHA256 Credential={KEY}/20260101/local/states/aws4_request, "
    "SignedHeaders=host;x-amz-date")])
print("OK")
