"""The names of the backend kinds, in a module light enough for building the command line
(`envdeck --version` and `--help` must not import the model)."""

BACKENDS = ("aws", "kubernetes", "edge")
