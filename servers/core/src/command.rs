//! Parsing one `chat/1` line into a typed [`Command`], borrowing from the line.
//!
//! Only the syntactic errors are decided here, in the contract's order: `bad-args`, then `bad-name`,
//! then `bad-text`. State errors (`nick-taken`, `not-in-room`, `too-many-rooms`) belong to the state
//! machine. An unknown command word is `unknown-command` whatever its arguments.

use crate::code::ErrorCode;

/// The longest name (nick or room), in bytes.
pub const MAX_NAME: usize = 32;

/// A parsed command. Names are validated; texts are verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `NICK <nick>`.
    Nick(&'a str),
    /// `JOIN <room>`.
    Join(&'a str),
    /// `LEAVE <room>`.
    Leave(&'a str),
    /// `MSG <room> <text>`.
    Msg {
        /// The target room.
        room: &'a str,
        /// The text, verbatim (at least one byte, no control characters but TAB).
        text: &'a str,
    },
    /// `ROOMS`.
    Rooms,
    /// `WHO <room>`.
    Who(&'a str),
    /// `PING` (`None`) or `PING <token>` (the rest of the line verbatim, possibly empty).
    Ping(Option<&'a str>),
    /// `QUIT`.
    Quit,
}

/// Parses one line (terminator already removed).
pub fn parse(line: &str) -> Result<Command<'_>, ErrorCode> {
    let (word, rest) = match line.split_once(' ') {
        Some((word, rest)) => (word, Some(rest)),
        None => (line, None),
    };
    let is = |name: &str| word.eq_ignore_ascii_case(name);
    if is("MSG") {
        let (room, text) = rest
            .and_then(|rest| rest.split_once(' '))
            .ok_or(ErrorCode::BadArgs)?;
        if room.is_empty() || text.is_empty() {
            return Err(ErrorCode::BadArgs);
        }
        check_name(room)?;
        check_text(text)?;
        Ok(Command::Msg { room, text })
    } else if is("PING") {
        Ok(Command::Ping(rest))
    } else if is("NICK") {
        one_name(rest).map(Command::Nick)
    } else if is("JOIN") {
        one_name(rest).map(Command::Join)
    } else if is("LEAVE") {
        one_name(rest).map(Command::Leave)
    } else if is("WHO") {
        one_name(rest).map(Command::Who)
    } else if is("ROOMS") {
        no_args(rest).map(|()| Command::Rooms)
    } else if is("QUIT") {
        no_args(rest).map(|()| Command::Quit)
    } else {
        Err(ErrorCode::UnknownCommand)
    }
}

fn no_args(rest: Option<&str>) -> Result<(), ErrorCode> {
    match rest {
        None => Ok(()),
        Some(_) => Err(ErrorCode::BadArgs),
    }
}

fn one_name(rest: Option<&str>) -> Result<&str, ErrorCode> {
    match rest {
        Some(arg) if !arg.is_empty() && !arg.contains(' ') => check_name(arg).map(|()| arg),
        _ => Err(ErrorCode::BadArgs),
    }
}

/// Whether `name` is a valid nick or room: 1 to 32 bytes of `A-Z a-z 0-9 _ - .`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn check_name(name: &str) -> Result<(), ErrorCode> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ErrorCode::BadName)
    }
}

/// Whether `text` is acceptable MSG text: no U+0000–U+001F except TAB, no U+007F. Everything else,
/// including U+0080–U+009F, is allowed (unlike `char::is_control`). Emptiness is checked elsewhere.
pub fn is_valid_text(text: &str) -> bool {
    // UTF-8 continuation and lead bytes are all >= 0x80, so a byte scan is exact.
    !text.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

fn check_text(text: &str) -> Result<(), ErrorCode> {
    if is_valid_text(text) {
        Ok(())
    } else {
        Err(ErrorCode::BadText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorCode::*;

    fn p(s: &str) -> Result<Command<'_>, ErrorCode> {
        parse(s)
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(p("NICK bob"), Ok(Command::Nick("bob")));
        assert_eq!(p("JOIN r"), Ok(Command::Join("r")));
        assert_eq!(p("LEAVE r"), Ok(Command::Leave("r")));
        assert_eq!(
            p("MSG r hello world"),
            Ok(Command::Msg {
                room: "r",
                text: "hello world"
            })
        );
        assert_eq!(p("ROOMS"), Ok(Command::Rooms));
        assert_eq!(p("WHO r"), Ok(Command::Who("r")));
        assert_eq!(p("PING"), Ok(Command::Ping(None)));
        assert_eq!(p("QUIT"), Ok(Command::Quit));
    }

    #[test]
    fn command_word_is_case_insensitive() {
        assert_eq!(p("nick bob"), Ok(Command::Nick("bob")));
        assert_eq!(p("JoIn r"), Ok(Command::Join("r")));
        assert_eq!(p("rooms"), Ok(Command::Rooms));
        assert_eq!(p("quit"), Ok(Command::Quit));
        assert_eq!(p("Ping x"), Ok(Command::Ping(Some("x"))));
        assert_eq!(
            p("msg r t"),
            Ok(Command::Msg {
                room: "r",
                text: "t"
            })
        );
    }

    #[test]
    fn names_are_case_sensitive_and_verbatim() {
        assert_eq!(p("NICK Bob"), Ok(Command::Nick("Bob")));
    }

    #[test]
    fn unknown_commands() {
        assert_eq!(p("HELLO"), Err(UnknownCommand));
        assert_eq!(p("NICKS bob"), Err(UnknownCommand));
        assert_eq!(p(" NICK bob"), Err(UnknownCommand));
        assert_eq!(p("NICK\tbob"), Err(UnknownCommand));
        assert_eq!(p("FOO a  b "), Err(UnknownCommand));
    }

    #[test]
    fn bad_args() {
        for line in [
            "NICK", "NICK ", "NICK a b", "NICK  a", "NICK a ", "JOIN", "JOIN ", "LEAVE", "WHO",
            "WHO a b", "ROOMS ", "ROOMS x", "QUIT ", "QUIT now", "MSG", "MSG ", "MSG r", "MSG r ",
            "MSG  r x",
        ] {
            assert_eq!(p(line), Err(BadArgs), "{line:?}");
        }
    }

    #[test]
    fn bad_names() {
        let long = "a".repeat(33);
        for arg in ["a!", "é", "a\tb", long.as_str(), "a/b", "\u{0}"] {
            assert_eq!(parse(&format!("NICK {arg}")), Err(BadName), "{arg:?}");
            assert_eq!(parse(&format!("JOIN {arg}")), Err(BadName));
            assert_eq!(parse(&format!("LEAVE {arg}")), Err(BadName));
            assert_eq!(parse(&format!("WHO {arg}")), Err(BadName));
            assert_eq!(parse(&format!("MSG {arg} hi")), Err(BadName));
        }
        let max = "Az09_-.".repeat(5)[..32].to_owned();
        assert_eq!(parse(&format!("NICK {max}")), Ok(Command::Nick(&max)));
    }

    #[test]
    fn msg_text_is_verbatim() {
        for text in [
            " ",
            "  two  spaces ",
            "tab\there",
            "\u{80}\u{9f}",
            "é ☃",
            "a:b",
        ] {
            assert_eq!(
                parse(&format!("MSG r {text}")),
                Ok(Command::Msg { room: "r", text }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn control_characters_are_bad_text() {
        for c in (0u8..0x20).filter(|&c| c != b'\t').chain([0x7f]) {
            let line = format!("MSG r a{}b", c as char);
            assert_eq!(parse(&line), Err(BadText), "{c:#x}");
        }
    }

    #[test]
    fn precedence_is_args_then_name_then_text() {
        assert_eq!(p("MSG bad! x\u{1}"), Err(BadName));
        assert_eq!(p("MSG bad! "), Err(BadArgs));
        assert_eq!(p("NICK bad! extra"), Err(BadArgs));
        assert_eq!(p("MSG ok \u{7f}"), Err(BadText));
    }

    #[test]
    fn ping_token_is_the_rest_verbatim() {
        assert_eq!(p("PING "), Ok(Command::Ping(Some(""))));
        assert_eq!(p("PING a  b "), Ok(Command::Ping(Some("a  b "))));
        assert_eq!(p("PING\ta"), Err(UnknownCommand));
    }
}
