"""envdeck's Textual widgets (tables, logs, metrics, status bar). They talk to the
core only through `tui.core.session.Session` and the reconciler's state."""
