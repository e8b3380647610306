"""Environment against environment (issue 18): resources matched by role (roles.py), the
comparable fields of each kind (fields.py), the diff (diff.py, records.py), and the version
matrix (versions.py). Textual-free and adapter-free, like the rest of tui/core."""
