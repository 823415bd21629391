"""Delivery of readiness signals and alerts: outbox, Tier-0 webhook, Alertmanager, e-mail."""
