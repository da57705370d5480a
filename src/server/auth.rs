//! Bearer-token authentication against a token kept in a file.
//!
//! The file is the source of truth at every request: a Kubernetes Secret mounted as a volume is
//! updated by swapping a symlink, and an operator rotating the token expects the old one to stop
//! working without a restart. Reading it on every request would cost a syscall or three; instead
//! its identity (device, inode, size, mtime, ctime, through the symlinks) is checked, which is one
//! `stat`, and the file is read again only when that changes (or changed a moment ago).
//!
//! Failing closed: once the file cannot be read or is empty, every request is refused until it is
//! readable again. The last good token is not kept, since an operator who deletes the file means
//! to stop access.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};

use super::file_stamp::{stamp, Stamp};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token file {path}: cannot read it: {message}")]
    Unreadable { path: String, message: String },
    #[error("token file {path} is empty")]
    Empty { path: String },
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A bearer token that is not the current one.
    Wrong,
    /// The server cannot read its own token, so it cannot tell; refused.
    Unavailable(TokenError),
}

impl AuthFailure {
    /// What the client is told. The token file's path and error stay in the server's log.
    pub fn message(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "this endpoint requires an `Authorization: Bearer <token>` header",
            AuthFailure::Malformed => "the Authorization header must be `Bearer <token>`",
            AuthFailure::Wrong => "the bearer token is not valid",
            AuthFailure::Unavailable(_) => {
                "the server cannot read its token file, so it refuses every request until it can; see its log"
            }
        }
    }

    /// The label of `sk_tracer_refused_requests_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Missing | AuthFailure::Malformed | AuthFailure::Wrong => "unauthorized",
            AuthFailure::Unavailable(_) => "token_unavailable",
        }
    }
}

struct Cached {
    stamp: Option<Stamp>,
    /// The SHA-256 of the token: compared in constant time, and of a fixed length, so a
    /// comparison says nothing about the token's length either.
    token: Result<[u8; 32], TokenError>,
}

pub struct TokenStore {
    path: PathBuf,
    cached: Mutex<Cached>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

fn read_token(path: &Path) -> Result<[u8; 32], TokenError> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| TokenError::Unreadable { path: shown.clone(), message: e.to_string() })?;
    // `echo token > file` and `kubectl create secret --from-file` leave a trailing newline.
    let token = bytes.trim_ascii();
    if token.is_empty() {
        return Err(TokenError::Empty { path: shown });
    }
    Ok(sha256(token))
}

/// The token of an `Authorization` header value: `Bearer <token>`, the scheme in any case.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let token = rest.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

