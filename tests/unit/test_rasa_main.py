"""The Rasa server's action-response check keeps Rasa's behaviour with a validator built once."""
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot import rasa_main


@pytest.fixture
def patched(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasa_main.apply()
    return RemoteAction("action_x", None)


def test_valid_response_passes(patched):
    assert patched._validate_action_result(
        {"events": [{"event": "slot", "name": "faq_topic", "value": "x"}], "responses": [{"text": "hi"}]})


@pytest.mark.parametrize("bad", [{"events": "not a list"}, {"events": [{"no_event_key": 1}]},
                                 {"events": [1]}])
def test_invalid_response_still_raises_rasas_error(patched, bad):
    original = RemoteAction("action_x", None)
    with pytest.raises(ValidationError) as ours:
        patched._validate_action_result(bad)
    assert "Failed to validate Action server response" in ours.value.message
    # the same verdict as Rasa's own jsonschema.validate
    from jsonschema import validate

    with pytest.raises(ValidationError):
        validate(bad, original.action_response_format_spec())


def test_schema_checked_once():
    rasa_main._action_response_validator.cache_clear()
    first = rasa_main._action_response_validator()
    assert rasa_main._action_response_validator() is first
