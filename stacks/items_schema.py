"""Personalize's items schema: the four columns the movie-file conversion writes (lambdas/prepare_data/movies.py).

A light module (no CDK or SDK imports), like the interactions schema. GENRES is categorical
(several values joined by ``|``); YEAR and CREATION_TIMESTAMP may be empty, so they are unions
with null (register personalize.items.schema).
"""

import json
from typing import Any

ITEMS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "YEAR", "type": ["null", "int"]},
        {"name": "CREATION_TIMESTAMP", "type": ["null", "long"]},
    ],
    "version": "1.0",
}
ITEMS_SCHEMA_JSON = json.dumps(ITEMS_SCHEMA, separators=(",", ":"))
# The fields a filter expression may name as Items.<FIELD> (contract/filters.py).
ITEMS_FIELDS = tuple(str(field["name"]) for field in ITEMS_SCHEMA["fields"])
