"""Custom Rasa graph components and the pure text functions they wrap."""
