//! The list-then-watch protocol of one kind as a state machine, apart from any I/O: the driver
//! asks it which request to make next and tells it what came back; it answers with the events
//! the watch must report.
//!
//! Its semantics are those of kube-runtime's `watcher` with the default list-then-watch strategy:
//! a list (in pages) announced by `Init` and closed by `InitDone`, then a watch from the list's
//! resource version; a watch that ends is resumed from the last resource version seen (an event's
//! or a bookmark's); a `410 Gone` (the version was compacted away) starts a new list; any other
//! failure leaves the state as it was, to be retried after a backoff.

/// What the driver must request next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A page of the list: the first when `continue_token` is `None`.
    List { continue_token: Option<String> },
    /// A watch from this resource version.
    Watch { resource_version: String },
}

/// What the watch reports, as kube-runtime's `watcher::Event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<O> {
    /// A (re-)list starts.
    Init,
    /// An object the list shows.
    InitApply(O),
    /// The list is complete: what it did not show no longer exists.
    InitDone,
    Apply(O),
    Delete(O),
}

/// One page of a list, decoded.
#[derive(Debug)]
pub struct Page<O> {
    pub items: Vec<Listed<O>>,
    pub resource_version: Option<String>,
    pub continue_token: Option<String>,
}

/// An object and its resource version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed<O> {
    pub object: O,
    pub resource_version: Option<String>,
}

/// One line of a watch stream, decoded.
#[derive(Debug)]
pub enum Line<O> {
    Added(Listed<O>),
    Modified(Listed<O>),
    Deleted(Listed<O>),
    Bookmark {
        resource_version: String,
    },
    /// An `ERROR` event: a Kubernetes `Status`.
    Error {
        code: u16,
        message: String,
    },
}

/// Why the protocol cannot go on as it is; each is reported, then retried from the state it left.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("the list carried neither a resource version nor a continue token")]
    ListWithoutVersion,
    #[error("a watch event carried no resource version")]
    EventWithoutVersion,
    /// An `ERROR` event; a 410 has already started a new list.
    #[error("watch error {code}: {message}")]
    Status { code: u16, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Nothing listed: the next request starts a list.
    Empty,
    /// A list is under way; the next page is asked for with this token (`None`: the first).
    Listing { continue_token: Option<String> },
    /// Listed, or a watch ended: the next request watches from here.
    Listed { resource_version: String },
    /// A watch stream is open; the last version seen on it.
    Watching { resource_version: String },
}

#[derive(Debug)]
pub struct WatchState {
    state: State,
}

impl Default for WatchState {
    fn default() -> Self {
        WatchState { state: State::Empty }
    }
}

impl WatchState {
    /// The request to make next. Starting a list reports `Init` into `out`.
    pub fn next_request<O>(&mut self, out: &mut Vec<Event<O>>) -> Request {
        match &self.state {
            State::Empty => {
                out.push(Event::Init);
                self.state = State::Listing { continue_token: None };
                Request::List { continue_token: None }
            }
            State::Listing { continue_token } => Request::List { continue_token: continue_token.clone() },
            State::Listed { resource_version } | State::Watching { resource_version } => {
                Request::Watch { resource_version: resource_version.clone() }
            }
        }
    }

    /// A page of the list arrived. After the last page, `InitDone`.
    pub fn page<O>(&mut self, page: Page<O>, out: &mut Vec<Event<O>>) -> Result<(), ProtocolError> {
        let continue_token = page.continue_token.filter(|t| !t.is_empty());
        let resource_version = page.resource_version.filter(|v| !v.is_empty());
        if continue_token.is_none() && resource_version.is_none() {
            self.state = State::Empty;
            return Err(ProtocolError::ListWithoutVersion);
        }
        out.extend(page.items.into_iter().map(|l| Event::InitApply(l.object)));
        self.state = match (continue_token, resource_version) {
            (Some(token), _) => State::Listing { continue_token: Some(token) },
            (None, Some(resource_version)) => {
                out.push(Event::InitDone);
                State::Listed { resource_version }
            }
            (None, None) => unreachable!("refused above"),
        };
        Ok(())
    }

    /// A list request failed: the next starts the list over, announced anew.
    pub fn list_failed(&mut self) {
        self.state = State::Empty;
    }

    /// The apiserver answered a watch request with `status` instead of a stream. A 410 means the
    /// version is gone: list again; anything else is retried from the same version.
    pub fn watch_refused(&mut self, status: u16) {
        if status == 410 {
            self.state = State::Empty;
        }
    }

    /// A watch stream opened.
    pub fn watch_started(&mut self) {
        if let State::Listed { resource_version } = &self.state {
            self.state = State::Watching { resource_version: resource_version.clone() };
        }
    }

    /// One line of the open stream.
    pub fn line<O>(&mut self, line: Line<O>, out: &mut Vec<Event<O>>) -> Result<(), ProtocolError> {
        let (listed, deleted) = match line {
            Line::Added(l) | Line::Modified(l) => (l, false),
            Line::Deleted(l) => (l, true),
            Line::Bookmark { resource_version } => {
                self.seen(resource_version);
                return Ok(());
            }
            Line::Error { code, message } => {
                if code == 410 {
                    self.state = State::Empty;
                }
                return Err(ProtocolError::Status { code, message });
            }
        };
        match listed.resource_version.filter(|v| !v.is_empty()) {
            Some(v) => self.seen(v),
            None => {
                self.state = State::Empty;
                return Err(ProtocolError::EventWithoutVersion);
            }
        }
        out.push(if deleted { Event::Delete(listed.object) } else { Event::Apply(listed.object) });
        Ok(())
    }

