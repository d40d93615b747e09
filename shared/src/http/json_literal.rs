//! JSON written straight into a JSON string literal, in one pass.
//!
//! API Gateway's HTTP API takes a function's answer as JSON whose `body` is a string: the
//! answer's own JSON, escaped. Written the usual way, a page of fifty messages is
//! serialized once and then scanned and escaped a second time by the runtime, about half
//! of what the message pages spent beyond their store calls (docs/performance.md, "One
//! pass for an answer's JSON"). [`LiteralFormatter`] writes the JSON already escaped:
//! every quote it writes is `\"`, and every escape inside its strings is escaped again.

use serde_json::ser::{CharEscape, Formatter};
use std::io::{self, Write};

/// A `serde_json` formatter whose output, between two quotes, is a JSON string holding
/// what `serde_json`'s compact formatter would have written.
///
/// Only quotes and escapes need it: the text `serde_json` writes between them (string
/// fragments it found nothing to escape in, numbers, punctuation) has no quote, backslash
/// or control character, so it is the same inside a string literal.
pub struct LiteralFormatter;

impl Formatter for LiteralFormatter {
    fn begin_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(br#"\""#)
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(br#"\""#)
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // The compact formatter's escape, with its backslash escaped and, for a quote
        // or a backslash, the character too.
        let escaped: &[u8] = match escape {
            CharEscape::Quote => br#"\\\""#,
            CharEscape::ReverseSolidus => br"\\\\",
            CharEscape::Solidus => br"\\/",
            CharEscape::Backspace => br"\\b",
            CharEscape::FormFeed => br"\\f",
            CharEscape::LineFeed => br"\\n",
            CharEscape::CarriageReturn => br"\\r",
            CharEscape::Tab => br"\\t",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = [
                    b'\\',
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                return writer.write_all(&code);
            }
        };
        writer.write_all(escaped)
    }

    /// Raw JSON (a `RawValue`) is not scanned as it is written, so it is escaped here.
    fn write_raw_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let escaped = serde_json::to_string(fragment).map_err(io::Error::other)?;
        writer.write_all(&escaped.as_bytes()[1..escaped.len() - 1])
    }
}

/// `value`'s JSON as a JSON string literal, quotes included: what
/// `serde_json::to_string(&serde_json::to_string(value)?)` gives, written in one pass.
pub fn to_literal<T: serde::Serialize + ?Sized>(
    value: &T,
    mut buffer: Vec<u8>,
) -> serde_json::Result<Vec<u8>> {
    buffer.push(b'"');
    let mut serializer = serde_json::Serializer::with_formatter(buffer, LiteralFormatter);
    value.serialize(&mut serializer)?;
    let mut written = serializer.into_inner();
    written.push(b'"');
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Every escape `serde_json` writes, and text around it that needs none.
    fn awkward() -> Value {
        let controls: String = (0u8..0x20).map(char::from).collect();
        json!({
            "quote \" and backslash \\": "say \"hi\" to C:\\temp\\",
            "controls": controls,
            "named": "\u{8}\u{c}\n\r\t",
            "unicode": "naïve café ✓ 😀 \u{7f}",
            "markup": "</script><b>&amp;</b>",
            "numbers": [0, -1, 1.5, 1e300, u64::MAX, i64::MIN],
            "nested": {"empty": "", "list": [null, true, false, {}, []]},
        })
    }

    #[test]
    fn a_literal_is_the_compact_json_escaped_into_a_string() {
        let value = awkward();
        let literal = to_literal(&value, Vec::new()).unwrap();
        let twice = serde_json::to_vec(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(literal).unwrap(),
            String::from_utf8(twice).unwrap()
        );
    }

    #[test]
    fn a_literal_read_back_is_the_value() {
        let value = awkward();
        let literal = to_literal(&value, Vec::new()).unwrap();
        let text: String = serde_json::from_slice(&literal).unwrap();
        let read: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(read, value);
    }

    #[test]
    fn raw_json_inside_is_escaped_too() {
        #[derive(serde::Serialize)]
        struct Holder {
            raw: Box<serde_json::value::RawValue>,
        }
        let raw = serde_json::value::RawValue::from_string(r#"{"a":"b\"c"}"#.into()).unwrap();
        let literal = to_literal(&Holder { raw }, Vec::new()).unwrap();
        let text: String = serde_json::from_slice(&literal).unwrap();
        assert_eq!(text, r#"{"raw":{"a":"b\"c"}}"#);
    }
}
