//! How the CLI's log lines show their fields: `name=value`, a value bare when it is one
//! word (ids, numbers, routes) and in double quotes, escaped, when it holds a space, a
//! quote or an `=` (reasons, causes). One rule for every field, whether the code logged it
//! as a string, with `%` (Display) or with `?` (Debug), so a line reads the same whoever
//! wrote it and splits unambiguously into fields. The Lambda functions log JSON instead.

use std::fmt::{self, Debug, Write};
use tracing::field::Field;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::field::delimited::Delimited;
use tracing_subscriber::fmt::format::{FieldFn, Writer, debug_fn};

type WriteField = fn(&mut Writer<'_>, &Field, &dyn Debug) -> fmt::Result;

/// The field formatter for `tracing_subscriber::fmt().fmt_fields(...)`.
pub fn fields() -> Delimited<&'static str, FieldFn<WriteField>> {
    debug_fn(write_field as WriteField).delimited(" ")
}

fn write_field(writer: &mut Writer<'_>, field: &Field, value: &dyn Debug) -> fmt::Result {
    if field.name() == "message" {
        return write!(writer, "{value:?}");
    }
    let shown = format!("{value:?}");
    write!(writer, "{}={}", field.name(), logfmt_value(&shown))
}

/// `shown` (a value's Debug text) as a log value: a Debug-quoted string is unquoted when
/// it is one word; anything else with a space, quote or `=` is quoted.
fn logfmt_value(shown: &str) -> String {
    let text = unquoted(shown).unwrap_or_else(|| shown.to_string());
    if !text.is_empty()
        && !text.contains([' ', '"', '=', '\\'])
        && !text.chars().any(char::is_control)
    {
        return text;
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    let _ = write!(quoted, "{text:?}");
    quoted
}

/// The string a Debug-quoted string stands for, or `None` when `shown` is not one.
fn unquoted(shown: &str) -> Option<String> {
    let inner = shown.strip_prefix('"')?.strip_suffix('"')?;
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next()? {
            '"' => text.push('"'),
            '\\' => text.push('\\'),
            '\'' => text.push('\''),
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            // \u{…} and \0: keep the string quoted as it was shown.
            _ => return None,
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_values_are_bare_and_others_quoted() {
        let cases = [
            // a &str field: tracing shows it with Debug, quoted
            (
                format!("{:?}", "0194f1d2-7c1e-7000-8000-000000000000"),
                "0194f1d2-7c1e-7000-8000-000000000000",
            ),
            (
                format!("{:?}", "/api/client/live/create"),
                "/api/client/live/create",
            ),
            (
                format!("{:?}", "conversation kept changing"),
                "\"conversation kept changing\"",
            ),
            (format!("{:?}", "say \"hi\""), "\"say \\\"hi\\\"\""),
            (format!("{:?}", ""), "\"\""),
            (format!("{:?}", "a\nb"), "\"a\\nb\""),
            // a Display field (%): its text as it is
            ("wrong token".to_string(), "\"wrong token\""),
            ("401".to_string(), "401"),
            ("true".to_string(), "true"),
            ("sqlite:supportzen.db".to_string(), "sqlite:supportzen.db"),
        ];
        for (shown, expected) in cases {
            assert_eq!(logfmt_value(&shown), expected, "{shown}");
        }
    }
}
