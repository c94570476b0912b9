"""Rasa input channels: how each kind of user reaches the same assistant."""
