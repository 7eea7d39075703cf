"""Unit tests of tools/upload_movielens.py with generated zips and moto (no network)."""

from __future__ import annotations

import io
import sys
import urllib.error
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS_DIR) not in sys.path:
    sys.path.insert(0, str(TOOLS_DIR))

import upload_movielens  # noqa: E402
from upload_movielens import main  # noqa: E402

REGION = "us-east-1"
BUCKET = "pipeline-data-bucket"
U_DATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
U_ITEM = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0\n2|Caf\xe9 (1995)|\n".encode("latin-1")
RATINGS_CSV = b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
MOVIES_CSV = b"movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def moto_session() -> Iterator[boto3.Session]:
    """One moto for the module: starting mock_aws per test costs ~0.2 s each."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            yield boto3.Session(region_name=REGION)


@pytest.fixture
def session(moto_session: boto3.Session) -> Iterator[boto3.Session]:
    """A fresh, empty bucket for each test."""
    s3 = moto_session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    yield moto_session
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def ml100k_zip(tmp_path: Path) -> Path:
    return make_zip(
        tmp_path / "ml-100k.zip", {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM, "ml-100k/README": b"readme"}
    )


def read(session: boto3.Session, key: str) -> bytes:
    return session.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


class StubbedStackSession:
    """moto's CloudFormation needs extra packages: stub DescribeStacks with botocore instead."""

    def __init__(self, session: boto3.Session) -> None:
        self._session = session
        self.cloudformation = session.client("cloudformation")
        self.stubber = Stubber(self.cloudformation)
        self.stubber.activate()

    def client(self, name: str) -> Any:
        return self.cloudformation if name == "cloudformation" else self._session.client(name)


def stack_session(session: boto3.Session, stack_name: str, outputs: dict[str, str] | None) -> StubbedStackSession:
    """A session whose DescribeStacks returns ``outputs`` (None: the stack does not exist)."""
    stubbed = StubbedStackSession(session)
    if outputs is None:
        stubbed.stubber.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            http_status_code=400,
            service_message=f"Stack with id {stack_name} does not exist",
            expected_params={"StackName": stack_name},
        )
        return stubbed
    stack = {
        "StackName": stack_name,
        "CreationTime": datetime(2026, 1, 1),
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
    }
    stubbed.stubber.add_response("describe_stacks", {"Stacks": [stack]}, expected_params={"StackName": stack_name})
    return stubbed


def test_uploads_ratings_and_titles_with_explicit_target(
    session: boto3.Session, ml100k_zip: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["--from-file", str(ml100k_zip), "--bucket", BUCKET, "--key", "raw/ml-100k/u.data"], session=session)
    assert code == 0
    assert read(session, "raw/ml-100k/u.data") == U_DATA
    assert read(session, "raw/ml-100k/u.item") == U_ITEM  # bytes kept as-is (latin-1)
    assert "'ml-100k'" in capsys.readouterr().out


def test_a_folder_key_gets_the_ratings_file_in_it_and_the_movie_file_beside_it(
    session: boto3.Session, ml100k_zip: Path
) -> None:
    """data.rawKey a folder: the ratings file goes in, the movie file must not (it would be read as ratings)."""
    assert main(["--from-file", str(ml100k_zip), "--bucket", BUCKET, "--key", "raw/ratings/"], session=session) == 0
    assert read(session, "raw/ratings/u.data") == U_DATA
    assert read(session, "raw/u.item") == U_ITEM


def test_ml_latest_small_uses_stack_outputs(session: boto3.Session, tmp_path: Path) -> None:
    stubbed = stack_session(
        session, "PersonalizePipeline", {"DataBucketName": BUCKET, "RawDataKey": "raw/ml-latest-small/ratings.csv"}
    )
    archive = make_zip(
        tmp_path / "small.zip", {"ml-latest-small/ratings.csv": RATINGS_CSV, "ml-latest-small/movies.csv": MOVIES_CSV}
    )
    code = main(["--dataset", "ml-latest-small", "--from-file", str(archive)], session=stubbed)
    assert code == 0
    stubbed.stubber.assert_no_pending_responses()
    assert read(session, "raw/ml-latest-small/ratings.csv") == RATINGS_CSV
    assert read(session, "raw/ml-latest-small/movies.csv") == MOVIES_CSV


