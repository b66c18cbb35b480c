//! Framing shared by both parsers: finding a control line, matching its operation name, splitting
//! its arguments, reading sizes, and taking a message's header block and payload off the buffer.
//!
//! The [`Framer`] holds the only state that survives between calls: how far the current partial
//! control line has been searched for its line end (so a line that arrives a byte at a time is not
//! rescanned), and the parsed control line of a message whose payload has not fully arrived (so
//! neither the line nor the partial payload is read twice; the wait is one length comparison).

use std::ops::Range;

use bytes::{Buf, BytesMut};
use memchr::memchr;

use super::{Limits, MsgView, ProtoError};
use crate::core::message::Message;

/// Longest operation name (`CONNECT`) plus its separator, CR and LF: the bytes a control line may
/// hold beyond `max_control_line`.
pub(super) const LINE_OVERHEAD: usize = 10;

/// A control line at the front of the buffer.
pub(super) struct Line {
    /// Length of the line without its line end.
    pub len: usize,
    /// Length of the line with its line end: what to consume once it is handled.
    pub consumed: usize,
}

/// The control line of a MSG, HMSG, PUB or HPUB, parsed; its payload comes next.
///
/// The line stays at the front of the buffer until the whole message is taken, so the names are
/// kept as places in it, not copied out; whether they are UTF-8 is checked when the message is
/// read ([`MsgHead::view`], [`split_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MsgHead {
    /// Subject.
    pub subject: Range<usize>,
    /// Reply subject, if any.
    pub reply: Option<Range<usize>>,
    /// Empty for PUB and HPUB.
    pub sid: Range<usize>,
    /// Header block size, for HPUB and HMSG.
    pub hdr: Option<usize>,
    /// Where the header block (or payload) begins: the control line's length with its line end.
    pub start: usize,
    /// Header block plus payload size.
    pub total: usize,
}

impl MsgHead {
    /// The bytes the whole message takes at the front of the buffer, its closing CRLF included.
    pub fn len(&self) -> usize {
        self.start + self.total + 2
    }

    /// True when the buffer holds the whole message (see [`payload_ready`]).
    pub fn ready(&self, buf: &[u8]) -> Result<bool, ProtoError> {
        payload_ready(buf.get(self.start..).unwrap_or_default(), self.total)
    }

    /// The message in place in `buf`, which holds it at its front. Checks that its names are
    /// UTF-8 (once: a delivery reads them as `&str` from here on).
    pub fn view<'a>(&self, buf: &'a [u8]) -> Result<MsgView<'a>, ProtoError> {
        let body = buf
            .get(self.start..self.start + self.total)
            .unwrap_or_default();
        let (headers, payload) = match self.hdr {
            Some(hdr) => {
                let (headers, payload) = body.split_at(hdr.min(body.len()));
                (Some(headers), payload)
            }
            None => (None, body),
        };
        Ok(MsgView {
            subject: name(buf, &self.subject)?,
            reply: self
                .reply
                .as_ref()
                .map(|reply| name(buf, reply))
                .transpose()?,
            headers,
            payload,
        })
    }
}

/// A name in a control line [`msg_head`] read.
fn name<'a>(buf: &'a [u8], at: &Range<usize>) -> Result<&'a str, ProtoError> {
    std::str::from_utf8(buf.get(at.clone()).unwrap_or_default()).map_err(|_| ProtoError::NotUtf8)
}

/// Line and payload framing state shared by [`super::ClientParser`] and [`super::ServerParser`].
pub(super) struct Framer {
    /// The limits in force.
    pub limits: Limits,
    /// Bytes at the front of the buffer already known to hold no LF.
    scanned: usize,
    /// A message whose control line is consumed and whose payload is awaited.
    pending: Option<MsgHead>,
}

impl Framer {
    /// A framer with nothing in progress.
    pub fn new(limits: Limits) -> Self {
        Framer {
            limits,
            scanned: 0,
            pending: None,
        }
    }

    /// Forgets everything in progress (after an error; the connection is closing anyway).
    pub fn reset(&mut self) {
        self.scanned = 0;
        self.pending = None;
    }

