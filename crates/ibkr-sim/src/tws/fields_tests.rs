use bytes::BytesMut;

use super::*;

fn written(f: impl FnOnce(&mut Fields)) -> Vec<u8> {
    let mut out = BytesMut::new();
    f(&mut Fields(&mut out));
    out.to_vec()
}

#[test]
fn values_are_written_as_ib_clients_parse_them() {
    let bytes = written(|f| {
        f.int(-1)
            .text("CL")
            .float(5.0)
            .float(0.1)
            .float(1e300)
            .opt_float(None)
            .boolean(true)
            .text("a\0b");
    });
    assert_eq!(
        bytes,
        b"-1\0CL\x005.0\x000.1\x001e300\x001.7976931348623157e308\x001\0ab\0".to_vec()
    );
}

#[test]
fn reading_is_lenient_with_empty_numbers_and_names_the_bad_field() {
    let mut r = Reader::new(b"7\x00\x002.5\x00\x00x\x00");
    assert_eq!(r.int(), Ok(7));
    assert_eq!(r.int(), Ok(0), "an empty number is zero");
    assert_eq!(r.float(), Ok(2.5));
    assert_eq!(r.opt_float(), Ok(None), "an empty double is unset");
    assert_eq!(
        r.int(),
        Err(FieldError::NotANumber {
            index: 4,
            text: "x".into()
        })
    );
    assert_eq!(r.text(), Err(FieldError::Missing { index: 5 }));
}

#[test]
fn booleans_read_as_clients_send_them() {
    let mut r = Reader::new(b"1\x000\0true\0\0");
    assert_eq!(r.boolean(), Ok(true));
    assert_eq!(r.boolean(), Ok(false));
    assert_eq!(r.boolean(), Ok(true));
    assert_eq!(r.boolean(), Ok(false));
}
