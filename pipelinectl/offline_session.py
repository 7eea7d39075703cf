"""``--offline``: the tool against the local simulator, in one scripted session.

The offline account (moto and simulator/, see simulator/offline.py) lives in this process only,
so nothing persists between two invocations. Each one therefore plays a whole session:

1. deploy the synthesized stack (cdk.out) into a fresh offline account;
2. upload generated ratings in the configured format, with generated titles (u.item) beside them;
3. run N retraining cycles a week apart, with a week of new ratings before each later one
   (``--offline-runs``; default 0 for ``run``, 2 for the other commands, so that they have a
   history, a serving campaign and an earlier version to roll back to);
4. unless ``--same-data``, let another week of ratings arrive;
5. run the requested command against it, through the same boto3 calls as against AWS.

Times are simulated: the two hours of a training pass in milliseconds of real time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
from rich.console import Console

from pipelinectl.backend import Backend
from pipelinectl.catalog import titles_key
from pipelinectl.errors import SynthesisNeeded
from simulator.cloud_assembly import CloudAssemblyError, load_synthesized_pipeline
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_item
from stacks.artifacts import STACK_NAME

WEEK = timedelta(days=7)
NEW_USERS_PER_WEEK = 40
# How often `watch` looks at a running offline execution (real seconds).
OFFLINE_POLL_SECONDS = 0.02


@contextlib.contextmanager
def offline_backend(
    cdk_out: Path, *, prior_runs: int, same_data: bool, console: Console, stack_name: str = STACK_NAME
) -> Iterator[Backend]:
    try:
        synthesized = load_synthesized_pipeline(cdk_out, stack_name)
    except CloudAssemblyError as error:
        raise SynthesisNeeded(f"--offline needs the synthesized stack: {error}") from None
    with offline_account() as account:
        pipeline = OfflinePipeline(synthesized, account)
        ratings = generate_ratings()
        pipeline.upload_ratings(ratings)
        titles = titles_key(pipeline.raw_data_key)
        if titles is not None and titles[0].endswith("u.item"):  # generated titles exist in u.item's format only
            account.s3().put_object(Bucket=pipeline.bucket_name, Key=titles[0], Body=to_u_item())
        console.print(
            f"Offline account {account.personalize.account_id} ({account.personalize.region}), simulated clock: "
            f"stack {synthesized.directory}/ deployed, {len(ratings):,} generated ratings uploaded"
        )

        def new_week_of_ratings(week: int) -> None:
            first_user = 201 + NEW_USERS_PER_WEEK * (week - 2)
            ratings.extend(generate_ratings(users=NEW_USERS_PER_WEEK, seed=week, first_user=first_user))
            pipeline.upload_ratings(ratings)

        for week in range(1, prior_runs + 1):
            if week > 1:
                new_week_of_ratings(week)
            result = pipeline.start_execution(
                name=f"offline-week-{week}", gap=WEEK if week > 1 else timedelta(minutes=1)
            )
            outcome = (result.output or {}).get("outcome", "failed") if result.status == "SUCCEEDED" else "failed"
            console.print(f"  earlier run offline-week-{week}: {outcome} ({result.duration} simulated)")
        if prior_runs and not same_data:
            new_week_of_ratings(prior_runs + 1)
            account.clock.advance(WEEK.total_seconds())
            console.print(f"  a week later: new ratings arrived ({len(ratings):,} in all)")

        def let_time_pass(seconds: float) -> None:
            account.clock.advance(seconds)

        backend = Backend(
            session=boto3.session.Session(),
            now=account.clock.now,
            pause_between_polls=lambda: time.sleep(OFFLINE_POLL_SECONDS),
            wait=let_time_pass,
            simulated=True,
            offline=pipeline,
        )
        backend.create_clients()
        yield backend
        pipeline.wait_for_background_executions()
