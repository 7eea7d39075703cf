#!/usr/bin/env python3
"""Upload MovieLens ratings (and titles) to the deployed pipeline's data bucket.

Run on your own machine, with AWS credentials for the account the stack is deployed in.
MovieLens may not be redistributed, so the project never ships it: this command fetches
it from GroupLens (or takes a zip you downloaded) and streams the ratings file and the
titles file from the zip straight to S3.

    python tools/upload_movielens.py                              # ml-100k, stack PersonalizePipeline
    python tools/upload_movielens.py --dataset ml-latest-small --stack-name MyStack
    python tools/upload_movielens.py --from-file ~/Downloads/ml-100k.zip --bucket B --key raw/ml-100k/u.data

The bucket and the raw key come from the stack outputs DataBucketName and RawDataKey unless
--bucket and --key are given. The titles file (u.item / movies.csv) goes beside the ratings
key. Exit status: 0 on success, 1 on any error (one line on stderr), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import posixpath
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


@dataclass(frozen=True)
class Dataset:
    """Where a MovieLens release lives and which members of its zip we need."""

    url: str
    ratings_member: str
    titles_member: str
    pipeline_format: str


DATASETS: Final = {
    "ml-100k": Dataset("https://files.grouplens.org/datasets/movielens/ml-100k.zip", "u.data", "u.item", "ml-100k"),
    "ml-latest-small": Dataset(
        "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip", "ratings.csv", "movies.csv", "ratings-csv"
    ),
}
DEFAULT_STACK: Final = "PersonalizePipeline"
BUCKET_OUTPUT: Final = "DataBucketName"
KEY_OUTPUT: Final = "RawDataKey"
ITEMS_KEY_OUTPUT: Final = "ItemsKey"
DOWNLOAD_TIMEOUT_S: Final = 60
COPY_CHUNK: Final = 1024 * 1024


class UploadError(Exception):
    """A failure the user can fix; main() prints its message as one line."""


@dataclass(frozen=True)
class Target:
    """Where the ratings file goes, and the movie file (None: beside the ratings)."""

    bucket: str
    key: str
    items_key: str | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line interface; argparse exits with status 2 on bad usage."""
    parser = argparse.ArgumentParser(
        description="Download MovieLens from GroupLens (or use --from-file) and upload the "
        "ratings and titles files to the Personalize pipeline's data bucket.",
    )
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default="ml-100k", help="MovieLens release (default: ml-100k)"
    )
    parser.add_argument(
        "--stack-name",
        default=DEFAULT_STACK,
        help=f"CloudFormation stack to read {BUCKET_OUTPUT} and {KEY_OUTPUT} from (default: {DEFAULT_STACK})",
    )
    parser.add_argument("--bucket", help="data bucket; skips the stack lookup with --key")
    parser.add_argument("--key", help="S3 key of the ratings file; skips the stack lookup with --bucket")
    parser.add_argument("--from-file", metavar="PATH", help="use an already downloaded zip instead of downloading it")
    parser.add_argument("--region", help="AWS region (default: from your AWS config)")
    parser.add_argument("--profile", help="AWS named profile (default: from your AWS config)")
    args = parser.parse_args(argv)
    if (args.bucket is None) != (args.key is None):
        parser.error("--bucket and --key go together: give both, or neither to use the stack outputs")
    return args


