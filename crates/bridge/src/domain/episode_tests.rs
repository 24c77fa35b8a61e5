use super::*;

const PERIOD: Duration = Duration::from_secs(300);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + seconds).expect("a valid instant")
}

#[test]
fn a_clean_failure_and_recovery_are_two_notices_told_at_once() {
    let mut e = Episode::new(PERIOD);
    assert_eq!(e.succeeded(at(0)), None, "nothing to end");
    assert_eq!(
        e.failed(at(10), "disk full"),
        Some(Notice::Began {
            error: "disk full".into()
        })
    );
    assert!(e.is_failing());
    assert_eq!(
        e.failed(at(15), "disk full"),
        None,
        "still the same trouble"
    );
    assert_eq!(
        e.succeeded(at(20)),
        Some(Notice::Ended {
            since: at(10),
            failures: 0,
            recoveries: 1
        }),
        "an end is news at once"
    );
    assert!(!e.is_failing());
    assert_eq!(e.succeeded(at(25)), None);
}

#[test]
fn flapping_is_summarized_at_most_once_per_period() {
    let mut e = Episode::new(PERIOD);
    let mut notices = Vec::new();
    // Fails and recovers every 5 s for 2.5 minutes, as a nearly full disk does.
    for i in 0..30 {
        let t = i * 5;
        let notice = if i % 2 == 0 {
            e.failed(at(t), "No space left on device")
        } else {
            e.succeeded(at(t))
        };
        notices.extend(notice);
    }
    assert_eq!(
        notices,
        [
            Notice::Began {
                error: "No space left on device".into()
            },
            Notice::Ended {
                since: at(0),
                failures: 0,
                recoveries: 1
            }
        ],
        "two lines, not thirty"
    );
    // Still flapping when the period is up: a summary of what was held back.
    assert_eq!(e.failed(at(300), "No space left on device"), None);
    assert_eq!(
        e.failed(at(305), "No space left on device"),
        Some(Notice::Flapping {
            failures: 15,
            recoveries: 14,
            error: "No space left on device".into()
        })
    );
    assert_eq!(e.due(at(310)), None, "nothing new since");
    // Fine again after one more span of failing: the end is news at once.
    assert_eq!(
        e.succeeded(at(320)),
        Some(Notice::Ended {
            since: at(10),
            failures: 0,
            recoveries: 1
        })
    );
    // Flapping on: held back again until the period is up, then summarized.
    assert_eq!(e.failed(at(330), "No space left on device"), None);
    assert_eq!(e.succeeded(at(335)), None);
    assert_eq!(e.due(at(619)), None);
    assert_eq!(
        e.due(at(620)),
        Some(Notice::Ended {
            since: at(330),
            failures: 1,
            recoveries: 1
        })
    );
    assert_eq!(e.due(at(1000)), None);
}

#[test]
fn a_new_trouble_right_after_an_end_waits_for_the_period() {
    let mut e = Episode::new(PERIOD);
    e.failed(at(0), "a");
    assert!(matches!(e.succeeded(at(400)), Some(Notice::Ended { .. })));
    assert_eq!(e.failed(at(410), "b"), None, "a report was made 10 s ago");
    assert_eq!(
        e.due(at(700)),
        Some(Notice::Flapping {
            failures: 1,
            recoveries: 0,
            error: "b".into()
        })
    );
}
