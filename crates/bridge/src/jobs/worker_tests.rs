use super::*;

#[test]
fn retries_wait_longer_each_time_up_to_the_cap() {
    let base = Duration::from_secs(5);
    let max = Duration::from_secs(60);
    let waits: Vec<u64> = (1..=6)
        .map(|n| retry_delay(n, base, max).as_secs())
        .collect();
    assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
    assert_eq!(retry_delay(0, base, max), base, "a bogus count still waits");
    assert_eq!(retry_delay(i32::MAX, base, max), max);
}

#[test]
fn worker_names_say_where_they_run() {
    let name = worker_name(2);
    let parts: Vec<&str> = name.rsplitn(3, ':').collect();
    assert_eq!(parts[0], "2");
    assert_eq!(parts[1], std::process::id().to_string());
    assert!(!parts[2].is_empty());
}
