//! Running a [`Program`] over one object: each command in order, on the object as the commands
//! before it left it. A command's selector decides whether it applies; its tests run in order, so
//! a variable is bound before it is used, and the first test that fails ends the selector.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::ast::{Action, CmpOp, Operand, Path, Pos, Program, Step, Test, TimeRef};
use crate::error::EvalError;
use crate::parse::describe_value;

/// When the object was recorded, and when the trace (or the export's window) starts: `@t 10m`
/// counts from `start`, `@t 1700000000` compares with `ts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub ts: i64,
    pub start: i64,
}

/// What a program did to one object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Some command's selector held.
    pub matched: bool,
    /// The object differs from what it was.
    pub changed: bool,
    /// A `delete` dropped it; the commands after it did not run.
    pub deleted: bool,
}

/// One step of a match's place in the object: a key of a map or an index of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Elem<'p> {
    Key(&'p str),
    Index(usize),
}

/// Where a match lies in the object.
type Place<'p> = Vec<Elem<'p>>;

/// The variables bound so far in one command, each to the places that passed its condition.
#[derive(Default)]
struct Env<'p> {
    vars: Vec<(&'p str, Vec<Place<'p>>)>,
}

impl<'p> Env<'p> {
    fn get(&self, var: &str) -> &[Place<'p>] {
        self.vars.iter().rev().find(|(name, _)| *name == var).map(|(_, places)| places.as_slice()).unwrap_or(&[])
    }
}

