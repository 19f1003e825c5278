"""The daily run: the product's jobs chained in dependency order, with a ledger, a lock, retries
and resume."""
