"""Todo AI Chatbot backend."""

__version__ = "0.1.0"
