"""The HMAC both sides of the readiness webhook compute."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.signalers.signing import as_secret, canonical_json, sign, verify

SECRET = b"shared-secret"


def test_signature_is_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"run":1}'
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == f"sha256={expected}"


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"verdict": "ready", "run": 1, "a": [1, 2]}) == (
        b'{"a":[1,2],"run":1,"verdict":"ready"}'
    )


def test_canonical_json_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=abc",
        "sha256=",
        "sha256=00",
        "sha256=ünicode",
        sign(b"other-secret", b"body"),
    ],
)
def test_invalid_signatures_are_refused(header: str | None) -> None:
    assert not verify(SECRET, b"body", header)


def test_hex_case_and_surrounding_space_do_not_matter() -> None:
    header = sign(SECRET, b"body")
    assert verify(SECRET, b"body", "  SHA256=" + header.removeprefix("sha256=").upper() + " ")


def test_an_empty_secret_never_verifies() -> None:
    assert not verify(b"", b"body", sign(b"", b"body"))


def test_text_secrets_are_utf8() -> None:
    assert as_secret("clé") == "clé".encode()
    assert as_secret(b"raw") == b"raw"


@given(secret=st.binary(min_size=1), body=st.binary(), other=st.binary())
def test_a_signature_verifies_its_body_and_no_other(
    secret: bytes, body: bytes, other: bytes
) -> None:
    header = sign(secret, body)
    assert verify(secret, body, header)
    assert verify(secret, other, header) == (other == body)