impl Program {
    /// Applies every command to `obj` in order.
    pub fn apply(&self, obj: &mut Value, at: At) -> Result<Outcome, EvalError> {
        let mut outcome = Outcome::default();
        for command in &self.commands {
            let mut env = Env::default();
            if !selector_holds(&command.selector, obj, &mut env, at)? {
                continue;
            }
            outcome.matched = true;
            match &command.action {
                Action::Delete => {
                    outcome.deleted = true;
                    outcome.changed = true;
                    return Ok(outcome);
                }
                Action::Remove { target } => {
                    let mut places = Vec::new();
                    walk_places(obj, target, &env, |place, _| places.push(place.clone()));
                    // From the last: removing an array element moves the ones after it, and an
                    // element inside another goes before its container.
                    places.sort_unstable_by(|a, b| b.cmp(a));
                    places.dedup();
                    for place in &places {
                        outcome.changed |= remove_at(obj, place);
                    }
                }
                Action::Modify { target, value } => {
                    let value = match value {
                        Operand::Value(v) => Some(v.clone()),
                        Operand::Path(p) => single_value(obj, p, &env)?,
                    };
                    if let Some(value) = value {
                        outcome.changed |= assign(obj, target, &env, &value);
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Whether some command's selector holds for `obj`, without changing it.
    pub fn matches(&self, obj: &Value, at: At) -> Result<bool, EvalError> {
        for command in &self.commands {
            if selector_holds(&command.selector, obj, &mut Env::default(), at)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn selector_holds<'p>(tests: &'p [Test], obj: &Value, env: &mut Env<'p>, at: At) -> Result<bool, EvalError> {
    for test in tests {
        if !test_holds(test, obj, env, at)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn test_holds<'p>(test: &'p Test, obj: &Value, env: &mut Env<'p>, at: At) -> Result<bool, EvalError> {
    match test {
        Test::Time { op, at: time, .. } => Ok(match *time {
            TimeRef::Absolute(t) => op.holds(at.ts.cmp(&t)),
            TimeRef::Relative(d) => op.holds(at.ts.saturating_sub(at.start).cmp(&d)),
        }),
        Test::Exists { path, negated, .. } => {
            let mut found = false;
            walk_values(obj, path, env, |_| found = true);
            Ok(found != *negated)
        }
        Test::Compare { left, op, right, pos } => {
            let mut lefts = Vec::new();
            walk_values(obj, left, env, |v| lefts.push(v));
            let rights = match right {
                Operand::Value(v) => vec![v],
                Operand::Path(p) => {
                    let mut out = Vec::new();
                    walk_values(obj, p, env, |v| out.push(v));
                    out
                }
            };
            if op.orders() {
                // Every operand is checked, so that whether an error is reported does not depend
                // on the order the matches come in.
                for (v, path) in
                    lefts.iter().map(|v| (v, left)).chain(rights.iter().map(|v| (v, right_path(right, left))))
                {
                    if !v.is_number() {
                        return Err(not_a_number(*pos, *op, path, v));
                    }
                }
            }
            Ok(lefts.iter().any(|l| rights.iter().any(|r| op.holds(compare(l, r)))))
        }
        Test::Bind { var, path, condition, .. } => {
            let mut candidates = Vec::new();
            walk_places(obj, path, env, |place, _| candidates.push(place.clone()));
            let mut kept = Vec::with_capacity(candidates.len());
            for place in candidates {
                let holds = match condition {
                    None => true,
                    Some(cond) => {
                        env.vars.push((var.as_str(), vec![place.clone()]));
                        let holds = test_holds(cond, obj, env, at);
                        env.vars.pop();
                        holds?
                    }
                };
                if holds {
                    kept.push(place);
                }
            }
            let any = !kept.is_empty();
            env.vars.push((var.as_str(), kept));
            Ok(any)
        }
    }
}

/// The path a right-hand value came from, for an error message; a literal is never reported.
fn right_path<'a>(right: &'a Operand, left: &'a Path) -> &'a Path {
    match right {
        Operand::Path(p) => p,
        Operand::Value(_) => left,
    }
}

fn not_a_number(pos: Pos, op: CmpOp, path: &Path, v: &Value) -> EvalError {
    let mut shown = v.to_string();
    if shown.len() > 40 {
        let cut = (0..=40).rev().find(|i| shown.is_char_boundary(*i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    EvalError {
        pos,
        message: format!("`{}` compares numbers, and {path} is {} ({shown})", op.symbol(), describe_value(v)),
    }
}

/// Numbers by their value (`1 == 1.0`), anything else by equality only: `Equal` or not.
fn compare(l: &Value, r: &Value) -> Ordering {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => match (a.as_u64(), b.as_u64()) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => {
                    let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
                    a.partial_cmp(&b).unwrap_or(Ordering::Less)
                }
            },
        },
        _ if l == r => Ordering::Equal,
        _ => Ordering::Less,
    }
}

/// The value of an assignment's right-hand path: none leaves the target alone; more than one is
/// an error, as nothing says which to take.
fn single_value(obj: &Value, path: &Path, env: &Env<'_>) -> Result<Option<Value>, EvalError> {
    let mut found = Vec::new();
    walk_values(obj, path, env, |v| found.push(v));
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Err(EvalError {
            pos: path.pos,
            message: format!("{path} has {} values here, and an assignment takes exactly one", many.len()),
        }),
    }
}

/// Calls `f` with every value `path` reaches in `obj`.
fn walk_values<'v>(obj: &'v Value, path: &Path, env: &Env<'_>, mut f: impl FnMut(&'v Value)) {
    let mut scratch = Vec::new();
    for_starts(obj, path, env, |start, node| {
        scratch.clear();
        scratch.extend_from_slice(start);
        walk(node, &path.steps, &mut scratch, &mut |_, v| f(v));
    });
}

/// Calls `f` with the place and value of everything `path` reaches in `obj`.
fn walk_places<'p, 'v>(obj: &'v Value, path: &'p Path, env: &Env<'p>, mut f: impl FnMut(&Place<'p>, &'v Value)) {
    let mut scratch = Vec::new();
    for_starts(obj, path, env, |start, node| {
        scratch.clear();
        scratch.extend_from_slice(start);
        walk(node, &path.steps, &mut scratch, &mut f);
    });
}

/// Where a path begins: the object's root, or each place its variable is bound to.
fn for_starts<'p, 'v>(obj: &'v Value, path: &Path, env: &Env<'p>, mut f: impl FnMut(&[Elem<'p>], &'v Value)) {
    match &path.var {
        None => f(&[], obj),
        Some(var) => {
            for place in env.get(var) {
                if let Some(node) = get(obj, place) {
                    f(place, node);
                }
            }
        }
    }
}

fn walk<'p, 'v>(node: &'v Value, steps: &'p [Step], place: &mut Place<'p>, f: &mut impl FnMut(&Place<'p>, &'v Value)) {
    let Some((step, rest)) = steps.split_first() else {
        f(place, node);
        return;
    };
    match (step, node) {
        (Step::Key(k), Value::Object(map)) => {
            if let Some(child) = map.get(k) {
                place.push(Elem::Key(k));
                walk(child, rest, place, f);
                place.pop();
            }
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                place.push(Elem::Index(*i));
                walk(child, rest, place, f);
                place.pop();
            }
        }
        (Step::Each, Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                place.push(Elem::Index(i));
                walk(child, rest, place, f);
                place.pop();
            }
        }
        _ => {}
    }
}

fn get<'v>(mut node: &'v Value, place: &[Elem<'_>]) -> Option<&'v Value> {
    for elem in place {
        node = match (elem, node) {
            (Elem::Key(k), Value::Object(map)) => map.get(*k)?,
            (Elem::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn get_mut<'v>(mut node: &'v mut Value, place: &[Elem<'_>]) -> Option<&'v mut Value> {
    for elem in place {
        node = match (elem, node) {
            (Elem::Key(k), Value::Object(map)) => map.get_mut(*k)?,
            (Elem::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn remove_at(obj: &mut Value, place: &[Elem<'_>]) -> bool {
    let Some((last, parent)) = place.split_last() else { return false };
    match (last, get_mut(obj, parent)) {
        (Elem::Key(k), Some(Value::Object(map))) => map.remove(*k).is_some(),
        (Elem::Index(i), Some(Value::Array(items))) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// Sets every place `target` reaches; returns whether anything changed.
fn assign(obj: &mut Value, target: &Path, env: &Env<'_>, value: &Value) -> bool {
    match &target.var {
        None => set(obj, &target.steps, value),
        Some(var) => {
            let mut changed = false;
            for place in env.get(var) {
                if let Some(node) = get_mut(obj, place) {
                    changed |= set(node, &target.steps, value);
                }
            }
            changed
        }
    }
}

/// Sets what `steps` reach from `node`. A missing key is created, with the maps that lead to it,
/// when only keys follow it; a missing array element, or something other than a map where a key
/// is wanted, is left alone.
fn set(node: &mut Value, steps: &[Step], value: &Value) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        if node == value {
            return false;
        }
        *node = value.clone();
        return true;
    };
    match (step, node) {
        (Step::Key(k), Value::Object(map)) => match map.get_mut(k) {
            Some(child) => set(child, rest, value),
            None => match built(rest, value) {
                Some(v) => {
                    map.insert(k.clone(), v);
                    true
                }
                None => false,
            },
        },
        (Step::Key(_), node @ Value::Null) => match built(steps, value) {
            Some(v) => {
                *node = v;
                true
            }
            None => false,
        },
        (Step::Index(i), Value::Array(items)) => items.get_mut(*i).is_some_and(|child| set(child, rest, value)),
        (Step::Each, Value::Array(items)) => {
            let mut changed = false;
            for child in items {
                changed |= set(child, rest, value);
            }
            changed
        }
        _ => false,
    }
}

/// `value` inside the maps that `steps` name, if they are all keys.
fn built(steps: &[Step], value: &Value) -> Option<Value> {
    let mut out = value.clone();
    for step in steps.iter().rev() {
        let Step::Key(k) = step else { return None };
        let mut map = Map::new();
        map.insert(k.clone(), out);
        out = Value::Object(map);
    }
    Some(out)
}
