use std::time::Duration;

use tokio::time::Instant;

use super::*;

const IDLE: Duration = Duration::from_secs(360);

fn at(start: Instant, secs: u64) -> Instant {
    start + Duration::from_secs(secs)
}

#[test]
fn logged_out_refuses_everything() {
    let t0 = Instant::now();
    let mut s = CpSession::new(false, IDLE, t0);
    assert_eq!(s.request(Tier::Sso, t0), Err(Refusal::NoSession));
    s.login(t0);
    assert_eq!(s.request(Tier::Brokerage, t0), Ok(()));
}

#[test]
fn idle_timeout_drops_brokerage_and_ssodh_init_restores_it() {
    let t0 = Instant::now();
    let mut s = CpSession::new(true, IDLE, t0);
    assert_eq!(s.request(Tier::Sso, at(t0, 359)), Ok(()));
    assert_eq!(
        s.request(Tier::Brokerage, at(t0, 700)),
        Ok(()),
        "the tickle at 359 s kept it alive"
    );
    let idle = at(t0, 700 + 361);
    assert_eq!(s.request(Tier::Brokerage, idle), Err(Refusal::NoBridge));
    assert_eq!(
        s.status(idle),
        AuthStatus {
            authenticated: false,
            competing: false,
            connected: true
        }
    );
    assert!(s.init_brokerage(false, idle).authenticated);
}

#[test]
fn logout_needs_a_new_login() {
    let t0 = Instant::now();
    let mut s = CpSession::new(true, IDLE, t0);
    s.logout();
    assert_eq!(
        s.status(t0),
        AuthStatus {
            authenticated: false,
            competing: false,
            connected: false
        }
    );
    assert!(!s.init_brokerage(true, t0).authenticated);
    s.reauthenticate(t0);
    assert!(!s.status(at(t0, 5)).authenticated);
    // Nothing but the auth status is served until a login.
    assert_eq!(s.request(Tier::Sso, t0), Err(Refusal::NoSession));
    assert_eq!(s.request(Tier::Status, t0), Ok(()));
    s.login(t0);
    assert_eq!(s.request(Tier::Sso, t0), Ok(()));
    s.expire();
    assert_eq!(
        s.request(Tier::Status, t0),
        Err(Refusal::NoSession),
        "an expired session answers nothing"
    );
    s.login(t0);
    assert!(s.status(t0).authenticated);
}

#[test]
fn competing_needs_compete_to_win() {
    let t0 = Instant::now();
    let mut s = CpSession::new(true, IDLE, t0);
    s.compete();
    assert_eq!(
        s.status(t0),
        AuthStatus {
            authenticated: false,
            competing: true,
            connected: true
        }
    );
    assert!(!s.init_brokerage(false, t0).authenticated);
    let won = s.init_brokerage(true, t0);
    assert!(won.authenticated && !won.competing);
}

#[test]
fn reauthenticate_completes_shortly_after() {
    let t0 = Instant::now();
    let mut s = CpSession::new(true, IDLE, t0);
    s.idle_out();
    s.reauthenticate(t0);
    assert!(!s.status(t0).authenticated);
    assert!(s.status(t0 + Duration::from_secs(1)).authenticated);
}

#[test]
fn expiry_refuses_until_login_and_sso_lives_a_day() {
    let t0 = Instant::now();
    let mut s = CpSession::new(true, IDLE, t0);
    assert!(s.sso_expires_ms(t0) > 86_000_000);
    s.expire();
    assert_eq!(s.request(Tier::Sso, t0), Err(Refusal::NoSession));
    let mut day = CpSession::new(true, Duration::from_secs(1_000_000), t0);
    assert_eq!(
        day.request(Tier::Sso, at(t0, 24 * 3600)),
        Err(Refusal::NoSession)
    );
}

#[test]
fn greeks_first_appear_on_a_seeded_poll_within_the_range() {
    let polls: Vec<u32> = (820000001..820000041).map(|c| greeks_poll(7, c)).collect();
    assert!(
        polls.iter().all(|p| GREEKS_FIRST_POLLS.contains(p)),
        "{polls:?}"
    );
    let distinct: std::collections::BTreeSet<u32> = polls.iter().copied().collect();
    assert!(
        distinct.len() >= 3,
        "not always the same poll: {distinct:?}"
    );
    assert_eq!(
        greeks_poll(7, 820000001),
        greeks_poll(7, 820000001),
        "the same every run"
    );
    assert!(
        (820000001..820000041).any(|c| greeks_poll(8, c) != greeks_poll(7, c)),
        "another seed, other polls"
    );
}

#[test]
fn searches_and_first_calls_last_one_brokerage_session() {
    let t0 = Instant::now();
    type Ending = fn(&mut CpSession, Instant);
    let ended: [(&str, Ending); 5] = [
        ("idle timeout", |s, t| {
            s.status(t + IDLE);
        }),
        ("idle out", |s, _| s.idle_out()),
        ("competing login", |s, _| s.compete()),
        ("logout", |s, _| s.logout()),
        ("new login", |s, t| s.login(t)),
    ];
    for (how, end) in ended {
        let mut s = CpSession::new(true, IDLE, t0);
        s.iserver_accounts_seen = true;
        s.searched.insert(820000001);
        s.snapshot_polls.insert(820000001, 4);
        end(&mut s, t0);
        assert!(s.searched.is_empty(), "{how}: searches forgotten");
        assert!(s.snapshot_polls.is_empty(), "{how}: snapshots start again");
        assert!(!s.iserver_accounts_seen, "{how}: /iserver/accounts again");
    }
}
