use serde_json::json;

use super::*;
use crate::alerts::notice::AlertKind;

fn notice(severity: Severity, status: Phase) -> Notice {
    Notice {
        kind: AlertKind::FeedDown,
        key: String::new(),
        severity,
        status,
        title: "IBKR feed down for 4 min".to_owned(),
        text: "No ticks since 14:02.".to_owned(),
        action: "Check IB Gateway.".to_owned(),
        started_at: "2026-11-21T14:02:00Z".parse().expect("timestamp"),
        resolved_at: None,
        lasted_seconds: None,
        host: "trader-box".to_owned(),
    }
}

fn webhook(s: &str) -> Webhook {
    match Target::parse_webhook(s) {
        Ok(Target::Webhook(w)) => w,
        other => panic!("{s}: {other:?}"),
    }
}

fn shape(s: &str) -> Shape {
    webhook(s).shape
}

#[test]
fn https_is_accepted_and_http_only_to_this_machine() {
    assert!(Target::parse_webhook("https://alerts.example.com/hook").is_ok());
    for local in [
        "http://127.0.0.1:9000/hook",
        "http://127.1.2.3/hook",
        "http://[::1]:9000/hook",
        "http://localhost:9000/hook",
        "http://LOCALHOST/hook",
    ] {
        assert!(Target::parse_webhook(local).is_ok(), "{local}");
    }
    for remote in [
        "http://alerts.example.com/hook",
        "http://10.0.0.5/hook",
        "http://[2001:db8::1]/hook",
        "slack+http://hooks.slack.com/services/T/B/X",
    ] {
        let err = Target::parse_webhook(remote).expect_err(remote);
        assert!(err.contains("clear text"), "{remote}: {err}");
    }
    let err = Target::parse_webhook("ftp://example.com/x").expect_err("ftp");
    assert!(err.contains("\"ftp\""), "{err}");
    let err = Target::parse_webhook("hooks.slack.com/services/T/B/X").expect_err("no scheme");
    assert!(err.contains("not a URL"), "{err}");
}

#[test]
fn the_services_own_urls_are_recognised() {
    assert_eq!(
        shape("https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"),
        Shape::Slack
    );
    for discord in [
        "https://discord.com/api/webhooks/123/abc-token",
        "https://discordapp.com/api/webhooks/123/abc-token",
        "https://ptb.discord.com/api/webhooks/123/abc-token",
        "https://canary.discordapp.com/api/webhooks/123/abc-token",
        "https://discord.com/api/v10/webhooks/123/abc-token",
    ] {
        assert_eq!(shape(discord), Shape::Discord, "{discord}");
    }
    assert_eq!(shape("https://discord.com/channels/1/2"), Shape::Generic);
    assert_eq!(
        shape("https://evil-discord.com/api/webhooks/1/t"),
        Shape::Generic
    );
    assert_eq!(shape("https://ntfy.sh/bridge-alerts_42"), Shape::Ntfy);
    assert_eq!(shape("https://example.com/hook"), Shape::Generic);
}

#[test]
fn a_prefix_names_the_shape_of_a_compatible_server() {
    assert_eq!(
        shape("slack+https://chat.example.com/hooks/abc"),
        Shape::Slack
    );
    assert_eq!(shape("discord+http://127.0.0.1:9/api/x"), Shape::Discord);
    assert_eq!(shape("NTFY+https://ntfy.example.com/topic"), Shape::Ntfy);
    assert_eq!(shape("generic+https://ntfy.sh/topic"), Shape::Generic);
    assert_eq!(
        webhook("slack+https://chat.example.com/hooks/abc")
            .url
            .as_str(),
        "https://chat.example.com/hooks/abc"
    );
}

#[test]
fn an_ntfy_url_must_name_a_topic() {
    for bad in [
        "https://ntfy.sh/",
        "ntfy+https://ntfy.example.com/",
        "ntfy+https://ntfy.example.com/a.b",
    ] {
        let err = Target::parse_webhook(bad).expect_err(bad);
        assert!(err.contains("topic"), "{bad}: {err}");
    }
}

#[test]
fn a_command_must_not_be_empty() {
    assert!(Target::command("  ").is_err());
    let Ok(Target::Command(c)) = Target::command(" notify-send x ") else {
        panic!("a command");
    };
    assert_eq!(c.line(), "notify-send x");
}

#[test]
fn no_secret_part_shows_in_display_or_debug() {
    let cases = [
        (
            "https://hooks.slack.com/services/T0SECRET/B0SECRET/XSECRETXSECRET",
            "slack https://hooks.slack.com/…",
        ),
        (
            "https://discord.com/api/webhooks/9876SECRET/tokSECRET",
            "discord https://discord.com/…",
        ),
        ("https://ntfy.sh/topicSECRET", "ntfy https://ntfy.sh/…"),
        (
            "https://user:passSECRET@alerts.example.com:8443/pathSECRET?key=qSECRET#fragSECRET",
            "generic https://alerts.example.com:8443/…",
        ),
        (
            "http://[::1]:9000/hookSECRET",
            "generic http://[::1]:9000/…",
        ),
    ];
    for (url, shown) in cases {
        let target = Target::parse_webhook(url).expect(url);
        assert_eq!(target.to_string(), shown);
        for text in [target.to_string(), format!("{target:?}")] {
            assert!(!text.contains("SECRET"), "{url} shown as {text}");
        }
    }
    let commands = [
        ("notify --token SECRET", "command notify …"),
        (
            "TOKEN=SECRET /usr/local/bin/page",
            "command /usr/local/bin/page …",
        ),
        ("logger", "command logger"),
        ("A=SECRET B=SECRET", "command …"),
    ];
    for (line, shown) in commands {
        let target = Target::command(line).expect(line);
        assert_eq!(target.to_string(), shown);
        assert!(!format!("{target:?}").contains("SECRET"));
    }
}

