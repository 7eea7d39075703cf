"""The data retention switch (``data.onDestroy``) as the template carries it."""

from __future__ import annotations

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import bucket_id, only_resource


def test_by_default_the_data_bucket_and_its_objects_survive_destroy(default_pipeline: SynthesizedPipeline) -> None:
    default_pipeline.template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    default_pipeline.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_set_to_destroy_the_bucket_is_emptied_and_deleted(variations_pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(variations_pipeline)
    _, auto_delete = only_resource(variations_pipeline, "Custom::S3AutoDeleteObjects")

    variations_pipeline.template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )
    assert auto_delete["BucketName"] == {"Ref": bucket}
