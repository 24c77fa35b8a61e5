//! The 5-second net-greeks series: the ticker that computes rows from the portfolio, the
//! writer that stores them behind a circuit breaker, and the spool that keeps them while
//! PostgreSQL is away.
//!
//! - [`ticker`]: on every interval boundary, rows from the in-memory portfolio.
//! - [`writer`]: the circuit breaker and the drain; also stores `api_logs` entries.
//! - [`spool`]: the crash-safe JSON Lines file.
//! - [`record`]: what is stored, with its dedup key; [`sink`]: where.

pub mod record;
pub mod sink;
pub mod spool;
pub mod ticker;
pub mod writer;
