//! From text to [`Program`]: the pest grammar (`skel.pest`), then the syntax tree built from its
//! pairs with the checks the grammar cannot make: variables defined before use and once per
//! command, ordering comparisons against numbers only, numbers and times in range.

use std::collections::BTreeSet;

use pest::iterators::Pair;
use pest::Parser as _;
use serde_json::Value;

use crate::ast::{Action, CmpOp, Command, Operand, Path, Pos, Program, Step, Test, TimeRef};
use crate::error::ParseError;

#[derive(pest_derive::Parser)]
#[grammar = "skel.pest"]
struct Grammar;

impl Program {
    /// Parses a program, or says where it goes wrong and what was expected there.
    pub fn parse(text: &str) -> Result<Program, ParseError> {
        // The literal tokens a failed parse expected ("`;`") rather than only the rules.
        pest::set_error_detail(true);
        let mut pairs = Grammar::parse(Rule::program, text).map_err(|e| syntax_error(text, &e))?;
        let program = pairs.next().map(|p| p.into_inner()).into_iter().flatten();
        let mut commands = Vec::new();
        for pair in program {
            match pair.as_rule() {
                Rule::modify | Rule::delete | Rule::remove => commands.push(command(pair)?),
                _ => {}
            }
        }
        Ok(Program { commands })
    }
}

fn pos(pair: &Pair<'_, Rule>) -> Pos {
    let (line, column) = pair.line_col();
    Pos { line, column }
}

fn error(pair: &Pair<'_, Rule>, message: impl Into<String>) -> ParseError {
    ParseError { pos: pos(pair), message: message.into() }
}

/// The variables a command has defined so far: a selector's tests run in order, so a variable is
/// used after the test that binds it.
#[derive(Default)]
struct Scope {
    defined: BTreeSet<String>,
}

impl Scope {
    fn check(&self, path: &Path) -> Result<(), ParseError> {
        match &path.var {
            Some(var) if !self.defined.contains(var) => Err(ParseError {
                pos: path.pos,
                message: format!("the variable ${var} is not defined before this point (define it with `${var} := path | condition`)"),
            }),
            _ => Ok(()),
        }
    }
}

fn command(pair: Pair<'_, Rule>) -> Result<Command, ParseError> {
    let at = pos(&pair);
    let rule = pair.as_rule();
    let mut scope = Scope::default();
    let mut selector = Vec::new();
    let mut target = None;
    let mut value = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::selector => selector = tests(part, &mut scope)?,
            Rule::path if target.is_none() => {
                let p = path(part)?;
                scope.check(&p)?;
                target = Some(p);
            }
            Rule::assign => {}
            _ => value = Some(operand(part, &scope)?),
        }
    }
    let action = match (rule, target, value) {
        (Rule::modify, Some(target), Some(value)) => Action::Modify { target, value },
        (Rule::remove, Some(target), _) => Action::Remove { target },
        _ => Action::Delete,
    };
    Ok(Command { action, selector, pos: at })
}

fn tests(pair: Pair<'_, Rule>, scope: &mut Scope) -> Result<Vec<Test>, ParseError> {
    let mut out = Vec::new();
    for part in pair.into_inner() {
        if part.as_rule() != Rule::every {
            out.push(test(part, scope)?);
        }
    }
    Ok(out)
}

