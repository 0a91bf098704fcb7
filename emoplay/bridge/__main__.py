"""``python -m emoplay.bridge``: print the protocol's JSON Schema (docs/bridge/protocol.schema.json)."""

import json

from .protocol import json_schema

print(json.dumps(json_schema(), indent=2))
