"""Fake credentials for the collectors (the SDKs' standard environment variables only), the
fake Alibaba Cloud behind ``responses`` and moto for AWS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import responses

from tests.audit.collect.fake_cloud import FakeAliyunRead

SECRETS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tAUDITFAKE00000",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "ali-audit-secret-DO-NOT-LEAK-3c1d",
    "AWS_ACCESS_KEY_ID": "AKIAAUDITFAKE0000000",
    "AWS_SECRET_ACCESS_KEY": "aws-audit-secret-DO-NOT-LEAK-8e2f",
}


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                     ) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    empty = tmp_path_factory.mktemp("no-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_CONFIG_FILE", str(empty / "aliyun.json"))
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", str(empty / "aliyun.ini"))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_REGION_ID", raising=False)
    # alibabacloud_credentials snapshots its environment variables at import time.
    from alibabacloud_credentials.utils import auth_util

    monkeypatch.setattr(auth_util, "environment_access_key_id",
                        SECRETS["ALIBABA_CLOUD_ACCESS_KEY_ID"])
    monkeypatch.setattr(auth_util, "environment_access_key_secret",
                        SECRETS["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
    monkeypatch.setattr(auth_util, "environment_security_token", None)
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")


@pytest.fixture
def aliyun() -> Iterator[FakeAliyunRead]:
    fake = FakeAliyunRead.sample()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def must(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A body the export must hold."""
    assert body is not None
    return body
