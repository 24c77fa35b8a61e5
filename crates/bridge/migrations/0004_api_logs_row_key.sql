-- api_logs entries spooled while the database was down are replayed after it comes back; like
-- greeks rows they carry a key so a replayed entry is stored once. Entries written before the
-- column existed keep NULL.
ALTER TABLE api_logs ADD COLUMN IF NOT EXISTS row_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS uq_api_logs_row_key ON api_logs (row_key);