def test_the_movie_file_goes_where_the_stack_reads_it(session: boto3.Session, ml100k_zip: Path) -> None:
    """data.itemsKey elsewhere than beside the ratings: the stack's ItemsKey output says where."""
    outputs = {"DataBucketName": BUCKET, "RawDataKey": "raw/ml-100k/u.data", "ItemsKey": "catalogue/u.item"}
    stubbed = stack_session(session, "PersonalizePipeline", outputs)

    assert main(["--from-file", str(ml100k_zip)], session=stubbed) == 0

    assert read(session, "raw/ml-100k/u.data") == U_DATA
    assert read(session, "catalogue/u.item") == U_ITEM
    assert [o["Key"] for o in session.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]] == [
        "catalogue/u.item",
        "raw/ml-100k/u.data",
    ]


def test_stack_not_found(session: boto3.Session, ml100k_zip: Path, capsys: pytest.CaptureFixture) -> None:
    stubbed = stack_session(session, "Nope", None)
    code = main(["--from-file", str(ml100k_zip), "--stack-name", "Nope"], session=stubbed)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: stack 'Nope' not found") and err.count("\n") == 1


def test_stack_without_outputs(session: boto3.Session, ml100k_zip: Path, capsys: pytest.CaptureFixture) -> None:
    stubbed = stack_session(session, "PersonalizePipeline", {"DataBucketName": BUCKET})
    assert main(["--from-file", str(ml100k_zip)], session=stubbed) == 1
    assert "has no output RawDataKey" in capsys.readouterr().err


def test_no_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ml100k_zip: Path, capsys: pytest.CaptureFixture
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["--from-file", str(ml100k_zip), "--region", REGION])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: no AWS credentials found")


def test_download_failure(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def refuse(url: str, timeout: float) -> Any:
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(upload_movielens.urllib.request, "urlopen", refuse)
    assert main(["--bucket", BUCKET, "--key", "raw/u.data"], session=session) == 1
    err = capsys.readouterr().err
    assert "download of https://files.grouplens.org/datasets/movielens/ml-100k.zip failed" in err
    assert "--from-file" in err


def test_download_streams_into_zip(session: boto3.Session, ml100k_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = ml100k_zip.read_bytes()
    monkeypatch.setattr(upload_movielens.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    assert main(["--bucket", BUCKET, "--key", "raw/ml-100k/u.data"], session=session) == 0
    assert read(session, "raw/ml-100k/u.data") == U_DATA


@pytest.mark.parametrize(
    ("members", "expected"),
    [({"ml-100k/u.item": U_ITEM}, "the zip has no u.data: is it the ml-100k release"), (None, "not a valid zip file")],
)
def test_wrong_zip(
    session: boto3.Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    members: dict[str, bytes] | None,
    expected: str,
) -> None:
    path = tmp_path / "x.zip"
    if members is None:
        path.write_bytes(b"not a zip")
    else:
        make_zip(path, members)
    assert main(["--from-file", str(path), "--bucket", BUCKET, "--key", "k"], session=session) == 1
    assert expected in capsys.readouterr().err


def test_missing_file(session: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--from-file", str(tmp_path / "absent.zip"), "--bucket", BUCKET, "--key", "k"], session=session) == 1
    assert "no such file" in capsys.readouterr().err


def test_bucket_without_key_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--bucket", BUCKET])
    assert caught.value.code == 2
    assert "--bucket and --key go together" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "--stack-name" in capsys.readouterr().out
