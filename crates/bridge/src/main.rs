//! The `portfolio-bridge` binary; everything it does lives in the library's [`cli`] module.
//!
//! [`cli`]: portfolio_bridge::cli

fn main() -> std::process::ExitCode {
    portfolio_bridge::cli::main()
}
