"""The Textual-free core: configuration, the model, the store, the reconciler, policy and the
session (`tui.core.session.Session`, the door the UI and the CLI use). Nothing here imports
Textual, the UI, the CLI or a concrete backend adapter (import-linter contracts in pyproject.toml)."""
