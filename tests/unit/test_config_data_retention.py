"""The data retention switch: ``data.onDestroy`` decides what `cdk destroy` does with the data bucket."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, load_config


def test_the_bucket_is_retained_unless_asked_otherwise() -> None:
    assert load_config(None).data.on_destroy == "retain"
    assert load_config({"data": {}}).data.destroy_on_delete is False


def test_destroy_is_an_explicit_choice() -> None:
    data = load_config({"data": {"onDestroy": "destroy"}}).data

    assert (data.on_destroy, data.destroy_on_delete) == ("destroy", True)


@pytest.mark.parametrize("value", ["delete", "DESTROY", "Retain", True, None, ""], ids=repr)
def test_anything_else_is_one_error_naming_the_key_and_the_choices(value: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"data": {"onDestroy": value}})

    assert str(raised.value).startswith('Invalid cdk.json context "personalize.data.onDestroy": got ')
    assert "'retain' (cdk destroy keeps the data bucket and its data) or 'destroy'" in str(raised.value)
    assert str(raised.value).endswith(', for example "retain".')