fn test(pair: Pair<'_, Rule>, scope: &mut Scope) -> Result<Test, ParseError> {
    let at = pos(&pair);
    let rule = pair.as_rule();
    let mut parts = pair.into_inner();
    let mut next = || parts.next();
    match rule {
        Rule::time_test => {
            let op = cmp_op(next());
            let time = next().ok_or_else(|| ParseError { pos: at, message: "a time is missing".into() })?;
            Ok(Test::Time { op, at: time_ref(time)?, pos: at })
        }
        Rule::exists | Rule::not_exists => {
            let p = path(next().ok_or_else(|| ParseError { pos: at, message: "a path is missing".into() })?)?;
            scope.check(&p)?;
            Ok(Test::Exists { path: p, negated: rule == Rule::not_exists, pos: at })
        }
        Rule::compare => {
            let left = path(next().ok_or_else(|| ParseError { pos: at, message: "a path is missing".into() })?)?;
            scope.check(&left)?;
            let op = cmp_op(next());
            let right = next().ok_or_else(|| ParseError { pos: at, message: "a value is missing".into() })?;
            let right_pair = right.clone();
            let right = operand(right, scope)?;
            if let (true, Operand::Value(v)) = (op.orders(), &right) {
                if !v.is_number() {
                    return Err(error(
                        &right_pair,
                        format!("`{}` compares numbers, and {v} is {}", op.symbol(), describe(v)),
                    ));
                }
            }
            Ok(Test::Compare { left, op, right, pos: at })
        }
        Rule::bind => {
            let var_pair = next().ok_or_else(|| ParseError { pos: at, message: "a variable is missing".into() })?;
            let var = var_pair.as_str().trim_start_matches('$').to_string();
            if scope.defined.contains(&var) {
                return Err(error(&var_pair, format!("the variable ${var} is already defined in this command")));
            }
            let p = path(next().ok_or_else(|| ParseError { pos: at, message: "a path is missing".into() })?)?;
            scope.check(&p)?;
            // The condition speaks of the variable being defined.
            scope.defined.insert(var.clone());
            let condition = match next() {
                Some(c) => Some(Box::new(test(c, scope)?)),
                None => None,
            };
            Ok(Test::Bind { var, path: p, condition, pos: at })
        }
        _ => Err(ParseError { pos: at, message: "a test was expected here".into() }),
    }
}

fn cmp_op(pair: Option<Pair<'_, Rule>>) -> CmpOp {
    match pair.as_ref().map(|p| p.as_str()) {
        Some("!=") => CmpOp::Ne,
        Some("<") => CmpOp::Lt,
        Some("<=") => CmpOp::Le,
        Some(">") => CmpOp::Gt,
        Some(">=") => CmpOp::Ge,
        _ => CmpOp::Eq,
    }
}

fn time_ref(pair: Pair<'_, Rule>) -> Result<TimeRef, ParseError> {
    let at = pair.clone();
    let mut parts = pair.into_inner();
    let digits = parts.next().map(|p| p.as_str()).unwrap_or_default();
    let n: i64 = digits.parse().map_err(|_| error(&at, format!("the time {digits} is out of range")))?;
    let Some(unit) = parts.next() else { return Ok(TimeRef::Absolute(n)) };
    let scale = match unit.as_str() {
        "h" => 3600,
        "m" => 60,
        _ => 1,
    };
    n.checked_mul(scale)
        .map(TimeRef::Relative)
        .ok_or_else(|| error(&at, format!("the time {} is out of range", at.as_str())))
}

fn operand(pair: Pair<'_, Rule>, scope: &Scope) -> Result<Operand, ParseError> {
    match pair.as_rule() {
        Rule::boolean => Ok(Operand::Value(Value::Bool(pair.as_str().eq_ignore_ascii_case("true")))),
        Rule::number => serde_json::from_str::<Value>(pair.as_str())
            .map(Operand::Value)
            .map_err(|_| error(&pair, format!("the number {} is out of range", pair.as_str()))),
        Rule::string_value => {
            let inner = pair.clone().into_inner().next().map(|s| s.as_str()).unwrap_or("\"\"");
            string(&pair, inner).map(|s| Operand::Value(Value::String(s)))
        }
        _ => {
            let p = path(pair)?;
            scope.check(&p)?;
            Ok(Operand::Path(p))
        }
    }
}

/// A quoted string, with JSON's escapes.
fn string(pair: &Pair<'_, Rule>, quoted: &str) -> Result<String, ParseError> {
    serde_json::from_str::<String>(quoted)
        .map_err(|e| error(pair, format!("the string {quoted} is not valid: {}", json_reason(&e))))
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json appends its own position in the string, which means nothing in the program.
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_string()
}

