"""Reports for the people who run the assistant: hot and missed questions, answer quality, volume.

Everything is read from what the assistant already writes (Rasa's SQL tracker store, the app
database); the computations are pure functions over those rows, so they are tested without servers.
"""