    /// Finds the control line at the front of `buf`, or `None` while its line end has not arrived.
    ///
    /// A partial line is an error as soon as it is longer than any valid line can be, or as soon
    /// as its first bytes cannot begin any of `op_names`.
    pub fn next_line(
        &mut self,
        buf: &[u8],
        op_names: &[&[u8]],
    ) -> Result<Option<Line>, ProtoError> {
        let max_line = self.limits.max_control_line.saturating_add(LINE_OVERHEAD);
        let window = buf.get(..max_line).unwrap_or(buf);
        let from = self.scanned.min(window.len());
        match memchr(b'\n', window.get(from..).unwrap_or_default()) {
            Some(at) => {
                let lf = from + at;
                self.scanned = 0;
                let len = match lf.checked_sub(1) {
                    Some(cr) if window.get(cr) == Some(&b'\r') => cr,
                    _ => lf,
                };
                Ok(Some(Line {
                    len,
                    consumed: lf + 1,
                }))
            }
            None if window.len() >= max_line => Err(ProtoError::MaxControlLine {
                limit: self.limits.max_control_line,
            }),
            None if !could_begin_op(window, op_names) => Err(ProtoError::UnknownOp),
            None => {
                self.scanned = window.len();
                Ok(None)
            }
        }
    }

    /// Keeps `head` until its payload has arrived.
    pub fn set_pending(&mut self, head: MsgHead) {
        self.pending = Some(head);
    }

    /// The message whose payload is awaited.
    pub fn pending(&self) -> Option<&MsgHead> {
        self.pending.as_ref()
    }

    /// Stops waiting: the awaited message's control line, once its payload is ready.
    pub fn take_pending(&mut self) -> Option<MsgHead> {
        self.pending.take()
    }
}

/// True when `buf` holds `total` bytes and the CRLF after them. Whatever part of that CRLF has
/// arrived is checked at once, so a peer that lies about sizes is caught as early as nats-server
/// catches it.
#[inline]
pub(super) fn payload_ready(buf: &[u8], total: usize) -> Result<bool, ProtoError> {
    match (buf.get(total), buf.get(total + 1)) {
        (None, _) => Ok(false),
        (Some(b'\r'), None) => Ok(false),
        (Some(b'\r'), Some(b'\n')) => Ok(true),
        _ => Err(ProtoError::PayloadNotTerminated),
    }
}

/// Splits a message whose bytes [`MsgHead::ready`] found complete off the front of `buf`.
/// Returns the sid (empty for PUB/HPUB) and the message; the payload is not copied.
#[inline]
pub(super) fn split_message(
    buf: &mut BytesMut,
    head: MsgHead,
) -> Result<(String, Message), ProtoError> {
    let sid = name(buf, &head.sid)?.to_owned();
    let view = head.view(buf)?;
    let (subject, reply) = (view.subject.to_owned(), view.reply.map(str::to_owned));
    // Cannot panic: `ready` saw the line, total and 2 more bytes, and msg_head checked
    // hdr <= total.
    buf.advance(head.start);
    let mut payload = buf.split_to(head.total).freeze();
    buf.advance(2);
    let headers = head.hdr.map(|hdr| payload.split_to(hdr));
    let msg = Message {
        subject,
        reply,
        headers,
        payload,
    };
    Ok((sid, msg))
}

/// True when `partial` could be the start of a line beginning with one of `op_names`.
fn could_begin_op(partial: &[u8], op_names: &[&[u8]]) -> bool {
    op_names.iter().any(|name| {
        let n = partial.len().min(name.len());
        partial[..n].eq_ignore_ascii_case(&name[..n])
    })
}

/// How an operation name may be followed.
#[derive(Clone, Copy)]
pub(super) enum After {
    /// By at least one space or tab, then arguments (PUB, SUB, MSG, -ERR, …).
    Space,
    /// By anything: optional whitespace then JSON (CONNECT, INFO), or ignored bytes (PING, PONG,
    /// +OK), as nats-server reads them.
    Anything,
}

