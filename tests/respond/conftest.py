"""Fixtures for the response-action tests: fake credentials, a fake Alibaba Cloud behind
``responses``, moto for AWS, and retry policies that record their sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.respond.fake_aliyun import FakeAliyun
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.retry import RetryPolicy

SECRETS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tFAKEKEYID0000",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "ali-secret-DO-NOT-LEAK-7f3a9c",
    "AWS_ACCESS_KEY_ID": "AKIAFAKEKEYID0000000",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-DO-NOT-LEAK-91b2e4",
    "AWS_SESSION_TOKEN": "aws-session-token-DO-NOT-LEAK-55d1",
}
"""Fake credentials; the secret parts must never show up in results or logs."""

SECRET_VALUES = (SECRETS["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], SECRETS["AWS_SECRET_ACCESS_KEY"],
                 SECRETS["AWS_SESSION_TOKEN"])


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                     ) -> None:
    """Credentials through the SDKs' standard environment variables, no config files."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    empty = tmp_path_factory.mktemp("no-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ALIBABA_CLOUD_CONFIG_FILE", str(empty / "aliyun.json"))
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", str(empty / "aliyun.ini"))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    # alibabacloud_credentials reads its environment variables once, at import time
    # (utils/auth_util.py); mirror the test environment into that snapshot.
    from alibabacloud_credentials.utils import auth_util

    monkeypatch.setattr(auth_util, "environment_access_key_id",
                        SECRETS["ALIBABA_CLOUD_ACCESS_KEY_ID"])
    monkeypatch.setattr(auth_util, "environment_access_key_secret",
                        SECRETS["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
    monkeypatch.setattr(auth_util, "environment_security_token", None)
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")


class Sleeps:
    """An injectable sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retry(sleeps: Sleeps) -> RetryPolicy:
    """Backoff 0.5 s doubling, no jitter randomness (factor 0.5), sleeps recorded."""
    return RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=4.0, sleep=sleeps,
                       jitter=lambda: 0.0)


@pytest.fixture
def fake() -> Iterator[FakeAliyun]:
    fake = FakeAliyun()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


@pytest.fixture
def aliyun(fake: FakeAliyun, retry: RetryPolicy) -> AliyunClient:
    return AliyunClient(fake.region, retry=retry)


@pytest.fixture
def aws(retry: RetryPolicy) -> Iterator[AwsClient]:
    from moto import mock_aws

    with mock_aws():
        yield AwsClient("us-east-1", retry=retry)
