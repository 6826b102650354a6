"""The signature helpers: a known vector computed here with hmac directly, and what
verification refuses (a tampered body, an old or future timestamp, the wrong secret)."""

from __future__ import annotations

import hashlib
import hmac

from crm.integrations.signing import (
    parse_signature_header,
    webhook_signature,
    webhook_signature_header,
    webhook_verify,
)

SECRET = "whsec_test-secret"
BODY = '{"id":"1","type":"customer.updated","data":{"name":"杭州云栖"}}'.encode()
T = 1767225600


def test_known_vector_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert webhook_signature(SECRET, T, BODY) == expected
    assert webhook_signature(SECRET, str(T), BODY.decode()) == expected  # str and bytes alike
    assert webhook_signature_header([SECRET], T, BODY) == f"t={T},v1={expected}"


def test_verify_accepts_a_fresh_signature_and_refuses_tampering():
    header = webhook_signature_header([SECRET], T, BODY)
    assert webhook_verify(secret=SECRET, header=header, body=BODY, now=T + 10)
    assert not webhook_verify(secret=SECRET, header=header, body=BODY.replace(b"1", b"2"), now=T)
    assert not webhook_verify(secret="whsec_other", header=header, body=BODY, now=T)
    assert not webhook_verify(secret=SECRET, header=header, body=BODY, now=T + 301)  # too old: a replay
    assert not webhook_verify(secret=SECRET, header=header, body=BODY, now=T - 301)  # from the future
    assert webhook_verify(secret=SECRET, header=header, body=BODY, now=T + 3000, tolerance=3600)
    assert not webhook_verify(secret=SECRET, header="", body=BODY, now=T)
    assert not webhook_verify(secret=SECRET, header=f"t={T}", body=BODY, now=T)
    assert not webhook_verify(secret=SECRET, header=f"t=abc,v1={webhook_signature(SECRET, T, BODY)}", body=BODY,
                              now=T)
    tampered_time = header.replace(f"t={T}", f"t={T + 5}")
    assert not webhook_verify(secret=SECRET, header=tampered_time, body=BODY, now=T + 5)


def test_during_a_rotation_either_secret_verifies():
    header = webhook_signature_header(["whsec_new", "whsec_old"], T, BODY)
    timestamp, signatures = parse_signature_header(header)
    assert timestamp == T and len(signatures) == 2
    assert webhook_verify(secret="whsec_new", header=header, body=BODY, now=T)
    assert webhook_verify(secret="whsec_old", header=header, body=BODY, now=T)
    assert webhook_verify(secret=["whsec_x", "whsec_old"], header=header, body=BODY, now=T)
    assert not webhook_verify(secret="whsec_x", header=header, body=BODY, now=T)
