"""Engagement with peer support and complier average causal effects (docs/engagement.md)."""
