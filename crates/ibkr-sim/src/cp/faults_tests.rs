use super::*;

#[test]
fn specs_parse() {
    let f: Fault = "/portfolio=503*2".parse().expect("valid");
    assert_eq!(
        f,
        Fault {
            path: "/portfolio".into(),
            kind: FaultKind::Status {
                status: 503,
                millis: None
            },
            count: Some(2)
        }
    );
    assert_eq!(
        "/iserver=503:0".parse::<Fault>().expect("valid").kind,
        FaultKind::Status {
            status: 503,
            millis: Some(0)
        }
    );
    let f: Fault = "delay:1500".parse().expect("valid");
    assert_eq!(
        f,
        Fault {
            path: String::new(),
            kind: FaultKind::Delay { millis: 1500 },
            count: None
        }
    );
    assert_eq!(
        "/x=malformed".parse::<Fault>().expect("valid").kind,
        FaultKind::Malformed
    );
    assert_eq!(
        "wrong-shape*1".parse::<Fault>().expect("valid").kind,
        FaultKind::WrongShape
    );
    assert_eq!(
        "/portfolio=drop-field:ratio"
            .parse::<Fault>()
            .expect("valid")
            .kind,
        FaultKind::DropField {
            field: "ratio".into()
        }
    );
    for bad in [
        "200",
        "/x=teapot",
        "delay:soon",
        "500*x",
        "/x=99",
        "503:soon",
    ] {
        assert!(bad.parse::<Fault>().is_err(), "{bad}");
    }
}

#[test]
fn faults_hit_their_prefix_and_run_out() {
    let mut faults = vec!["/portfolio=500*2".parse::<Fault>().expect("valid")];
    assert_eq!(take(&mut faults, "/tickle"), None);
    assert_eq!(
        take(&mut faults, "/portfolio/accounts"),
        Some(FaultKind::Status {
            status: 500,
            millis: None
        })
    );
    assert_eq!(
        take(&mut faults, "/portfolio/DU1/summary"),
        Some(FaultKind::Status {
            status: 500,
            millis: None
        })
    );
    assert_eq!(take(&mut faults, "/portfolio/accounts"), None);
    assert!(faults.is_empty());
    let mut forever = vec!["malformed".parse::<Fault>().expect("valid")];
    for _ in 0..5 {
        assert_eq!(take(&mut forever, "/anything"), Some(FaultKind::Malformed));
    }
}

#[test]
fn a_503_comes_as_late_as_ibkrs_unless_told_otherwise() {
    let status = |status, millis| FaultKind::Status { status, millis };
    assert_eq!(status(503, None).delay(), GATEWAY_503_AFTER);
    assert_eq!(GATEWAY_503_AFTER, Duration::from_secs(10));
    assert_eq!(status(503, Some(250)).delay(), Duration::from_millis(250));
    assert_eq!(status(500, None).delay(), Duration::ZERO);
    assert_eq!(
        FaultKind::Delay { millis: 40 }.delay(),
        Duration::from_millis(40)
    );
}
