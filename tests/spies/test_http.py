"""The common HTTP layer: retries, validators, authentication, failure shapes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx2
import pytest

from spyagency.spies.auth import BearerToken, ClientCertificate, OidcClientCredentials, TokenCache
from spyagency.spies.documents import loads_lenient
from spyagency.spies.failures import SourceFailure
from spyagency.spies.http import HttpFetcher, HttpSettings
from spyagency.spies.retry import RetryPolicy

BASE = "http://svc.test/api/"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fetcher(handler, *, attempts: int = 3, sleeps: Sleeps | None = None, **kwargs) -> HttpFetcher:  # type: ignore[no-untyped-def]
    policy = RetryPolicy(
        attempts=attempts,
        base_delay=0.2,
        max_delay=1.0,
        sleep=sleeps or Sleeps(),
        jitter=lambda: 1.0,
    )
    return HttpFetcher(
        BASE, settings=HttpSettings(retry=policy), transport=httpx2.MockTransport(handler), **kwargs
    )


async def test_transient_failures_are_retried_with_backoff() -> None:
    answers = iter([503, 500, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        status = next(answers)
        return httpx2.Response(status, json={"result": ["world"]} if status == 200 else None)

    sleeps = Sleeps()
    http = fetcher(handler, sleeps=sleeps)
    document = await http.get_json("hello")
    await http.aclose()
    assert document is not None and document.body == {"result": ["world"]}
    assert http.request_count == 3
    assert sleeps.delays == [0.2, 0.4]  # exponential; jitter pinned to its top


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=1.0, jitter=lambda: 0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert policy.delay(1, retry_after=30) == 1.0
    assert policy.delay(1, retry_after=0.3) == 0.3


async def test_retry_after_is_honoured_and_attempts_are_bounded() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, headers={"Retry-After": "0.7"}, text="slow down")

    sleeps = Sleeps()
    http = fetcher(handler, sleeps=sleeps)
    with pytest.raises(SourceFailure) as caught:
        await http.get_json("hello")
    await http.aclose()
    assert sleeps.delays == [0.7, 0.7]
    assert http.request_count == 3
    assert caught.value.message == "HTTP 429" and not caught.value.permanent
    assert caught.value.raw == "slow down" and caught.value.url == BASE + "hello"


@pytest.mark.parametrize(
    ("status", "permanent", "requests"),
    [(400, True, 1), (404, True, 1), (408, False, 3), (302, True, 1)],
)
async def test_status_classes(status: int, permanent: bool, requests: int) -> None:
    http = fetcher(lambda request: httpx2.Response(status, text="x" * 10_000))
    with pytest.raises(SourceFailure) as caught:
        await http.get_json("hello")
    await http.aclose()
    assert caught.value.permanent is permanent
    assert http.request_count == requests
    assert len(caught.value.raw) < 4200  # raw evidence is truncated


async def test_absent_on_404_is_not_a_failure() -> None:
    http = fetcher(lambda request: httpx2.Response(404, text="no such file"))
    assert await http.get_json("getFileLog", {"fileHash": "ab"}, absent_on_404=True) is None
    await http.aclose()


async def test_timeouts_and_resets_become_failures() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("slow"):
            raise httpx2.ConnectTimeout("connect timed out", request=request)
        raise httpx2.RemoteProtocolError("peer closed connection", request=request)

    http = fetcher(handler, attempts=2)
    for path, words in (("slow", "timeout"), ("reset", "connection failed")):
        with pytest.raises(SourceFailure) as caught:
            await http.get_json(path)
        assert caught.value.message.startswith(words) and not caught.value.permanent
    await http.aclose()
    assert http.request_count == 4


async def test_bad_bodies() -> None:
    bodies = {
        "truncated": b'{"result": [1, 2',
        "latin1": '{"result": ["Zürich"]}'.encode("latin-1"),
        "big": b"[" + b"1," * 600 + b"1]",
    }
    http = HttpFetcher(
        BASE,
        settings=HttpSettings(max_body_bytes=1000),
        transport=httpx2.MockTransport(
            lambda r: httpx2.Response(200, content=bodies[r.url.path.rsplit("/", 1)[1]])
        ),
    )
    messages = {}
    for name in bodies:
        with pytest.raises(SourceFailure) as caught:
            await http.get_json(name)
        messages[name] = caught.value.message
    await http.aclose()
    assert messages["truncated"].startswith("invalid JSON")
    assert messages["latin1"] == "answer is not UTF-8 text"
    assert messages["big"] == "answer too large"
    assert http.request_count == 3  # none of these is retried


async def test_validators_are_sent_and_304_reuses_the_body() -> None:
    seen: list[tuple[str | None, str | None]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(
            (request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"))
        )
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx2.Response(304)
        return httpx2.Response(
            200,
            json={"result": [380000]},
            headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jun 2026 12:00:00 GMT"},
        )

    http = fetcher(handler)
    first = await http.get_json("firstconditionsaferun")
    second = await http.get_json("firstconditionsaferun")
    other = await http.get_json("firstconditionsaferun", {"x": 1})
    await http.aclose()
    assert first is not None and second is not None and other is not None
    assert second.not_modified and second.body == first.body and second.text == first.text
    assert seen == [(None, None), ('"v1"', "Mon, 01 Jun 2026 12:00:00 GMT"), (None, None)]


async def test_bearer_token_is_sent() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"auth": request.headers.get("Authorization")})

    http = fetcher(handler, auth=BearerToken("s3cret"))
    document = await http.get_json("hello")
    await http.aclose()
    assert document is not None and document.body == {"auth": "Bearer s3cret"}
    assert "s3cret" not in repr(BearerToken("s3cret"))


async def test_oidc_token_is_cached_until_expiry_and_renewed_on_401() -> None:
    issued: list[str] = []
    revoked: set[str] = set()
    now = [1000.0]

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "sso.test":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form["grant_type"] == "client_credentials" and form["client_id"] == "spy"
            assert form["audience"] == "cmsoms-prod"
            issued.append(f"token{len(issued)}")
            return httpx2.Response(200, json={"access_token": issued[-1], "expires_in": 600})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token in revoked:
            return httpx2.Response(401, text="expired")
        return httpx2.Response(200, json={"token": token})

    auth = OidcClientCredentials("https://sso.test/token", "spy", "pw", audience="cmsoms-prod")
    http = fetcher(handler, auth=auth, token_cache=TokenCache(lambda: now[0]))
    bodies = []
    for _ in range(3):
        document = await http.get_json("runs")
        assert document is not None
        bodies.append(document.body["token"])
    now[0] += 600  # past expiry minus margin
    document = await http.get_json("runs")
    assert document is not None
    bodies.append(document.body["token"])
    revoked.add("token1")
    document = await http.get_json("runs")
    assert document is not None
    bodies.append(document.body["token"])
    await http.aclose()
    assert bodies == ["token0", "token0", "token0", "token1", "token2"]
    # 5 data requests + one refused + 3 token requests.
    assert http.request_count == 9


async def test_oidc_refused_client_is_a_permanent_failure() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "sso.test":
            return httpx2.Response(401, json={"error": "invalid_client"})
        return httpx2.Response(200, json={})

    http = fetcher(handler, auth=OidcClientCredentials("https://sso.test/token", "spy", "bad"))
    with pytest.raises(SourceFailure) as caught:
        await http.get_json("runs")
    await http.aclose()
    assert caught.value.permanent and "invalid_client" in caught.value.raw
    assert http.request_count == 1


async def test_client_certificate(tmp_path: Path) -> None:
    missing = HttpFetcher(
        BASE, auth=ClientCertificate(tmp_path / "usercert.pem", tmp_path / "userkey.pem")
    )
    with pytest.raises(SourceFailure) as caught:
        await missing.get_json("hello")
    await missing.aclose()
    assert caught.value.permanent and caught.value.message.startswith("cannot build request")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=spy",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ClientCertificate(cert, key).ssl_context()
    assert context.verify_mode.name == "CERT_REQUIRED"


def test_lenient_reader_accepts_python_style_documents() -> None:
    assert loads_lenient("{'a': [1, 'x'], 'b': true, 'c': null, 'd': True}") == {
        "a": [1, "x"],
        "b": True,
        "c": None,
        "d": True,
    }
    assert loads_lenient("{'s': 'true and null stay text'}") == {"s": "true and null stay text"}