#[test]
fn an_answer_echoing_a_secret_is_masked() {
    let w = webhook("https://user:pw-SECRET@ntfy.sh/topicSECRET?auth=tkSECRET");
    let answer = r#"{"topic":"topicSECRET","auth":"auth=tkSECRET","pw":"pw-SECRET"}"#;
    let masked = w.redact(answer);
    assert!(!masked.contains("SECRET"), "{masked}");
}

#[test]
fn generic_sends_the_notice_as_is() {
    let n = notice(Severity::Critical, Phase::Firing);
    let (url, body) = webhook("https://alerts.example.com/hook?k=v").request(&n);
    assert_eq!(url.as_str(), "https://alerts.example.com/hook?k=v");
    let back: Notice = serde_json::from_value(body).expect("the notice");
    assert_eq!(back, n);
}

#[test]
fn slack_gets_escaped_text() {
    let mut n = notice(Severity::Warning, Phase::Firing);
    n.text = "spread <CL F27 & G27> is > 3".to_owned();
    n.action = "Check <!channel> & wait".to_owned();
    let (url, body) = webhook("https://hooks.slack.com/services/T/B/X").request(&n);
    assert_eq!(url.as_str(), "https://hooks.slack.com/services/T/B/X");
    assert_eq!(
        body,
        json!({"text": "[WARNING] IBKR feed down for 4 min (trader-box)\n\
                        spread &lt;CL F27 &amp; G27&gt; is &gt; 3\n\
                        Action: Check &lt;!channel&gt; &amp; wait"})
    );
}

#[test]
fn discord_content_is_cut_to_its_limit_and_mentions_nothing() {
    let mut n = notice(Severity::Critical, Phase::Firing);
    n.text = "@everyone look".to_owned();
    let (url, body) = webhook("https://discord.com/api/webhooks/1/tok").request(&n);
    assert_eq!(
        url.as_str(),
        "https://discord.com/api/webhooks/1/tok?wait=true"
    );
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(
        body["content"],
        "[CRITICAL] IBKR feed down for 4 min (trader-box)\n@everyone look\nAction: Check IB Gateway."
    );

    // Two-unit emoji around the limit: the cut never splits one.
    n.text = "é🛢".repeat(1500);
    let (_, body) = webhook("https://discord.com/api/webhooks/1/tok?wait=false").request(&n);
    let content = body["content"].as_str().expect("content");
    assert_eq!(content.encode_utf16().count(), 2000);
    assert!(content.ends_with("🛢…") || content.ends_with("é…"));
    assert!(content.chars().count() <= 2000);

    let (url, _) = webhook("https://discord.com/api/webhooks/1/tok?wait=false").request(&n);
    assert_eq!(url.query(), Some("wait=false"));
}

#[test]
fn truncation_counts_utf16_units_and_keeps_chars_whole() {
    assert_eq!(truncate_utf16("short", 10), "short");
    assert_eq!(truncate_utf16("abcdef", 4), "abc…");
    // 🛢 is two units: it does not fit in the last free unit.
    assert_eq!(truncate_utf16("ab🛢cd", 4), "ab…");
    assert_eq!(truncate_bytes("aéb", 3), "…");
    assert_eq!(truncate_bytes("abcdé", 5), "ab…");
    assert_eq!(truncate_bytes("abcé", 5), "abcé");
}

#[test]
fn ntfy_is_published_as_json_to_the_root() {
    let n = notice(Severity::Critical, Phase::Firing);
    let (url, body) = webhook("https://ntfy.sh/bridge_alerts").request(&n);
    assert_eq!(url.as_str(), "https://ntfy.sh/");
    assert_eq!(
        body,
        json!({
            "topic": "bridge_alerts",
            "title": "[CRITICAL] IBKR feed down for 4 min (trader-box)",
            "message": "No ticks since 14:02.\nAction: Check IB Gateway.",
            "priority": 5,
            "tags": ["rotating_light", "feed_down"],
        })
    );
    let (url, _) = webhook("ntfy+https://u:p@push.example.com/ntfy/alerts?auth=tk").request(&n);
    assert_eq!(url.as_str(), "https://u:p@push.example.com/ntfy/?auth=tk");
}

#[test]
fn ntfy_priority_follows_severity_and_resolution() {
    let w = webhook("https://ntfy.sh/t");
    let cases = [
        (Severity::Critical, Phase::Firing, 5, "rotating_light"),
        (Severity::Critical, Phase::Reminder, 5, "rotating_light"),
        (Severity::Warning, Phase::Firing, 4, "warning"),
        (Severity::Info, Phase::Firing, 3, "information_source"),
        (Severity::Critical, Phase::Resolved, 3, "white_check_mark"),
        (Severity::Info, Phase::Test, 3, "information_source"),
    ];
    for (severity, status, priority, tag) in cases {
        let (_, body) = w.request(&notice(severity, status));
        assert_eq!(body["priority"], priority, "{severity:?} {status:?}");
        assert_eq!(body["tags"][0], tag, "{severity:?} {status:?}");
    }
}

#[test]
fn ntfy_takes_a_non_ascii_title_and_a_long_message() {
    let mut n = notice(Severity::Warning, Phase::Firing);
    n.title = "Ölpreis-Spread ⚠ 3σ".to_owned();
    n.text = "ü".repeat(3000);
    let (_, body) = webhook("https://ntfy.sh/t").request(&n);
    assert_eq!(body["title"], "[WARNING] Ölpreis-Spread ⚠ 3σ (trader-box)");
    let message = body["message"].as_str().expect("message");
    assert!(message.len() <= 4096, "{}", message.len());
    assert!(message.ends_with("ü…"));
}
