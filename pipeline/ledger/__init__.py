"""Archive (raw bytes, content-addressed, never modified) and the SQLite ledger of submissions."""
