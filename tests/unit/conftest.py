"""Fixtures the handler tests share: one moto S3 per module and a fresh bucket per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[Any]:
    """One moto S3 for the module: starting mock_aws per test costs ~0.2 s each."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def s3(moto_s3: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, empty bucket named by the test module's ``BUCKET`` for each test."""
    bucket: str = request.module.BUCKET
    moto_s3.create_bucket(Bucket=bucket)
    yield moto_s3
    for version in moto_s3.list_object_versions(Bucket=bucket).get("Versions", []):
        moto_s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    for upload in moto_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        moto_s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    moto_s3.delete_bucket(Bucket=bucket)
