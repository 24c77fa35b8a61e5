use super::*;

fn holder(host: &str, pid: u32) -> Holder {
    Holder {
        host: host.into(),
        pid,
        started_at: Timestamp::from_second(1_790_000_000).expect("valid"),
        version: "0.1.0".into(),
    }
}

fn found(holder: Option<Holder>, running: bool, age_s: u64) -> Found {
    Found {
        running,
        holder,
        age: Duration::from_secs(age_s),
    }
}

const NOBODY_ELSE_RUNS: fn(u32) -> bool = |_| false;
const EVERYONE_RUNS: fn(u32) -> bool = |_| true;

#[test]
fn a_free_stopped_or_silent_name_is_taken() {
    let me = holder("box-a", 10);
    let other = Some(holder("box-b", 20));
    assert_eq!(verdict(None, &me, EVERYONE_RUNS), Verdict::Take);
    let stopped = found(other.clone(), false, 1);
    assert_eq!(verdict(Some(&stopped), &me, EVERYONE_RUNS), Verdict::Take);
    let silent = found(other, true, STALE_AFTER.as_secs());
    assert_eq!(verdict(Some(&silent), &me, EVERYONE_RUNS), Verdict::Take);
}

#[test]
fn a_live_bridge_elsewhere_keeps_its_name() {
    let me = holder("box-a", 10);
    let live = found(Some(holder("box-b", 10)), true, 5);
    assert_eq!(
        verdict(Some(&live), &me, NOBODY_ELSE_RUNS),
        Verdict::Refuse {
            holder: Some(holder("box-b", 10)),
            age: Duration::from_secs(5)
        },
        "another machine's process is never judged by this machine's process table"
    );
    let unreadable = found(None, true, 5);
    assert!(matches!(
        verdict(Some(&unreadable), &me, NOBODY_ELSE_RUNS),
        Verdict::Refuse { holder: None, .. }
    ));
}

#[test]
fn a_restart_on_the_same_machine_takes_the_name_of_its_dead_predecessor() {
    let me = holder("box-a", 11);
    let killed = found(Some(holder("box-a", 10)), true, 2);
    assert_eq!(verdict(Some(&killed), &me, NOBODY_ELSE_RUNS), Verdict::Take);
    assert!(
        matches!(
            verdict(Some(&killed), &me, EVERYONE_RUNS),
            Verdict::Refuse { .. }
        ),
        "a second bridge on the same machine while the first runs"
    );
    let mine = found(Some(me.clone()), true, 2);
    assert_eq!(verdict(Some(&mine), &me, EVERYONE_RUNS), Verdict::Take);
}

#[test]
fn the_refusal_names_the_holder_and_the_fix() {
    let name = BridgeName::parse("home").expect("valid");
    let text = refusal(&name, Some(&holder("box-b", 20)), Duration::from_secs(4));
    assert!(
        text.starts_with("another bridge named home is running"),
        "{text}"
    );
    for part in ["box-b", "pid 20", "4 s ago", "BRIDGE_NAME", "30 s"] {
        assert!(text.contains(part), "{part}: {text}");
    }
}
