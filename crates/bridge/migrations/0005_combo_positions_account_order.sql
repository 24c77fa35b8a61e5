-- The read API lists spreads by account, then id, a page at a time: with this index a page of
-- 100 reads about 100 combos instead of every combo of the first account (docs/benchmarks.md).
CREATE INDEX IF NOT EXISTS ix_combo_positions_account_id ON combo_positions (account_id, id);
