"""Environment lifecycle: templates, plans, and the engine that creates, sleeps, wakes
and destroys environments step by step (docs/lifecycle.md).

- `records`: the typed records every part shares (steps, managed environments, orphans);
- `template`: the config models of `templates:` and `edge_pools:`;
- `render`: a template + parameters → a `RenderedEnvironment` (steps and the environment
  config the reconciler observes once it exists);
- `plan`: the step graph (explicit and implicit edges) and its waves;
- `engine`: runs an operation to its end, resumable after a crash, fenced by a lease;
- `lifecycle_store`: the store's lifecycle tables.
"""
