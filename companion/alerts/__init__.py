"""How the family is told: `concerns` (flags raised on what the elder says or does, their
states and who may see their words) and `outbox` (webhook and e-mail delivery, retried until
it lands)."""
