"""备案助手: a Rasa 3.6 support assistant for ICP website filing."""