/// If `line` begins with `name` (any case) followed as `after` says, the rest of the line with
/// leading whitespace removed. Checks the control line limit on what follows the name.
#[inline]
pub(super) fn strip_op<'a>(
    line: &'a [u8],
    name: &[u8],
    after: After,
    limits: &Limits,
) -> Result<Option<&'a [u8]>, ProtoError> {
    let Some(rest) = line
        .get(..name.len())
        .filter(|head| head.eq_ignore_ascii_case(name))
        .and_then(|_| line.get(name.len()..))
    else {
        return Ok(None);
    };
    if let After::Space = after {
        if !matches!(rest.first(), Some(b' ' | b'\t')) {
            return Ok(None);
        }
    }
    // The first separator is free; nats-server measures the arguments after it.
    if rest.len() > limits.max_control_line.saturating_add(1) {
        return Err(ProtoError::MaxControlLine {
            limit: limits.max_control_line,
        });
    }
    let start = rest
        .iter()
        .position(|b| !is_space(*b))
        .unwrap_or(rest.len());
    Ok(rest.get(start..))
}

/// Splits arguments on runs of spaces and tabs. `None` when there are more than `N`.
#[inline]
pub(super) fn split_args<const N: usize>(args: &[u8]) -> Option<([&[u8]; N], usize)> {
    let mut out: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    let mut rest = args;
    loop {
        // Runs of separators are rare: skip them a byte at a time.
        let start = rest
            .iter()
            .position(|b| !is_space(*b))
            .unwrap_or(rest.len());
        rest = rest.get(start..).unwrap_or_default();
        if rest.is_empty() {
            return Some((out, count));
        }
        let (arg, tail) = rest.split_at(find_space(rest).unwrap_or(rest.len()));
        *out.get_mut(count)? = arg;
        count += 1;
        rest = tail;
    }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Position of the first space or tab. Subjects are tens of bytes, too short for memchr2's
/// vector setup to pay off and long enough that a byte loop shows: this looks at 8 bytes a step
/// (SWAR: a byte of `v ^ pattern` is zero where `v` holds the pattern byte).
#[inline]
fn find_space(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit set in the lowest zero byte of `v` (and maybe above it, never below).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let v = u64::from_le_bytes(word);
        let hits =
            zero_bytes(v ^ (ONES * u64::from(b' '))) | zero_bytes(v ^ (ONES * u64::from(b'\t')));
        if hits != 0 {
            return Some(base + (hits.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| is_space(*b))
        .map(|at| base + at)
}

/// A size as nats-server reads it: one to nine ASCII digits.
#[inline]
pub(super) fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// An argument as an owned string.
#[inline]
pub(super) fn text(arg: &[u8]) -> Result<String, ProtoError> {
    std::str::from_utf8(arg)
        .map(str::to_owned)
        .map_err(|_| ProtoError::NotUtf8)
}

/// Reads the arguments of a message operation: `subject [sid] [reply] [hdr] total`, with the sid
/// present for MSG/HMSG and the header size for HPUB/HMSG. Checks sizes in nats-server's order.
/// `args` lies within `line`; the head's names are places in `line`, and its `start` is left for
/// the caller, who knows where the line ends.
#[inline]
pub(super) fn msg_head(
    op: &'static str,
    line: &[u8],
    args: &[u8],
    with_sid: bool,
    with_hdr: bool,
    limits: &Limits,
) -> Result<MsgHead, ProtoError> {
    let end = span_in(line, args).end;
    if !with_sid && !with_hdr {
        if let Some(PlainPub {
            subject,
            reply,
            total,
        }) = plain_pub_args(args)
        {
            if total > limits.max_payload {
                return Err(ProtoError::MaxPayload {
                    size: total,
                    limit: limits.max_payload,
                });
            }
            return Ok(MsgHead {
                subject: span_in(line, subject),
                reply: reply.map(|r| span_in(line, r)),
                sid: end..end,
                hdr: None,
                start: 0,
                total,
            });
        }
    }
    msg_head_in_full(op, line, args, with_sid, with_hdr, limits)
}

/// [`msg_head`] without the shortcut for plain PUBs.
pub(super) fn msg_head_in_full(
    op: &'static str,
    line: &[u8],
    args: &[u8],
    with_sid: bool,
    with_hdr: bool,
    limits: &Limits,
) -> Result<MsgHead, ProtoError> {
    let end = span_in(line, args).end;
    let (parts, count) = split_args::<5>(args).ok_or(ProtoError::BadArgs { op })?;
    let parts = &parts[..count];
    let sizes = 1 + usize::from(with_hdr);
    let fixed = 1 + usize::from(with_sid) + sizes;
    if count != fixed && count != fixed + 1 {
        return Err(ProtoError::BadArgs { op });
    }
    let (names, sizes) = parts.split_at(count - sizes);
    let (hdr, total) = match sizes {
        [hdr, total] => (Some(*hdr), *total),
        [total] => (None, *total),
        _ => return Err(ProtoError::BadArgs { op }),
    };
    let hdr = match hdr {
        Some(hdr) => Some(parse_size(hdr).ok_or(ProtoError::BadSize { op })?),
        None => None,
    };
    let total = parse_size(total).ok_or(ProtoError::BadSize { op })?;
    if let Some(hdr) = hdr {
        if hdr > total {
            return Err(ProtoError::HeaderTooLarge { hdr, total });
        }
    }
    if total > limits.max_payload {
        return Err(ProtoError::MaxPayload {
            size: total,
            limit: limits.max_payload,
        });
    }
    let (subject, sid, reply) = match (with_sid, names) {
        (false, [subject]) => (subject, None, None),
        (false, [subject, reply]) => (subject, None, Some(reply)),
        (true, [subject, sid]) => (subject, Some(sid), None),
        (true, [subject, sid, reply]) => (subject, Some(sid), Some(reply)),
        _ => return Err(ProtoError::BadArgs { op }),
    };
    Ok(MsgHead {
        subject: span_in(line, subject),
        reply: reply.map(|r| span_in(line, r)),
        sid: sid.map_or(end..end, |s| span_in(line, s)),
        hdr,
        start: 0,
        total,
    })
}

/// The arguments of a PUB as clients write them: see [`plain_pub_args`].
struct PlainPub<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    total: usize,
}

/// Reads `subject [reply] size` with single spaces, as clients write a PUB, with two searches
/// instead of the general splitter (measured: raw-socket publishes of 16 B went 1.4x to 1.8x
/// nats-server's rate with it). `None` for anything else, which [`msg_head_in_full`] reads (and
/// judges).
#[inline]
fn plain_pub_args(args: &[u8]) -> Option<PlainPub<'_>> {
    let at = find_space(args)?;
    let (subject, rest) = (args.get(..at)?, args.get(at + 1..)?);
    let (reply, size) = match find_space(rest) {
        None => (None, rest),
        Some(at) => (Some(rest.get(..at)?), rest.get(at + 1..)?),
    };
    if subject.is_empty() || reply.is_some_and(<[u8]>::is_empty) || find_space(size).is_some() {
        return None;
    }
    Some(PlainPub {
        subject,
        reply,
        total: parse_size(size)?,
    })
}

/// Where `part`, a slice of `line`, lies in it.
fn span_in(line: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
    start..start + part.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_on_runs_of_spaces_and_tabs() {
        let (args, n) = split_args::<3>(b" a \t b\t\tc ").expect("three fit");
        assert_eq!(&args[..n], &[b"a".as_slice(), b"b", b"c"]);
        assert!(split_args::<2>(b"a b c").is_none());
    }

    #[test]
    fn find_space_finds_the_first_separator_at_any_offset() {
        for len in 0..40 {
            for at in 0..len {
                for sep in [b' ', b'\t'] {
                    let mut s = vec![b'x'; len];
                    s[at] = sep;
                    // A later separator and high bytes must not confuse the word-wise search.
                    if at + 3 < len {
                        s[at + 3] = b' ';
                    }
                    if at > 0 {
                        s[at - 1] = 0xff;
                    }
                    assert_eq!(find_space(&s), Some(at), "len {len} at {at}");
                }
            }
            assert_eq!(find_space(&vec![b'x'; len]), None);
        }
    }

    #[test]
    fn sizes_are_one_to_nine_digits() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b"1000000000"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"1x"), None);
    }
}
