"""envdeck's Textual widgets (tables, logs, metrics, status bar). They talk to the
core only through `tui.services.Session` and the reconciler's state."""
