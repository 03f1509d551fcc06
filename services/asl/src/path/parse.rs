//! JSONPath text → `Path`: a recursive-descent parser with bounded depth, whose error
//! messages name the position and what was expected.

use super::{Body, Expr, Func, Op, Operand, Path, PathError, Root, Step, SubPath, MAX_DEPTH};
use serde_json::{Number, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A whole path: dot names run to the next `.`, `[` or `(`.
    Top,
    /// A path embedded in other syntax: names also stop at operators, `,`, `)`, whitespace.
    Embedded,
}

pub(super) struct Parser<'s> {
    /// The (trimmed) text being parsed; positions index into it.
    pub(super) text: &'s str,
    /// As the caller wrote it, for error messages.
    pub(super) original: &'s str,
    pub(super) pos: usize,
}

impl<'s> Parser<'s> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + offset).copied()
    }

    pub(super) fn current_char(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    pub(super) fn error(&self, reason: impl Into<String>) -> PathError {
        PathError {
            text: self.original.to_string(),
            reason: reason.into(),
        }
    }

    pub(super) fn unexpected(&self, context: &str) -> PathError {
        match self.current_char() {
            None => self.error(format!("unexpected end of path {context}")),
            Some(']') => self.error(format!(
                "unbalanced bracket: unexpected ']' at position {} {context}",
                self.pos
            )),
            Some(c) => self.error(format!(
                "unexpected character '{c}' at position {} {context}",
                self.pos
            )),
        }
    }

    pub(super) fn unclosed(&self, open: usize) -> PathError {
        self.error(format!(
            "unbalanced bracket: '[' at position {open} is never closed"
        ))
    }

    pub(super) fn parse_path(&mut self, mode: Mode) -> Result<Path, PathError> {
        if self.peek() != Some(b'$') {
            return Err(self.error("a path must start with '$'"));
        }
        self.pos += 1;
        let root = match self.peek() {
            Some(b'$') => {
                self.pos += 1;
                Root::Context
            }
            Some(b) if b == b'_' || b.is_ascii_alphabetic() || b >= 0x80 => {
                let start = self.pos;
                while let Some(c) = self.current_char() {
                    if c == '_' || c.is_alphanumeric() {
                        self.pos += c.len_utf8();
                    } else {
                        break;
                    }
                }
                let name = &self.text[start..self.pos];
                if !name.starts_with(|c: char| c == '_' || c.is_alphabetic()) {
                    return Err(self.error(format!("invalid variable name after '$' at {start}")));
                }
                Root::Variable(name.to_string())
            }
            _ => Root::Input,
        };
        let body = self.parse_body(mode, 0)?;
        let definite = body.prefix_definite;
        let chain = body.func.is_none()
            && body
                .steps
                .iter()
                .all(|s| matches!(s, Step::Field(_) | Step::Index(_)));
        Ok(Path {
            text: self.original.to_string(),
            root,
            body,
            definite,
            chain,
        })
    }

    /// Steps up to the end, or (embedded) up to the first character that cannot continue
    /// a path.
    pub(super) fn parse_body(&mut self, mode: Mode, depth: usize) -> Result<Body, PathError> {
        let mut steps = Vec::new();
        let mut func = None;
        loop {
            let start = self.pos;
            match self.peek() {
                None => break,
                Some(b'.') if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    let inner = match self.peek() {
                        None => return Err(self.error("a path must not end with '..'")),
                        Some(b'.') => return Err(self.unexpected("after '..'")),
                        Some(b'[') => self.parse_bracket(depth)?,
                        _ => {
                            let name = self.read_name(mode)?;
                            if name.is_empty() {
                                return Err(self.error(format!("empty name after '..' at {start}")));
                            }
                            if self.peek() == Some(b'(') {
                                return Err(self.error("a function cannot follow '..'"));
                            }
                            if name == "*" {
                                Step::Wildcard
                            } else {
                                Step::Field(name.to_string())
                            }
                        }
                    };
                    steps.push(Step::Scan(Box::new(inner)));
                }
                Some(b'.') => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(self.error("a path must not end with '.'")),
                        // Jayway accepts `$.['a']` as `$['a']`.
                        Some(b'[') => steps.push(self.parse_bracket(depth)?),
                        _ => {
                            let name = self.read_name(mode)?;
                            if name.is_empty() {
                                return Err(self.error(format!("empty name after '.' at {start}")));
                            }
                            if self.peek() == Some(b'(') {
                                func = Some(self.parse_function(name)?);
                                if matches!(self.peek(), Some(b'.' | b'[')) {
                                    return Err(
                                        self.error("a function must be the last step of a path")
                                    );
                                }
                                break;
                            }
                            steps.push(if name == "*" {
                                Step::Wildcard
                            } else {
                                Step::Field(name.to_string())
                            });
                        }
                    }
                }
                Some(b'[') => steps.push(self.parse_bracket(depth)?),
                Some(_) => match mode {
                    Mode::Embedded => break,
                    Mode::Top => return Err(self.unexpected("(expected '.' or '[')")),
                },
            }
        }
        let last = steps.len().saturating_sub(1);
        let prefix_definite = steps.iter().enumerate().all(|(i, s)| match s {
            Step::Field(_) | Step::Index(_) => true,
            // A leaf union is merged into one object, which Jayway counts as definite.
            Step::Fields(_) => i == last && func.is_none(),
            _ => false,
        });
        Ok(Body {
            steps,
            func,
            prefix_definite,
        })
    }

    /// A dot-notation name: permissive, as Jayway is, up to the next delimiter.
    pub(super) fn read_name(&mut self, mode: Mode) -> Result<&'s str, PathError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            let stop = match mode {
                Mode::Top => matches!(b, b'.' | b'[' | b'('),
                Mode::Embedded => {
                    matches!(
                        b,
                        b'.' | b'['
                            | b'('
                            | b')'
                            | b']'
                            | b','
                            | b'='
                            | b'!'
                            | b'<'
                            | b'>'
                            | b'&'
                            | b'|'
                    ) || b.is_ascii_whitespace()
                }
            };
            if stop {
                break;
            }
            // Jayway would take `]` into the name; a stray `]` is far likelier a typo.
            if b == b']' {
                return Err(self.unexpected("in a name"));
            }
            if b.is_ascii_whitespace() {
                return Err(self.error(format!(
                    "whitespace in a name at position {}; use bracket notation ['...']",
                    self.pos
                )));
            }
            self.pos += 1;
        }
        // Delimiters are ASCII, so both ends are char boundaries.
        Ok(&self.text[start..self.pos])
    }

    /// `name()` after a dot; only Jayway's argument-less functions are supported.
    pub(super) fn parse_function(&mut self, name: &str) -> Result<Func, PathError> {
        let func = Func::from_name(name)
            .ok_or_else(|| self.error(format!("unknown function '{name}()'")))?;
        self.pos += 1; // '('
        self.skip_ws();
        match self.peek() {
            Some(b')') => {
                self.pos += 1;
                Ok(func)
            }
            None => Err(self.error(format!("unbalanced parenthesis in '{name}('"))),
            Some(_) => Err(self.error(format!(
                "function arguments are not supported ('{name}()' takes none)"
            ))),
        }
    }

    pub(super) fn parse_bracket(&mut self, depth: usize) -> Result<Step, PathError> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        match self.peek() {
            None => Err(self.unclosed(open)),
            Some(b'?') => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() != Some(b'(') {
                    return Err(self.error(format!("expected '(' after '[?' at {open}")));
                }
                self.pos += 1;
                let expr = self.parse_or(depth + 1)?;
                self.skip_ws();
                match self.peek() {
                    Some(b')') => self.pos += 1,
                    None => return Err(self.error("unbalanced parenthesis in filter")),
                    Some(_) => return Err(self.unexpected("in filter")),
                }
                self.close(open)?;
                Ok(Step::Filter(Box::new(expr)))
            }
            Some(b'*') => {
                self.pos += 1;
                self.close(open)?;
                Ok(Step::Wildcard)
            }
            Some(b'\'' | b'"') => {
                let mut names = Vec::new();
                loop {
                    names.push(self.parse_string()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                            if !matches!(self.peek(), Some(b'\'' | b'"')) {
                                return Err(self.unexpected("(expected a quoted name after ',')"));
                            }
                        }
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        None => return Err(self.unclosed(open)),
                        Some(_) => return Err(self.unexpected("inside brackets")),
                    }
                }
                Ok(if names.len() == 1 {
                    Step::Field(names.remove(0))
                } else {
                    Step::Fields(names)
                })
            }
            Some(b'-' | b'0'..=b'9' | b':') => self.parse_indexes(open),
            Some(_) => Err(self.unexpected("after '['")),
        }
    }

    pub(super) fn close(&mut self, open: usize) -> Result<(), PathError> {
        self.skip_ws();
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(())
            }
            None => Err(self.unclosed(open)),
            Some(_) => Err(self.unexpected("inside brackets")),
        }
    }

    /// `[n]`, `[n,m]`, `[a:b]`, `[a:]`, `[:b]`.
    pub(super) fn parse_indexes(&mut self, open: usize) -> Result<Step, PathError> {
        let first = if self.peek() == Some(b':') {
            None
        } else {
            Some(self.parse_int()?)
        };
        self.skip_ws();
        match (self.peek(), first) {
            (Some(b':'), _) => {
                self.pos += 1;
                self.skip_ws();
                let end = if matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
                    Some(self.parse_int()?)
                } else {
                    None
                };
                self.skip_ws();
                if self.peek() == Some(b':') {
                    return Err(self.error("slice steps ('[a:b:c]') are not supported"));
                }
                self.close(open)?;
                if first.is_none() && end.is_none() {
                    return Err(self.error("a slice needs a start or an end ('[:]')"));
                }
                Ok(Step::Slice(first, end))
            }
            (_, Some(first)) => {
                let mut indexes = vec![first];
                while self.peek() == Some(b',') {
                    self.pos += 1;
                    self.skip_ws();
                    indexes.push(self.parse_int()?);
                    self.skip_ws();
                }
                self.close(open)?;
                Ok(if indexes.len() == 1 {
                    Step::Index(first)
                } else {
                    Step::Indexes(indexes)
                })
            }
            (_, None) => Err(self.unexpected("inside brackets")),
        }
    }

    pub(super) fn parse_int(&mut self) -> Result<i64, PathError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(self.unexpected("(expected a number)"));
        }
        self.text[start..self.pos]
            .parse()
            .map_err(|_| self.error(format!("index out of range at position {start}")))
    }

    /// A single- or double-quoted string. As in Jayway, a backslash only escapes the quote
    /// itself; any other backslash stays in the name (conformance:
    /// `test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]`: `$['Test\""Name"']`).
    pub(super) fn parse_string(&mut self) -> Result<String, PathError> {
        let start = self.pos;
        let quote = self.text.as_bytes()[start] as char;
        let mut out = String::new();
        let mut chars = self.text[start + 1..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if chars.peek().is_some_and(|&(_, next)| next == quote) => {
                    chars.next();
                    out.push(quote);
                }
                c if c == quote => {
                    self.pos = start + 1 + i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(self.error(format!("unterminated string starting at position {start}")))
    }

    pub(super) fn check_depth(&self, depth: usize) -> Result<(), PathError> {
        if depth > MAX_DEPTH {
            Err(self.error(format!("filter nested too deeply (limit {MAX_DEPTH})")))
        } else {
            Ok(())
        }
    }

    pub(super) fn parse_or(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        let mut terms = vec![self.parse_and(depth)?];
        loop {
            self.skip_ws();
            if self.text[self.pos..].starts_with("||") {
                self.pos += 2;
                terms.push(self.parse_and(depth)?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    pub(super) fn parse_and(&mut self, depth: usize) -> Result<Expr, PathError> {
        let mut terms = vec![self.parse_unary(depth)?];
        loop {
            self.skip_ws();
            if self.text[self.pos..].starts_with("&&") {
                self.pos += 2;
                terms.push(self.parse_unary(depth)?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    pub(super) fn parse_unary(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.parse_unary(depth + 1)?)))
            }
            Some(b'(') => {
                self.pos += 1;
                let expr = self.parse_or(depth + 1)?;
                self.skip_ws();
                match self.peek() {
                    Some(b')') => {
                        self.pos += 1;
                        Ok(expr)
                    }
                    None => Err(self.error("unbalanced parenthesis in filter")),
                    Some(_) => Err(self.unexpected("in filter")),
                }
            }
            _ => self.parse_comparison(depth),
        }
    }

    pub(super) fn parse_comparison(&mut self, depth: usize) -> Result<Expr, PathError> {
        let left = self.parse_operand(depth)?;
        self.skip_ws();
        let rest = &self.text[self.pos..];
        let (op, len) = if rest.starts_with("==") {
            (Op::Eq, 2)
        } else if rest.starts_with("!=") {
            (Op::Ne, 2)
        } else if rest.starts_with("<=") {
            (Op::Le, 2)
        } else if rest.starts_with(">=") {
            (Op::Ge, 2)
        } else if rest.starts_with('<') {
            (Op::Lt, 1)
        } else if rest.starts_with('>') {
            (Op::Gt, 1)
        } else if rest.starts_with("=~") {
            return Err(self.error("regular expressions ('=~') are not supported in filters"));
        } else if rest.starts_with('=') {
            return Err(self.error(format!("use '==' for equality (position {})", self.pos)));
        } else if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            return Err(self.error(format!("unsupported filter operator '{word}'")));
        } else {
            return match left {
                Operand::Path(path) => Ok(Expr::Exists(path)),
                Operand::Literal(_) => Err(self.unexpected("(expected a comparison operator)")),
            };
        };
        self.pos += len;
        let right = self.parse_operand(depth)?;
        Ok(Expr::Compare(left, op, right))
    }

    pub(super) fn parse_operand(&mut self, depth: usize) -> Result<Operand, PathError> {
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.pos += 1;
                let body = self.parse_body(Mode::Embedded, depth + 1)?;
                Ok(Operand::Path(SubPath {
                    from_document: false,
                    body,
                }))
            }
            Some(b'$') => {
                self.pos += 1;
                if self
                    .peek()
                    .is_some_and(|b| b == b'$' || b == b'_' || b.is_ascii_alphanumeric())
                {
                    return Err(self.error("only '@' and '$' paths may appear in a filter"));
                }
                let body = self.parse_body(Mode::Embedded, depth + 1)?;
                Ok(Operand::Path(SubPath {
                    from_document: true,
                    body,
                }))
            }
            Some(b'\'' | b'"') => Ok(Operand::Literal(Value::String(self.parse_string()?))),
            Some(b'-' | b'0'..=b'9') => self.parse_number().map(Operand::Literal),
            Some(b) if b.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" => Ok(Operand::Literal(Value::Null)),
                    word => Err(self.error(format!("unexpected '{word}' in filter at {start}"))),
                }
            }
            None => Err(self.error("unbalanced parenthesis: filter is never closed")),
            Some(_) => Err(self.unexpected("in filter (expected a value or '@')")),
        }
    }

    pub(super) fn parse_number(&mut self) -> Result<Value, PathError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let mut float = false;
        if bytes.get(end) == Some(&b'.') {
            float = true;
            end += 1;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            float = true;
            end += 1;
            if matches!(bytes.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        let literal = &self.text[start..end];
        self.pos = end;
        let bad = || self.error(format!("invalid number '{literal}' at position {start}"));
        if !float {
            if let Ok(n) = literal.parse::<i64>() {
                return Ok(Value::from(n));
            }
        }
        literal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad)
    }
}
