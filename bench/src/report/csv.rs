//! The one CSV writer: fields quoted as RFC 4180 asks (only when they hold a
//! comma, a quote or a line break), rows ended by a line feed.

use std::borrow::Cow;

/// One field, quoted if it needs to be.
pub fn field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// One row, line feed included.
pub fn row<I, S>(fields: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f.as_ref()));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(
            row(["a", "b c", "x,y", "say \"hi\""]),
            "a,b c,\"x,y\",\"say \"\"hi\"\"\"\n"
        );
        assert_eq!(row(Vec::<String>::new()), "\n");
    }
}