def stack_target(cloudformation: Any, stack_name: str) -> Target:
    """Read the bucket and raw key from the deployed stack's outputs."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise UploadError(
                f"stack {stack_name!r} not found in this account/region: deploy it first "
                "(make deploy), or pass --stack-name/--region, or --bucket and --key"
            ) from error
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [name for name in (BUCKET_OUTPUT, KEY_OUTPUT) if name not in outputs]
    if missing:
        raise UploadError(
            f"stack {stack_name!r} has no output {' or '.join(missing)}: is it the "
            "Personalize pipeline stack, fully deployed? Otherwise pass --bucket and --key"
        )
    # ItemsKey: where the pipeline reads the movie file (data.itemsKey); stacks from before it had none.
    return Target(outputs[BUCKET_OUTPUT], outputs[KEY_OUTPUT], outputs.get(ITEMS_KEY_OUTPUT) or None)


def download(url: str, destination: IO[bytes]) -> None:
    """Stream the zip to a temporary file (zipfile needs a seekable file)."""
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            shutil.copyfileobj(response, destination, COPY_CHUNK)
    except (urllib.error.URLError, OSError) as error:
        raise UploadError(f"download of {url} failed ({error}); download it yourself and pass --from-file") from error
    destination.seek(0)


def find_member(archive: zipfile.ZipFile, name: str, dataset: str) -> zipfile.ZipInfo:
    """The member called ``name`` at the top or in one folder (``ml-100k/u.data``)."""
    for info in archive.infolist():
        if not info.is_dir() and posixpath.basename(info.filename) == name and info.filename.count("/") <= 1:
            return info
    raise UploadError(f"the zip has no {name}: is it the {dataset} release from GroupLens?")


class _NonSeekable:
    """Hide seek() so s3transfer streams part by part instead of seeking through the zip."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def upload_member(s3: Any, archive: zipfile.ZipFile, info: zipfile.ZipInfo, bucket: str, key: str) -> None:
    """Stream one zip member to S3 (the zip's CRC check runs as the member is read)."""
    content_type = "text/csv" if key.endswith(".csv") else "text/plain"
    with archive.open(info) as member:
        s3.upload_fileobj(_NonSeekable(member), bucket, key, ExtraArgs={"ContentType": content_type})
    print(f"uploaded {info.filename} ({info.file_size} bytes) to s3://{bucket}/{key}")


def titles_key(ratings_key: str, titles_member: str) -> str:
    """The titles file sits beside the ratings file, e.g. raw/ml-100k/u.item."""
    return posixpath.join(posixpath.dirname(ratings_key), titles_member)


def upload_zip(s3: Any, zip_file: IO[bytes], dataset_name: str, target: Target) -> None:
    """Upload the ratings file to the target key and the movie file where the pipeline reads it (the
    stack's ItemsKey output), else beside the ratings."""
    dataset = DATASETS[dataset_name]
    try:
        archive = zipfile.ZipFile(zip_file)
    except zipfile.BadZipFile as error:
        raise UploadError(f"not a valid zip file ({error}): download it again") from error
    with archive:
        ratings = find_member(archive, dataset.ratings_member, dataset_name)
        titles = find_member(archive, dataset.titles_member, dataset_name)
        # data.rawKey a folder (ending in '/'): the ratings file goes into it under its own name, and
        # the movie file beside the folder, never in it (it would be read as ratings).
        key = target.key + dataset.ratings_member if target.key.endswith("/") else target.key
        try:
            upload_member(s3, archive, ratings, target.bucket, key)
            upload_member(
                s3,
                archive,
                titles,
                target.bucket,
                target.items_key or titles_key(target.key.rstrip("/"), dataset.titles_member),
            )
        except zipfile.BadZipFile as error:
            raise UploadError(f"the zip is corrupt ({error}): download it again") from error
    print(f"done: the pipeline's 'format' setting must be {dataset.pipeline_format!r} for {dataset_name}")


def run(args: argparse.Namespace, session: Any) -> None:
    """Resolve the target, get the zip, upload."""
    if args.bucket is not None:
        target = Target(args.bucket, args.key)
    else:
        target = stack_target(session.client("cloudformation"), args.stack_name)
    s3 = session.client("s3")
    if args.from_file:
        try:
            with open(args.from_file, "rb") as zip_file:
                upload_zip(s3, zip_file, args.dataset, target)
        except FileNotFoundError as error:
            raise UploadError(f"--from-file {args.from_file}: no such file") from error
        return
    url = DATASETS[args.dataset].url
    print(f"downloading {url} ...")
    with tempfile.TemporaryFile() as zip_file:
        download(url, zip_file)
        upload_zip(s3, zip_file, args.dataset, target)


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    """Entry point; ``session`` (a boto3.Session) can be injected by tests."""
    args = parse_args(argv)
    try:
        if session is None:
            session = boto3.Session(profile_name=args.profile, region_name=args.region)
        run(args, session)
    except UploadError as error:
        return _fail(str(error))
    except NoCredentialsError:
        return _fail(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), set AWS_PROFILE, or pass --profile"
        )
    except NoRegionError:
        return _fail("no AWS region configured: pass --region or set AWS_REGION")
    except ClientError as error:
        info = error.response.get("Error", {})
        return _fail(f"AWS call failed: {info.get('Code')}: {info.get('Message')}")
    except BotoCoreError as error:
        return _fail(f"AWS error: {error}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
