use std::io::Write;

use jiff::Timestamp;

use super::*;
use crate::greeks::record::test_record;

fn row(i: i64) -> Record {
    test_record(i, i as f64)
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("dir")
}

/// Adds bytes to the spool behind its back, as a crash or a hand edit would.
fn append_raw(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("file")
        .write_all(bytes)
        .expect("append raw");
}

#[test]
fn appends_read_back_in_order_and_the_drain_position_survives_reopening() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    let (mut spool, opened) = Spool::open(&path).expect("open");
    assert_eq!(opened, Opened::default());
    spool.append(&[row(1), row(2)]).expect("append");
    spool.append(&[row(3)]).expect("append");
    let first = spool.read(0, 2).expect("read");
    assert_eq!(first.records, vec![row(1), row(2)]);
    spool.set_offset(first.next).expect("offset");
    drop(spool);

    let (spool, _) = Spool::open(&path).expect("reopen");
    assert!(!spool.is_drained());
    let rest = spool.read(spool.offset(), 10).expect("read");
    assert_eq!(rest.records, vec![row(3)]);
    let status = status(&path).expect("status").expect("exists");
    assert_eq!(status.rows, 1, "only what the drain has not passed");
    assert_eq!(status.oldest, Timestamp::from_second(1_790_000_003).ok());
}

#[test]
fn clearing_empties_the_file_and_forgets_the_position() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    let (mut spool, _) = Spool::open(&path).expect("open");
    spool.append(&[row(1)]).expect("append");
    spool.set_offset(10).expect("offset");
    spool.clear().expect("clear");
    assert!(spool.is_drained());
    assert_eq!(std::fs::metadata(&path).expect("file").len(), 0);
    spool.append(&[row(2)]).expect("append after clear");
    assert_eq!(
        spool.read(spool.offset(), 10).expect("read").records,
        vec![row(2)],
        "no stale position"
    );
}

#[test]
fn a_torn_last_line_is_cut_off_and_counted() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    let (mut spool, _) = Spool::open(&path).expect("open");
    spool.append(&[row(1)]).expect("append");
    drop(spool);
    append_raw(&path, br#"{"kind":"greeks","key":"17"#);
    assert!(status(&path).expect("status").expect("exists").torn_tail);

    let (mut spool, opened) = Spool::open(&path).expect("reopen");
    assert!(opened.torn_line_dropped);
    spool.append(&[row(2)]).expect("append");
    let all = spool.read(0, 10).expect("read");
    assert_eq!(all.records, vec![row(1), row(2)]);
    assert!(
        all.unreadable.is_empty(),
        "the torn tail never joins the next line"
    );
}

#[test]
fn a_garbage_line_in_the_middle_is_reported_and_rejected_not_skipped() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    let (mut spool, _) = Spool::open(&path).expect("open");
    spool.append(&[row(1)]).expect("append");
    drop(spool);
    append_raw(&path, b"not a record\n");
    let (mut spool, _) = Spool::open(&path).expect("reopen");
    spool.append(&[row(2)]).expect("append");
    let batch = spool.read(0, 10).expect("read");
    assert_eq!(batch.records, vec![row(1), row(2)]);
    assert_eq!(batch.unreadable, vec!["not a record".to_owned()]);
    assert_eq!(
        status(&path).expect("status").expect("exists").unreadable,
        1
    );
    spool.reject(&batch.unreadable).expect("reject");
    let rejects = std::fs::read_to_string(d.path().join("s.jsonl.rejects")).expect("rejects");
    assert_eq!(rejects, "not a record\n");
    spool.set_offset(batch.next).expect("offset");
    let s = status(&path).expect("status").expect("exists");
    assert_eq!((s.rows, s.unreadable, s.rejected), (0, 0, 1));
}

#[test]
fn empty_and_missing_spools() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    assert_eq!(status(&path).expect("status"), None, "no file, no spool");
    std::fs::write(&path, b"").expect("empty file");
    let (spool, opened) = Spool::open(&path).expect("open");
    assert!(!opened.torn_line_dropped && spool.is_drained());
    assert_eq!(status(&path).expect("status").expect("exists").rows, 0);
}

#[test]
fn a_position_past_the_end_is_ignored() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    let (mut spool, _) = Spool::open(&path).expect("open");
    spool.append(&[row(1)]).expect("append");
    std::fs::write(d.path().join("s.jsonl.offset"), b"999999").expect("offset");
    assert_eq!(
        spool.offset(),
        0,
        "a position beyond the file is stale: start over, the keys dedupe"
    );
}

#[test]
fn one_process_at_a_time() {
    let d = dir();
    let path = d.path().join("s.jsonl");
    let (_held, _) = Spool::open(&path).expect("open");
    let err = Spool::open(&path).expect_err("locked");
    assert!(matches!(err, SpoolError::Busy { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("in use by another portfolio-bridge process")
    );
}

#[test]
fn an_unwritable_place_is_an_error_with_the_path() {
    let err = Spool::open(std::path::Path::new("/nonexistent-dir/s.jsonl")).expect_err("no dir");
    assert!(
        err.to_string().contains("/nonexistent-dir/s.jsonl"),
        "{err}"
    );
}
