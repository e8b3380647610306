"""Simulated edge nodes served over real SSH (asyncssh) for `envdeck demo` and the tests.

Importing `backends.edge` first installs its filter for asyncssh's DSA deprecation warnings
before `simulator` imports asyncssh."""

import backends.edge  # noqa: F401 - the asyncssh warning filter, before asyncssh is imported
