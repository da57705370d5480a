//! The state of every watched kind, for logs, readiness and metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::gvk::Gvk;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindState {
    /// Looking the kind up in discovery, or listing it for the first time.
    Starting,
    /// Discovery does not know the kind (a CRD not installed yet); retried with backoff.
    NotInstalled,
    /// The apiserver refuses to let the tracer read it (RBAC).
    Forbidden(String),
    /// The initial list is complete; changes are being watched.
    Ready,
    /// The last list or watch failed; retried with backoff.
    Failing(String),
}

impl KindState {
    pub fn is_ready(&self) -> bool {
        matches!(self, KindState::Ready)
    }

    pub fn describe(&self) -> String {
        match self {
            KindState::Starting => "starting: initial list not complete".into(),
            KindState::NotInstalled => "not installed: the apiserver does not serve this kind (yet)".into(),
            KindState::Forbidden(why) => format!("forbidden: {why}"),
            KindState::Ready => "ready".into(),
            KindState::Failing(why) => format!("failing: {why}"),
        }
    }
}

#[derive(Debug, Default)]
pub struct SourceHealth {
    kinds: Mutex<BTreeMap<Gvk, KindState>>,
}

impl SourceHealth {
    pub fn set(&self, gvk: &Gvk, state: KindState) {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let previous = kinds.insert(gvk.clone(), state.clone());
        if previous.as_ref() != Some(&state) {
            match &state {
                KindState::Ready | KindState::Starting => {
                    tracing::info!(%gvk, state = %state.describe(), "watch state")
                }
                _ => tracing::warn!(%gvk, state = %state.describe(), "watch state"),
            }
        }
    }

    pub fn get(&self, gvk: &Gvk) -> Option<KindState> {
        self.kinds.lock().unwrap_or_else(|p| p.into_inner()).get(gvk).cloned()
    }

    pub fn all(&self) -> BTreeMap<Gvk, KindState> {
        self.kinds.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Kinds that have not completed their initial list, with the reason.
    pub fn not_ready(&self, of: impl IntoIterator<Item = Gvk>) -> Vec<(Gvk, KindState)> {
        let kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        of.into_iter()
            .filter_map(|g| {
                let state = kinds.get(&g).cloned().unwrap_or(KindState::Starting);
                (!state.is_ready()).then_some((g, state))
            })
            .collect()
    }
}
