"""rasa_sdk actions, one module per flow; `rasa run actions` imports this package."""
