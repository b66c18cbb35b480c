//! Fuzz target: arbitrary bytes, fed in arbitrary splits, to both protocol parsers.
//!
//! Input layout: byte 0 picks the limits, bytes 1..9 seed the chunk sizes, the rest is the stream.
//! Checks that nothing panics, that a waiting parser never holds more than
//! `max_control_line + max_payload + 10` bytes, that splitting the stream changes neither the
//! operations read nor whether it ends in an error, and that reading publishes in place
//! (`parse_frame`) reads what `parse` does.
#![no_main]

use bytes::BytesMut;
use contrail::core::proto::{ClientFrame, ClientOp, ClientParser, Limits, ProtoError, ServerParser};
use libfuzzer_sys::fuzz_target;

/// Feeds `input` in chunks drawn from `seed`; returns the ops read and whether it failed.
fn feed<T>(
    input: &[u8],
    mut seed: u64,
    limits: Limits,
    mut parse: impl FnMut(&mut BytesMut) -> Result<Option<T>, ProtoError>,
) -> (Vec<T>, bool) {
    let bound = limits.max_control_line + limits.max_payload + 10;
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut at = 0;
    while at < input.len() {
        // xorshift64: cheap, deterministic chunk sizes from 1 to 64 bytes (or all at once).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let size = if seed == 0 { input.len() } else { (seed % 64) as usize + 1 };
        let end = (at + size).min(input.len());
        buf.extend_from_slice(&input[at..end]);
        at = end;
        loop {
            match parse(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => {
                    assert!(buf.len() <= bound, "parser holds {} bytes", buf.len());
                    break;
                }
                Err(_) => return (ops, true),
            }
        }
    }
    (ops, false)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let limits = match data[0] % 3 {
        0 => Limits { max_control_line: 32, max_payload: 64 },
        1 => Limits { max_control_line: 128, max_payload: 1024 },
        _ => Limits::default(),
    };
    let mut seed_bytes = [0u8; 8];
    seed_bytes.copy_from_slice(&data[1..9]);
    let seed = u64::from_le_bytes(seed_bytes) | 1;
    let input = &data[9..];

    let mut client = ClientParser::new(limits);
    let split = feed(input, seed, limits, |b| client.parse(b));
    let mut client = ClientParser::new(limits);
    let at_once = feed(input, 0, limits, |b| client.parse(b));
    assert_eq!(split, at_once, "client ops depend on how the input is split");
    let mut framed = ClientParser::new(limits);
    let in_place = feed(input, seed, limits, |b| {
        Ok(match framed.parse_frame(b)? {
            None => None,
            Some(ClientFrame::Op(op)) => Some(op),
            Some(ClientFrame::Pub(view)) => Some(ClientOp::Pub(view.to_message())),
        })
    });
    assert_eq!(in_place, at_once, "publishes read in place differ from parsed ones");

    let mut server = ServerParser::new(limits);
    let split = feed(input, seed, limits, |b| server.parse(b));
    let mut server = ServerParser::new(limits);
    let at_once = feed(input, 0, limits, |b| server.parse(b));
    assert_eq!(split, at_once, "server ops depend on how the input is split");
});
