from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_data


@pytest.fixture(scope="session")
def synthesized(cloud_assembly: Path) -> SynthesizedPipeline:
    return load_synthesized_pipeline(cloud_assembly)


@contextmanager
def deployed_with_ratings(synthesized: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    """A synthesized stack in a fresh offline account, with generated ml-100k ratings uploaded."""
    with offline_account() as account:
        deployed = OfflinePipeline(synthesized, account)
        deployed.upload_raw_data(to_u_data(generate_ratings()))
        yield deployed


@pytest.fixture
def pipeline(synthesized: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    """The default stack, deployed offline with ratings uploaded."""
    with deployed_with_ratings(synthesized) as deployed:
        yield deployed
