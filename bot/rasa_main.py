"""`rasa` with one measured fix applied first; `bot.serve` starts the Rasa server through this.

Rasa 3.6 checks every action server response with `jsonschema.validate(result, schema)`, which
re-validates the constant schema against its meta-schema on every call: under load that was 35 % of
the Rasa server's CPU (py-spy, FAQ turns). `RemoteAction._validate_action_result` is replaced by
the same check with a validator built once; responses are still validated, and an invalid one
still raises jsonschema's ValidationError with Rasa's message.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Dict, Text


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of on every response
    return cls(schema)


def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (". Failed to validate Action server response from API, make sure your response "
                      f"from the Action endpoint is valid. For more information about the format visit "
                      f"{DOCS_BASE_URL}/custom-actions")
        raise e


def apply() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result


def main() -> None:
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
