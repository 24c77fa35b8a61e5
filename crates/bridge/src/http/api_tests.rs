use super::*;

#[test]
fn job_statuses_read_as_they_are_written() {
    for status in [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
    ] {
        assert_eq!(
            serde_json::to_value(status).expect("json"),
            serde_json::json!(status.as_str())
        );
    }
}

#[test]
fn the_symbol_filter_defaults_to_cl_and_star_means_all() {
    let text = |s: &str| Text::try_from(s.to_owned()).expect("text");
    assert_eq!(symbol_filter(None), Some("CL".into()));
    assert_eq!(symbol_filter(Some(&text("*"))), None);
    assert_eq!(symbol_filter(Some(&text("es"))), Some("ES".into()));
}

#[test]
fn an_alias_is_trimmed_printable_and_at_most_64_characters() {
    assert_eq!(
        parse_alias(Some("  Main  ")).expect("ok"),
        Some("Main".into())
    );
    assert_eq!(parse_alias(Some("   ")).expect("ok"), None);
    assert_eq!(parse_alias(None).expect("ok"), None);
    assert!(parse_alias(Some(&"x".repeat(64))).is_ok());
    // The document's maxLength counts what is sent, spaces included.
    assert!(parse_alias(Some(&format!("{} ", "x".repeat(64)))).is_err());
    assert!(parse_alias(Some("Main\u{0}")).is_err());
}

#[test]
fn job_types_are_the_queues() {
    assert_eq!(
        JobType::try_from("combo_positions.sync".to_owned()),
        Ok(JobType(COMBO_POSITIONS_SYNC.to_owned()))
    );
    assert!(JobType::try_from("contracts.sync".to_owned()).is_err());
    let schema = serde_json::to_value(JobType::schema()).expect("json");
    assert_eq!(schema["enum"], serde_json::json!(JOB_TYPES));
}

#[test]
fn an_alias_is_documented_as_printable_text() {
    let schema = serde_json::to_value(AliasChange::schema()).expect("json");
    assert_eq!(
        schema["properties"]["alias"]["pattern"],
        crate::http::params::PRINTABLE
    );
    assert_eq!(schema["properties"]["alias"]["maxLength"], ALIAS_MAX_CHARS);
}
