//! Call text → `Call`: `States.Name(arg, …)` with literal, path and nested-call arguments,
//! arity and `States.Format` placeholders checked at parse time.

use super::{function, Arg, Call, ParseError, MAX_NESTING};
use crate::path::Path;
use serde_json::Value;

pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    /// Byte offset of the next unread character.
    pub(super) pos: usize,
}

impl Parser<'_> {
    pub(super) fn error(&self, what: &str) -> ParseError {
        ParseError {
            message: format!(
                "invalid intrinsic function '{}': {} at offset {}",
                self.text, what, self.pos
            ),
        }
    }

    pub(super) fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Whitespace between tokens, as LocalStack's grammar skips it: space, tab, newline.
    pub(super) fn skip_ws(&mut self) {
        while let Some(c @ (' ' | '\t' | '\n' | '\r')) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `States.Name(arg, …)` at nesting level `depth` (1 for the outermost call).
    pub(super) fn call(&mut self, depth: usize) -> Result<Call, ParseError> {
        if depth > MAX_NESTING {
            return Err(self.error(&format!(
                "intrinsic functions nest deeper than {MAX_NESTING} levels"
            )));
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        let name = &self.text[start..self.pos];
        let Some(function) = function(name) else {
            return Err(ParseError {
                message: format!("unknown intrinsic function '{name}'"),
            });
        };
        self.skip_ws();
        if !self.eat('(') {
            return Err(self.error(&format!("expected '(' after {name}")));
        }
        let mut args = Vec::new();
        let mut template = None;
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                if args.is_empty() && name == "States.Format" && self.peek() == Some('\'') {
                    let (text, pieces) = self.string()?;
                    template = Some(pieces);
                    args.push(Arg::Literal(Value::String(text)));
                } else {
                    args.push(self.arg(depth)?);
                }
                self.skip_ws();
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(
                        self.error(&format!("expected ',' or ')' in the arguments of {name}"))
                    );
                }
            }
        }
        let count = args.len();
        let fits = count >= function.min_args && function.max_args.is_none_or(|max| count <= max);
        if !fits {
            let expected = match function.max_args {
                Some(max) if max == function.min_args => format!("{max}"),
                Some(max) => format!("{} to {}", function.min_args, max),
                None => format!("at least {}", function.min_args),
            };
            return Err(ParseError {
                message: format!("{name} takes {expected} argument(s), but was given {count}"),
            });
        }
        if name == "States.Format" {
            check_format(&args, template.as_deref())?;
        }
        Ok(Call {
            function,
            args,
            template,
        })
    }

    pub(super) fn arg(&mut self, depth: usize) -> Result<Arg, ParseError> {
        match self.peek() {
            Some('\'') => Ok(Arg::Literal(Value::String(self.string()?.0))),
            Some('$') => Ok(Arg::Path(Path::parse(self.path_text()?)?)),
            Some(c) if c == '-' || c.is_ascii_digit() => Ok(Arg::Literal(self.number()?)),
            Some(_) if self.rest().starts_with("States.") => Ok(Arg::Call(self.call(depth + 1)?)),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if let Some(after) = self.rest().strip_prefix(word) {
                        if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                            self.pos += word.len();
                            return Ok(Arg::Literal(value));
                        }
                    }
                }
                Err(self
                    .error("expected a string, number, boolean, null, path or intrinsic function"))
            }
            None => Err(self.error("unexpected end of text")),
        }
    }

    /// A single-quoted literal. Returns the unescaped text and, for `States.Format`, the same
    /// text split at unescaped `{}` placeholders. AWS reserves `'`, `{`, `}` and `\`, escaped
    /// as `\'`, `\{`, `\}`, `\\`; any other backslash is "an open escape backslash" and an
    /// error (the AWS page, "Reserved characters in intrinsic functions").
    pub(super) fn string(&mut self) -> Result<(String, Vec<String>), ParseError> {
        self.pos += 1; // the opening quote
        let mut text = String::new();
        let mut pieces = vec![String::new()];
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok((text, pieces)),
                '\\' => match self.peek() {
                    Some(e @ ('\'' | '{' | '}' | '\\')) => {
                        self.pos += 1;
                        text.push(e);
                        pieces.last_mut().expect("never empty").push(e);
                    }
                    _ => return Err(self.error("open escape backslash in string literal")),
                },
                '{' if self.peek() == Some('}') => {
                    self.pos += 1;
                    text.push_str("{}");
                    pieces.push(String::new());
                }
                c => {
                    text.push(c);
                    pieces.last_mut().expect("never empty").push(c);
                }
            }
        }
    }

    /// A JSON number: `-?int(.frac)?(e[+-]?int)?`, integral ones kept as integers.
    pub(super) fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        while end < bytes.len()
            && matches!(bytes[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
            end += 1;
        }
        let token = &self.text[start..end];
        match serde_json::from_str::<Value>(token) {
            Ok(value @ Value::Number(_)) => {
                self.pos = end;
                Ok(value)
            }
            _ => Err(self.error(&format!("invalid number '{token}'"))),
        }
    }

    /// The text of a path argument: it runs to the first `,` or `)` outside brackets,
    /// parentheses and quotes (so `$['a,b']` and filters such as `$[?(@.a)]` stay whole).
    pub(super) fn path_text(&mut self) -> Result<&str, ParseError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut chars = self.rest().char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if let Some(q) = quote {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ',' | ')' if depth == 0 => {
                    end = Some(start + i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(self.error("path argument runs to the end of the text"));
        };
        self.pos = end;
        Ok(self.text[start..end].trim_end())
    }
}

/// For `States.Format`: a literal template must be a string whose placeholders match the
/// remaining arguments; AWS validates this with the definition, so we do it now.
pub(super) fn check_format(args: &[Arg], template: Option<&[String]>) -> Result<(), ParseError> {
    if let Some(Arg::Literal(first)) = args.first() {
        if !first.is_string() {
            return Err(ParseError {
                message: "States.Format: the first argument must be a string".into(),
            });
        }
    }
    if let Some(pieces) = template {
        let placeholders = pieces.len() - 1;
        if placeholders != args.len() - 1 {
            return Err(ParseError {
                message: format!(
                    "States.Format: the template has {placeholders} placeholder(s) but {} value argument(s) follow",
                    args.len() - 1
                ),
            });
        }
    }
    Ok(())
}
