"""Personalize's interactions schema: the three columns the data preparation writes.

A light module (no CDK or SDK imports) so handler tests use the very schema the workflow sends.
"""

import json

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
INTERACTIONS_SCHEMA_JSON = json.dumps(INTERACTIONS_SCHEMA, separators=(",", ":"))
