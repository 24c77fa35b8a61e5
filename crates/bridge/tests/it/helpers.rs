//! What several test modules need: the bridge binary in a clean environment, and the URL of a
//! `#[sqlx::test]` database.

use std::process::{Command, Output};

use sqlx::PgPool;
use tempfile::TempDir;

/// The `portfolio-bridge` binary with an empty environment (only `HOME`), run in an empty
/// directory so that no `.env` is picked up unless a test writes one.
pub struct Bridge {
    pub dir: TempDir,
    envs: Vec<(String, String)>,
}

impl Bridge {
    pub fn new() -> Self {
        Bridge {
            dir: tempfile::tempdir().expect("temp dir"),
            envs: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_portfolio-bridge"))
            .args(args)
            .env_clear()
            .env("HOME", self.dir.path())
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .output()
            .expect("the bridge binary runs");
        Run(output)
    }
}

/// A finished run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

/// The URL of the database `pool` is connected to: `DATABASE_URL` with its database swapped.
pub async fn database_url_of(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await
        .expect("current_database()");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the tests");
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}
