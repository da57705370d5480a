//! The fuzz targets' bodies (fuzz/src/lib.rs) on stable: every corpus file, then a bounded number
//! of deterministic mutations of each. The coverage-guided runs are `cargo +nightly fuzz run`
//! (see docs/testing.md); this keeps every input that ever crashed a target, and a little more, in the
//! ordinary test run.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod targets;

use std::path::Path;

/// A small xorshift: the same mutations on every run, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\xff",
    b"\x00",
    b"\xc1",
    b"\xdd\xff\xff\xff\xff",
    b"*",
    b"~",
    b"/",
    b"\"",
    b"{",
    b"[",
    b"-9223372036854775808",
    b"\n",
];

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let bytes = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, bytes.iter().copied());
            }
            3 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            4 if !out.is_empty() => {
                // Repeat a slice: long runs, deep nesting, big counts.
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(32)).min(out.len());
                let chunk = out[start..end].to_vec();
                for _ in 0..rng.below(8) {
                    out.splice(at..at, chunk.iter().copied());
                }
            }
            _ => {
                // Splice in part of another corpus input.
                let other = &pool[rng.below(pool.len())];
                let start = rng.below(other.len());
                out.splice(at..at, other[start..].iter().take(64).copied());
            }
        }
    }
    out
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!inputs.is_empty(), "{} has no inputs", dir.display());
    inputs
}

fn smoke(target: &str, mutations_per_input: usize, f: fn(&[u8])) {
    let inputs = corpus(target);
    let mut rng = Rng(0x5eed_0f5c_7ace);
    for input in &inputs {
        f(input);
        for _ in 0..mutations_per_input {
            let m = mutate(&mut rng, input, &inputs);
            let result = std::panic::catch_unwind(|| f(&m));
            assert!(result.is_ok(), "{target} panicked on {:?}", String::from_utf8_lossy(&m));
        }
    }
}

#[test]
fn trace_decode() {
    smoke("trace_decode", 300, targets::trace_decode);
}

#[test]
fn config_load() {
    smoke("config_load", 60, targets::config_load);
}

#[test]
fn pod_template_path() {
    smoke("pod_template_path", 300, targets::pod_template_path);
}

#[test]
fn export_request() {
    smoke("export_request", 300, targets::export_request);
}

#[test]
fn skel() {
    smoke("skel", 300, targets::skel);
}
