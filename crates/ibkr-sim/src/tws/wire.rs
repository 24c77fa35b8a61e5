//! The TWS wire format: the `API\0` greeting with the client's version range, the text
//! handshake reply, and length-prefixed frames. Below server version 201 a frame's message id
//! is its first text field; from 201 it is a 4-byte big-endian integer, with protobuf payloads
//! carrying id + 200.
//!
//! Knows bytes, not meanings: it never decides what to answer.

use std::io;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::fields::{Fields, Reader};
use super::text::{Text, version};

/// Protobuf message ids travel with this offset added.
pub const PROTOBUF_OFFSET: i32 = 200;
/// Frames longer than this are a desynchronised stream, as in TWS and ibapi.
pub const MAX_FRAME: usize = 0x00FF_FFFF;
/// The server versions the simulator speaks: every client version a gateway accepts, up to
/// TWS API 10.40's.
pub const MIN_SERVER_VERSION: i32 = version::MIN_CLIENT;
pub const MAX_SERVER_VERSION: i32 = 226;

/// One frame from the client: its message id (without the protobuf offset) and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: i32,
    pub protobuf: bool,
    pub payload: Vec<u8>,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads the `API\0` greeting and the client's `v<min>..<max>` version range.
pub async fn read_greeting<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(i32, i32)> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).await?;
    if &magic != b"API\0" {
        return Err(invalid(format!("expected API\\0 greeting, got {magic:?}")));
    }
    let body = read_body(r)
        .await?
        .ok_or_else(|| invalid("EOF after greeting"))?;
    let text = String::from_utf8_lossy(&body);
    // "v213..226", possibly followed by " <connect options>".
    let range = text.split_whitespace().next().unwrap_or_default();
    let parsed = range.strip_prefix('v').and_then(|r| {
        let (min, max) = r.split_once("..")?;
        Some((min.parse().ok()?, max.parse().ok()?))
    });
    parsed.ok_or_else(|| invalid(format!("bad version range {text:?}")))
}

/// The server version to answer a client offering `min..=max`, if there is one.
pub fn negotiate((min, max): (i32, i32)) -> Option<i32> {
    let version = max.min(MAX_SERVER_VERSION);
    (version >= min.max(MIN_SERVER_VERSION)).then_some(version)
}

/// The handshake reply: one frame of NUL-terminated text, `<version>\0<yyyymmdd hh:mm:ss TZ>\0`.
pub fn handshake_reply(version: i32, connection_time: &str) -> Vec<u8> {
    let text = format!("{version}\0{connection_time}\0");
    let mut out = Vec::with_capacity(text.len() + 4);
    out.put_u32(text.len() as u32);
    out.extend_from_slice(text.as_bytes());
    out
}

/// Reads one frame body; `None` on a clean EOF at a frame boundary.
async fn read_body<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(invalid(format!("frame of {len} bytes exceeds {MAX_FRAME}")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Reads one message frame at server `version`; `None` on a clean EOF.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    version: i32,
) -> io::Result<Option<Frame>> {
    let Some(body) = read_body(r).await? else {
        return Ok(None);
    };
    if version < version::PROTOBUF {
        let mut fields = Reader::new(&body);
        let id = fields
            .int()
            .map_err(|e| invalid(format!("text frame without a message id: {e}")))?;
        let start = body
            .iter()
            .position(|b| *b == 0)
            .map_or(body.len(), |n| n + 1);
        return Ok(Some(Frame {
            id,
            protobuf: false,
            payload: body[start..].to_vec(),
        }));
    }
    let Some((id, payload)) = body.split_first_chunk::<4>() else {
        return Err(invalid(format!(
            "frame of {} bytes has no message id",
            body.len()
        )));
    };
    let raw_id = i32::from_be_bytes(*id);
    let protobuf = raw_id > PROTOBUF_OFFSET;
    Ok(Some(Frame {
        id: if protobuf {
            raw_id - PROTOBUF_OFFSET
        } else {
            raw_id
        },
        protobuf,
        payload: payload.to_vec(),
    }))
}

/// Appends `msg` as one frame to `out`, as a client at server `version` reads it: protobuf
/// from the message's protobuf version, text below it.
pub fn encode_into<M: Text>(msg: &M, version: i32, out: &mut BytesMut) {
    if version >= M::PROTOBUF_FROM {
        let len = 4 + msg.encoded_len();
        out.reserve(4 + len);
        out.put_u32(len as u32);
        out.put_i32(M::ID + PROTOBUF_OFFSET);
        msg.encode_raw(out);
        return;
    }
    let start = out.len();
    out.put_u32(0);
    let mut fields = Fields(out);
    if version >= version::PROTOBUF {
        fields.0.put_i32(M::ID);
    } else {
        fields.int(M::ID);
    }
    msg.write(version, &mut fields);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
