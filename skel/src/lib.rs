//! SKEL, the trace transformation language that SimKube's `skctl` speaks: a program is a list of
//! `modify`, `delete` and `remove` commands, each applied to the objects its selector picks.
//!
//! [`Program::parse`] reads a program with the pest grammar in `skel.pest` into the syntax tree
//! of [`ast`], and reports where and what it expected when it cannot; [`Program::apply`] runs it
//! over one object's JSON at a moment of the trace. What a trace does with the outcome (dropping
//! deleted objects, rehashing changed ones) is the caller's.

pub mod ast;
mod error;
mod eval;
mod parse;

pub use ast::{Pos, Program};
pub use error::{EvalError, ParseError};
pub use eval::{At, Outcome};

#[cfg(test)]
mod tests;
