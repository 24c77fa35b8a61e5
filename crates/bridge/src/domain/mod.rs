//! Domain: the bridge's own types and pure logic — ids that can only hold valid values,
//! contracts, the in-memory portfolio the sources keep current, the events the sources report,
//! native combos, their content hashes and their sync plan, the net-greeks sums, the spread
//! view's arithmetic, IBKR's daily reset window.
//!
//! Nothing here does I/O or reads a clock: every function that needs the time takes `now`.
//! Lenient parsing of IBKR's payloads happens at the edges (`ibkr`); these types are strict.

pub mod api_log;
pub mod combo;
pub mod combo_hash;
pub mod contract;
pub mod episode;
pub mod expiry;
pub mod ids;
pub mod net_greeks;
pub mod portfolio;
pub mod reset_window;
pub mod spreads;