impl TokenStore {
    /// Reads the token once: a file that cannot be read or is empty at startup is a configuration
    /// error, not something to discover at the first request.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TokenError> {
        let path = path.into();
        let stamp = stamp(&path).ok();
        let token = read_token(&path);
        if let Err(e) = &token {
            return Err(e.clone());
        }
        Ok(TokenStore { path, cached: Mutex::new(Cached { stamp, token }) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current token's digest, read again if the file changed.
    fn current(&self) -> Result<[u8; 32], TokenError> {
        let now = stamp(&self.path);
        // A panic elsewhere while holding the lock leaves nothing half-written: both fields are
        // replaced together below.
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = match now {
            Ok(s) if cached.stamp == Some(s) && s.settled() => return cached.token.clone(),
            Ok(s) => (Some(s), read_token(&self.path)),
            Err(e) => {
                let error = TokenError::Unreadable { path: self.path.display().to_string(), message: e.to_string() };
                (None, Err(error))
            }
        };
        match (&cached.token, &fresh.1) {
            (Ok(_), Err(e)) => {
                tracing::error!(error = %e, "refusing every authenticated request until the token file can be read")
            }
            (Err(_), Ok(_)) => tracing::info!(file = %self.path.display(), "token file readable again"),
            (Ok(a), Ok(b)) if a != b => {
                tracing::info!(file = %self.path.display(), "token file changed; using the new token")
            }
            (Ok(_), Ok(_)) => {}
            (Err(a), Err(b)) if a != b => tracing::error!(error = %b, "the token file still cannot be used"),
            (Err(_), Err(_)) => {}
        }
        (cached.stamp, cached.token) = fresh;
        cached.token.clone()
    }

    /// Checks an `Authorization` header value (its raw bytes) against the current token.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), AuthFailure> {
        let expected = self.current().map_err(AuthFailure::Unavailable)?;
        let presented = bearer(authorization.ok_or(AuthFailure::Missing)?).ok_or(AuthFailure::Malformed)?;
        verify_slices_are_equal(&sha256(presented), &expected).map_err(|_| AuthFailure::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_bearer_scheme_is_parsed_strictly() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer   abc  "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"BEARER abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"), None);
        assert_eq!(bearer(b"abc"), None);
        assert_eq!(bearer(b""), None);
    }

    #[test]
    fn only_the_current_token_passes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        write(&path, "s3cret\n");
        let store = TokenStore::open(&path).unwrap();
        assert_eq!(store.check(Some(b"Bearer s3cret")), Ok(()));
        assert_eq!(store.check(None), Err(AuthFailure::Missing));
        assert_eq!(store.check(Some(b"s3cret")), Err(AuthFailure::Malformed));
        assert_eq!(store.check(Some(b"Bearer s3cre")), Err(AuthFailure::Wrong));
        assert_eq!(store.check(Some(b"Bearer s3cret2")), Err(AuthFailure::Wrong));
        assert_eq!(store.check(Some(b"Bearer S3CRET")), Err(AuthFailure::Wrong));
    }

    #[test]
    fn a_rewritten_file_takes_effect_at_the_next_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        write(&path, "old");
        let store = TokenStore::open(&path).unwrap();
        assert_eq!(store.check(Some(b"Bearer old")), Ok(()));
        // Same length, written at once: only the stamp's times (and the content) differ.
        write(&path, "new");
        assert_eq!(store.check(Some(b"Bearer old")), Err(AuthFailure::Wrong));
        assert_eq!(store.check(Some(b"Bearer new")), Ok(()));
    }

    #[test]
    fn a_swapped_symlink_as_kubernetes_does_it_takes_effect() {
        let dir = tempfile::tempdir().unwrap();
        let (v1, v2) = (dir.path().join("..v1"), dir.path().join("..v2"));
        std::fs::create_dir(&v1).unwrap();
        std::fs::create_dir(&v2).unwrap();
        write(&v1.join("token"), "one");
        write(&v2.join("token"), "two");
        std::os::unix::fs::symlink("..v1", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/token", dir.path().join("token")).unwrap();
        let store = TokenStore::open(dir.path().join("token")).unwrap();
        assert_eq!(store.check(Some(b"Bearer one")), Ok(()));
        std::os::unix::fs::symlink("..v2", dir.path().join("..data_tmp")).unwrap();
        std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
        assert_eq!(store.check(Some(b"Bearer one")), Err(AuthFailure::Wrong));
        assert_eq!(store.check(Some(b"Bearer two")), Ok(()));
    }

    #[test]
    fn an_unreadable_or_empty_file_refuses_everything_until_it_is_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        write(&path, "tok");
        let store = TokenStore::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let refused = store.check(Some(b"Bearer tok")).unwrap_err();
        assert!(matches!(&refused, AuthFailure::Unavailable(TokenError::Unreadable { .. })), "{refused:?}");
        assert_eq!(refused.reason(), "token_unavailable");
        write(&path, " \n");
        assert!(matches!(store.check(Some(b"Bearer ")), Err(AuthFailure::Unavailable(TokenError::Empty { .. }))));
        assert!(matches!(store.check(Some(b"Bearer tok")), Err(AuthFailure::Unavailable(_))));
        write(&path, "tok2");
        assert_eq!(store.check(Some(b"Bearer tok2")), Ok(()));
    }

    #[test]
    fn a_bad_file_at_startup_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let e = TokenStore::open(&path).err().unwrap().to_string();
        assert!(e.starts_with(&format!("token file {}: cannot read it: No such file", path.display())), "{e}");
        write(&path, "\n");
        let e = TokenStore::open(&path).err().unwrap().to_string();
        assert_eq!(e, format!("token file {} is empty", path.display()));
        let e = TokenStore::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("cannot read it"), "{e}");
    }
}
