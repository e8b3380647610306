"""Promotion (issue 18): environment A's versions brought to environment B in health-gated waves.

- `records.py`: the typed records (Promotion, PromotionStep, PlannedChange) and their states;
- `plan.py`: the ordered changes that make B's components run A's versions;
- `promotion_store.py`: the promotions tables (migration 8 of tui/core/store.py);
- `engine.py`: carries a promotion out, wave by wave, resumable after a crash;
- `service.py`: policy, audit and the entry points `Session.promote_*` delegate to.

Never imports Textual.
"""
