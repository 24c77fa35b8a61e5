-- A combo's content hash (SHA-256 of everything the bridge stores for it and its legs, in a
-- canonical encoding: `domain::combo_hash`). A re-sync compares hashes instead of loading and
-- parsing every stored `raw` payload (docs/benchmarks.md). NULL — rows written before this
-- column existed, or by another program — means "compare in full": the next sync reads that
-- combo's rows once and stores the hash, writing nothing else if nothing else changed. No
-- backfill here: the hash is computed by the bridge's own encoding, which SQL cannot repeat.
ALTER TABLE combo_positions ADD COLUMN IF NOT EXISTS content_hash BYTEA;
