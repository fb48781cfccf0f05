"""qbank: compile a YAML bank of interview questions into an Anki deck, a PDF and an EPUB."""

__version__ = "0.1.0"
