//! The typed syntax tree of a SKEL program, as [`crate::parse`] builds it from the grammar.

use std::fmt;

use serde_json::Value;

/// Where something starts in the program's text, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub action: Action,
    /// Every object where it is empty (`*`, or no selector given).
    pub selector: Vec<Test>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `modify([selector,] target = value)`: sets every match of the target.
    Modify { target: Path, value: Operand },
    /// `delete(selector)`: drops the whole object.
    Delete,
    /// `remove([selector,] target)`: removes every match of the target from the object.
    Remove { target: Path },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Modify { .. } => "modify",
            Action::Delete => "delete",
            Action::Remove { .. } => "remove",
        }
    }
}

/// One test of a selector; a selector holds when all of its tests do.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// `@t OP N`: the event's time against an absolute unix time or one relative to the start.
    Time { op: CmpOp, at: TimeRef, pos: Pos },
    /// `path OP value|path`: holds when some value at the left path and some on the right compare.
    Compare { left: Path, op: CmpOp, right: Operand, pos: Pos },
    /// `exists(path)`, or with `negated`, `!exists(path)`.
    Exists { path: Path, negated: bool, pos: Pos },
    /// `$x := path | condition`: binds `$x` to the matches of `path` for which `condition` holds,
    /// and holds when there is at least one.
    Bind { var: String, path: Path, condition: Option<Box<Test>>, pos: Pos },
}

impl Test {
    pub fn pos(&self) -> Pos {
        match self {
            Test::Time { pos, .. } | Test::Compare { pos, .. } | Test::Exists { pos, .. } | Test::Bind { pos, .. } => {
                *pos
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Whether it orders its operands, and so needs numbers.
    pub fn orders(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The verdict for an ordering of the operands.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeRef {
    /// Unix seconds, compared with the event's recorded time.
    Absolute(i64),
    /// Seconds after the start (the export's `start_ts`, or a trace's first event).
    Relative(i64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Value(Value),
    Path(Path),
}

/// A path into an object: from its root or from a variable's matches, then keys, indexes and
/// `[*]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// `None`: the object's root.
    pub var: Option<String>,
    pub steps: Vec<Step>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
    /// `[*]`: every element of an array.
    Each,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if let Some(var) = &self.var {
            write!(f, "${var}")?;
            first = false;
        }
        for step in &self.steps {
            match step {
                Step::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{}", Value::String(k.clone()))?;
                    }
                }
                Step::Index(i) => write!(f, "[{i}]")?,
                Step::Each => f.write_str("[*]")?,
            }
            first = false;
        }
        Ok(())
    }
}