    /// The stream ended (the apiserver's timeout, a dropped connection): watch again from the
    /// last version seen.
    pub fn stream_ended(&mut self) {
        if let State::Watching { resource_version } = &self.state {
            self.state = State::Listed { resource_version: resource_version.clone() };
        }
    }

    fn seen(&mut self, resource_version: String) {
        if let State::Watching { .. } = self.state {
            self.state = State::Watching { resource_version };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, rv: &str) -> Listed<String> {
        Listed { object: name.to_string(), resource_version: Some(rv.to_string()) }
    }

    fn page(items: &[(&str, &str)], rv: Option<&str>, token: Option<&str>) -> Page<String> {
        Page {
            items: items.iter().map(|(n, v)| obj(n, v)).collect(),
            resource_version: rv.map(str::to_string),
            continue_token: token.map(str::to_string),
        }
    }

    fn watch(rv: &str) -> Request {
        Request::Watch { resource_version: rv.into() }
    }

    /// A state listed at `rv` with a watch open.
    fn watching(rv: &str) -> WatchState {
        let mut s = WatchState::default();
        let mut out = Vec::new();
        s.next_request(&mut out);
        s.page(page(&[], Some(rv), None), &mut out).unwrap();
        s.next_request(&mut out);
        s.watch_started();
        s
    }

    #[test]
    fn lists_in_pages_then_watches_from_the_lists_version() {
        let mut s = WatchState::default();
        let mut out = Vec::new();
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: None });
        s.page(page(&[("a", "3")], Some("9"), Some("t1")), &mut out).unwrap();
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: Some("t1".into()) });
        s.page(page(&[("b", "5")], Some("9"), None), &mut out).unwrap();
        assert_eq!(out, [Event::Init, Event::InitApply("a".into()), Event::InitApply("b".into()), Event::InitDone]);
        assert_eq!(s.next_request(&mut out), watch("9"));
        assert_eq!(out.len(), 4, "a watch announces nothing");
    }

    #[test]
    fn events_move_the_version_and_a_resumed_watch_starts_from_the_last() {
        let mut s = watching("9");
        let mut out = Vec::new();
        s.line(Line::Added(obj("a", "10")), &mut out).unwrap();
        s.line(Line::Modified(obj("a", "11")), &mut out).unwrap();
        s.line(Line::Bookmark { resource_version: "15".into() }, &mut out).unwrap();
        s.line(Line::Deleted(obj("b", "16")), &mut out).unwrap();
        assert_eq!(out, [Event::Apply("a".into()), Event::Apply("a".into()), Event::Delete("b".into())]);
        s.stream_ended();
        assert_eq!(s.next_request(&mut out), watch("16"));
        s.watch_started();
        s.line(Line::Bookmark { resource_version: "20".into() }, &mut out).unwrap();
        s.stream_ended();
        assert_eq!(s.next_request(&mut out), watch("20"), "a bookmark alone moves it too");
    }

    #[test]
    fn a_410_lists_again_and_other_errors_keep_the_version() {
        let mut s = watching("9");
        let mut out: Vec<Event<String>> = Vec::new();
        let err = s.line(Line::Error { code: 500, message: "busy".into() }, &mut out).unwrap_err();
        assert_eq!(err, ProtocolError::Status { code: 500, message: "busy".into() });
        s.stream_ended();
        assert_eq!(s.next_request(&mut out), watch("9"));
        s.watch_refused(503);
        assert_eq!(s.next_request(&mut out), watch("9"), "a refused watch is retried from the same version");
        s.watch_started();
        assert!(s.line(Line::Error { code: 410, message: "too old".into() }, &mut out).is_err());
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: None });
        assert_eq!(out, [Event::Init]);

        let mut s = watching("9");
        s.stream_ended();
        s.next_request(&mut out);
        s.watch_refused(410);
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: None }, "410 as the answer too");
    }

    #[test]
    fn a_failed_page_starts_the_list_over_announced_again() {
        let mut s = WatchState::default();
        let mut out = Vec::new();
        s.next_request(&mut out);
        s.page(page(&[("a", "3")], Some("9"), Some("t1")), &mut out).unwrap();
        s.next_request(&mut out);
        s.list_failed();
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: None });
        assert_eq!(out, [Event::Init, Event::InitApply("a".into()), Event::Init]);
    }

    #[test]
    fn a_list_or_event_without_a_version_is_refused_and_lists_again() {
        let mut s = WatchState::default();
        let mut out: Vec<Event<String>> = Vec::new();
        s.next_request(&mut out);
        assert_eq!(s.page(page(&[], Some(""), None), &mut out), Err(ProtocolError::ListWithoutVersion));
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: None });

        let mut s = watching("9");
        let bare = Listed { object: "a".to_string(), resource_version: None };
        assert_eq!(s.line(Line::Added(bare), &mut out), Err(ProtocolError::EventWithoutVersion));
        out.clear();
        assert_eq!(s.next_request(&mut out), Request::List { continue_token: None });
        assert_eq!(out, [Event::Init]);
    }
}
