"""The offline Amazon Personalize: one simulator, split by resource family.

- :mod:`.core`: resources and their status lifecycles, faults, request dispatch and validation;
- :mod:`.datasets`: dataset groups, schemas, datasets, import jobs;
- :mod:`.training`: solutions, solution versions, metrics, automatic training;
- :mod:`.serving`: campaigns and their updates, event trackers, GetRecommendations;
- :mod:`.filters`: filters, their expression checks, and what they leave of a recommendation list;
- :mod:`.batch`: batch inference jobs, their input and output files;
- :mod:`.deletion`: data deletion jobs, which remove users' interactions.
"""

from __future__ import annotations

from simulator.personalize.batch import BatchOperations
from simulator.personalize.core import PersonalizeCore, StageDurations, iter_operations
from simulator.personalize.datasets import DatasetOperations
from simulator.personalize.deletion import DeletionOperations
from simulator.personalize.filters import FilterOperations
from simulator.personalize.serving import ServingOperations
from simulator.personalize.training import TrainingOperations

__all__ = ["PersonalizeSimulator", "StageDurations", "iter_operations"]


class PersonalizeSimulator(
    DatasetOperations,
    TrainingOperations,
    ServingOperations,
    FilterOperations,
    BatchOperations,
    DeletionOperations,
    PersonalizeCore,
):
    """In-memory Personalize: control plane resources plus GetRecommendations."""
