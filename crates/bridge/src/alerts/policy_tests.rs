use super::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn cond(kind: AlertKind, key: &str, severity: Severity, since: Timestamp) -> Condition {
    Condition {
        kind,
        key: key.into(),
        severity,
        since,
        title: format!("{kind} {key}"),
        text: "detail".into(),
        action: "do this".into(),
    }
}

fn feed(since: Timestamp) -> Condition {
    cond(AlertKind::FeedDown, "", Severity::Critical, since)
}

fn policy() -> Policy {
    Policy::new(Duration::from_secs(3600), "trader-box")
}

fn phases(notices: &[Notice]) -> Vec<(AlertKind, Phase)> {
    notices.iter().map(|n| (n.kind, n.status)).collect()
}

#[test]
fn one_alert_while_it_lasts_then_one_resolved_notice_with_its_length() {
    let mut p = policy();
    let fired = p.step(vec![feed(t(0))], t(180));
    assert_eq!(phases(&fired), [(AlertKind::FeedDown, Phase::Firing)]);
    assert_eq!(fired[0].started_at, t(0));
    assert_eq!(fired[0].host, "trader-box");
    for s in (181..600).step_by(7) {
        assert!(
            p.step(vec![feed(t(0))], t(s)).is_empty(),
            "nothing new at {s}"
        );
    }
    assert_eq!(p.active().len(), 1);
    let resolved = p.step(vec![], t(600));
    assert_eq!(phases(&resolved), [(AlertKind::FeedDown, Phase::Resolved)]);
    assert_eq!(resolved[0].lasted_seconds, Some(600));
    assert_eq!(resolved[0].resolved_at, Some(t(600)));
    assert!(resolved[0].text.contains("10 min"), "{}", resolved[0].text);
    assert!(p.active().is_empty());
    assert_eq!(p.recent()[0].resolved_at, Some(t(600)));
    assert!(p.step(vec![], t(601)).is_empty());
}

#[test]
fn a_reminder_comes_every_repeat_interval_and_expiry_daily() {
    let mut p = policy();
    let expiring = cond(
        AlertKind::FrontMonthExpiring,
        "CLF7",
        Severity::Warning,
        t(0),
    );
    let both = || vec![feed(t(0)), expiring.clone()];
    assert_eq!(p.step(both(), t(0)).len(), 2);
    let mut reminders = Vec::new();
    for minute in 1..=24 * 60 {
        for n in p.step(both(), t(minute * 60)) {
            reminders.push((n.kind, n.status, minute));
        }
    }
    let feed_reminders = reminders
        .iter()
        .filter(|r| r.0 == AlertKind::FeedDown)
        .count();
    assert_eq!(feed_reminders, 24, "hourly for a day");
    let expiry: Vec<_> = reminders
        .iter()
        .filter(|r| r.0 == AlertKind::FrontMonthExpiring)
        .collect();
    assert_eq!(
        expiry,
        [&(AlertKind::FrontMonthExpiring, Phase::Reminder, 1440)]
    );
}

#[test]
fn a_hundred_flaps_in_a_minute_give_a_bounded_number_of_notices_and_the_end_state() {
    let mut p = policy();
    let mut sent = Vec::new();
    // Up for 0.3 s, down for 0.3 s, a hundred times, evaluated as often.
    for i in 0..200 {
        let now = Timestamp::from_millisecond(1_800_000_000_000 + i * 300).unwrap();
        let conditions = if i % 2 == 0 { vec![feed(now)] } else { vec![] };
        sent.extend(p.step(conditions, now));
    }
    assert_eq!(sent.len(), PER_KEY, "{:?}", phases(&sent));
    // Still flapping, now clear: the human last heard "resolved"; once the window allows,
    // the state is told again with the flap count.
    let later = t(60 + WINDOW.as_secs() as i64);
    let after = p.step(vec![feed(later)], later);
    assert_eq!(phases(&after), [(AlertKind::FeedDown, Phase::Firing)]);
    // 100 comings: the first two were told, this return is told now, 98 came and went unseen.
    assert!(
        after[0]
            .text
            .contains("came back 98 times since it was last told"),
        "{}",
        after[0].text
    );
    let gone = p.step(vec![], t(61 + WINDOW.as_secs() as i64));
    assert_eq!(phases(&gone), [(AlertKind::FeedDown, Phase::Resolved)]);
}

#[test]
fn flaps_not_told_are_counted_in_the_next_notice() {
    let mut p = policy();
    let mut now = 0;
    let mut told = Vec::new();
    for _ in 0..10 {
        told.extend(p.step(vec![feed(t(now))], t(now)));
        now += 1;
        told.extend(p.step(vec![], t(now)));
        now += 1;
    }
    assert_eq!(told.len(), PER_KEY);
    // Active again after the window: the firing notice says how often it flapped unseen.
    let at = t(WINDOW.as_secs() as i64 + 30);
    p.step(vec![], at);
    let n = p.step(vec![feed(at)], at);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].status, Phase::Firing);
    // Ten comings: two told, eight unseen, and this return told now.
    assert!(n[0].text.contains("came back 8 times"), "{}", n[0].text);
}

#[test]
fn overall_limit_holds_notices_back_critical_first_and_tells_them_later() {
    let mut p = policy();
    let many: Vec<Condition> = (0..OVERALL + 5)
        .map(|i| {
            let severity = if i < 5 {
                Severity::Warning
            } else {
                Severity::Critical
            };
            cond(AlertKind::SyncFailing, &format!("job{i}"), severity, t(0))
        })
        .collect();
    let first = p.step(many.clone(), t(0));
    assert_eq!(first.len(), OVERALL);
    assert!(first.iter().all(|n| n.severity == Severity::Critical) || first.len() > 20);
    assert_eq!(
        first
            .iter()
            .filter(|n| n.severity == Severity::Critical)
            .count(),
        20
    );
    assert_eq!(p.held_back(), 5);
    assert!(p.step(many.clone(), t(60)).is_empty());
    let later = p.step(many, t(WINDOW.as_secs() as i64));
    assert_eq!(later.len(), 5);
    assert!(later.iter().all(|n| n.severity == Severity::Warning));
    assert_eq!(p.held_back(), 0);
}

#[test]
fn a_condition_that_returns_after_its_resolved_notice_is_a_new_episode() {
    let mut p = policy();
    p.step(vec![feed(t(0))], t(0));
    p.step(vec![], t(100));
    let again = p.step(vec![feed(t(4000))], t(4000));
    assert_eq!(phases(&again), [(AlertKind::FeedDown, Phase::Firing)]);
    assert_eq!(again[0].started_at, t(4000));
}

#[test]
fn separate_keys_of_one_kind_are_separate_alerts() {
    let mut p = policy();
    let a = cond(
        AlertKind::SyncFailing,
        "positions.sync",
        Severity::Warning,
        t(0),
    );
    let b = cond(
        AlertKind::SyncFailing,
        "combo_positions.sync",
        Severity::Warning,
        t(0),
    );
    assert_eq!(p.step(vec![a.clone(), b], t(0)).len(), 2);
    let resolved = p.step(vec![a], t(10));
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].key, "combo_positions.sync");
    assert_eq!(p.active()[0].key, "positions.sync");
}