fn path(pair: Pair<'_, Rule>) -> Result<Path, ParseError> {
    let at = pos(&pair);
    let mut var = None;
    let mut steps = Vec::new();
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::variable => var = Some(part.as_str().trim_start_matches('$').to_string()),
            Rule::bare_key => steps.push(Step::Key(part.as_str().to_string())),
            Rule::string => steps.push(Step::Key(string(&part, part.as_str())?)),
            Rule::each => steps.push(Step::Each),
            Rule::index => {
                let digits = part.clone().into_inner().next().map(|d| d.as_str()).unwrap_or_default();
                let i = digits.parse().map_err(|_| error(&part, format!("the index {digits} is out of range")))?;
                steps.push(Step::Index(i));
            }
            _ => {}
        }
    }
    Ok(Path { var, steps, pos: at })
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a map",
    }
}

pub(crate) fn describe_value(v: &Value) -> &'static str {
    describe(v)
}

/// A pest failure as "expected X, Y or Z, found W", at the furthest point the parse reached.
fn syntax_error(text: &str, e: &pest::error::Error<Rule>) -> ParseError {
    let (line, column) = match e.line_col {
        pest::error::LineColLocation::Pos(p) | pest::error::LineColLocation::Span(p, _) => p,
    };
    let offset = match e.location {
        pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
    };
    let mut expected: BTreeSet<String> = BTreeSet::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        expected.extend(positives.iter().filter_map(|r| rule_name(*r)).map(str::to_string));
    }
    // Tokens that a named rule already stands for, and the whitespace and comments that may go
    // anywhere, are left out.
    let ops_named = expected.iter().any(|r| r.starts_with("a comparison operator"));
    let steps_named = expected.iter().any(|r| r.starts_with("an index"));
    let units_named = expected.iter().any(|r| r.starts_with("a unit"));
    if let Some(attempts) = e.parse_attempts() {
        // The token type is not exported; its display is the literal itself (upper-cased where
        // case does not matter), `a..b` for a range, or a placeholder for a built-in rule.
        for token in attempts.expected_tokens().iter().map(|t| t.to_string()) {
            let noise = token == "BUILTIN_RULE"
                || (token.len() > 2 && token.contains(".."))
                || token.trim().is_empty()
                || matches!(token.as_str(), "#" | "\"" | "$" | "TRUE" | "FALSE")
                || (units_named && matches!(token.as_str(), "h" | "m" | "s"))
                || token == "_"
                || token == "-"
                || (ops_named && CMP_OPS.contains(&token.as_str()))
                || (steps_named && matches!(token.as_str(), "[" | "[*]" | "]"));
            if !noise {
                expected.insert(format!("`{token}`"));
            }
        }
    }
    let found = match text.get(offset..).and_then(|rest| rest.chars().next()) {
        None => "the end of the program".to_string(),
        Some(c) if c.is_whitespace() => "whitespace".to_string(),
        Some(c) => {
            let rest = &text[offset..];
            let key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            let word: String =
                if key_char(c) { rest.chars().take_while(|c| key_char(*c)).take(20).collect() } else { c.to_string() };
            format!("`{word}`")
        }
    };
    let expected: Vec<String> = expected.into_iter().collect();
    let expected = match expected.as_slice() {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    ParseError { pos: Pos { line, column }, message: format!("expected {expected}, found {found}") }
}

const CMP_OPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::modify | Rule::delete | Rule::remove => "a command (modify, delete or remove)",
        Rule::semicolon => "`;`",
        Rule::selector => "a selector",
        Rule::every => "`*`",
        Rule::bind => "a variable binding (`$x := path | condition`)",
        Rule::time_test => "a time test (`@t >= 10m`)",
        Rule::time => "a time (unix seconds, or a number with s, m or h)",
        Rule::unit => "a unit (s, m or h)",
        Rule::exists | Rule::not_exists => "exists(path) or !exists(path)",
        Rule::compare => "a comparison (`path == value`)",
        Rule::cmp_op => "a comparison operator (==, !=, <, <=, >, >=)",
        Rule::assign => "`=`",
        Rule::boolean => "true or false",
        Rule::number => "a number",
        Rule::string_value | Rule::string => "a \"string\"",
        Rule::path | Rule::bare_key => "a path",
        Rule::variable => "a variable (`$x`)",
        Rule::each => "`[*]`",
        Rule::index => "an index (`[0]`)",
        Rule::integer => "a whole number",
        _ => return None,
    })
}
