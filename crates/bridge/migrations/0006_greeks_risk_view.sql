-- The trader's risk view: dollar greeks, a series per account, vega and theta by time to
-- expiry. Every column is nullable: rows stored before it existed keep NULL (not known), and the
-- spec's columns are left exactly as they are.

-- The IBKR account code a row sums; NULL for every account together — what each row stored
-- before this column was, and what the spec's reading of the table means.
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS account TEXT;
-- Delta × underlying price, and gamma × price² × 0.01 (the change of dollar delta for a 1 % move),
-- in dollars. The figures that mean something when summed across underlyings.
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS delta_dollars DOUBLE PRECISION;
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS gamma_dollars DOUBLE PRECISION;
-- Vega (dollars per volatility point) and theta (dollars per day) of the options expiring in
-- fewer than 30 calendar days, 30 to 90, and more than 90. Options whose expiry is unknown are
-- in none.
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS vega_lt30 DOUBLE PRECISION;
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS vega_30_90 DOUBLE PRECISION;
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS vega_gt90 DOUBLE PRECISION;
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS theta_lt30 DOUBLE PRECISION;
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS theta_30_90 DOUBLE PRECISION;
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS theta_gt90 DOUBLE PRECISION;

-- Each tick now writes a row per account beside the all-accounts one, so reading one series
-- through (contract, "timestamp") alone would step over every other account's rows. This index
-- serves both reads: `account IS NULL AND contract = …` and `account = … AND contract = …`,
-- newest first. The older (contract, "timestamp") index stays for readers that know nothing of
-- `account`, such as the existing application's.
CREATE INDEX IF NOT EXISTS ix_portfolio_greeks_account_contract_timestamp
    ON portfolio_greeks (account, contract, "timestamp" DESC);
