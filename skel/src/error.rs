//! What goes wrong with a program: in its text ([`ParseError`]) or against an object
//! ([`EvalError`]); both say where in the program.

use crate::ast::Pos;

/// A program that cannot run: a syntax error (what was expected there and what was found), an
/// undefined variable, a literal of the wrong type, a number out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

/// A program that met an object it cannot be applied to: an ordering comparison with a value
/// that is not a number, or an assignment from a path with more than one value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct EvalError {
    pub pos: Pos,
    pub message: String,
}
