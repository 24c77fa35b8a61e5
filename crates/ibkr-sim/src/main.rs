//! The `ibkr-sim` binary (see the library's documentation).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ibkr-sim: the gateway simulator is not built yet (see the ibkr-sim issue)");
    ExitCode::from(2)
}
