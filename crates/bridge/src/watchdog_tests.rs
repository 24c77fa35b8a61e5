use std::time::Duration;

use super::*;

#[test]
fn backoff_doubles_between_attempts() {
    let base = Duration::from_secs(1);
    let pauses: Vec<Duration> = (1..=ATTEMPTS).map(|a| backoff(base, a)).collect();
    assert_eq!(
        pauses,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2)
        ]
    );
}
