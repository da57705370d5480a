//! `status`: drops `status` from recorded objects. A simulator's controllers produce their own
//! status; a recorded one would only say how production looked, and changes every few seconds.

use serde_json::Value;
use sk_core::pipeline::{Sanitiser, SanitiserPlugin};

use super::no_options;

struct Status;

impl Sanitiser for Status {
    fn sanitise_object(&self, obj: &mut Value) {
        if let Some(o) = obj.as_object_mut() {
            o.remove("status");
        }
    }

    fn touches(&self) -> Option<&[&[&str]]> {
        Some(&[&["status"]])
    }

    fn discards(&self) -> &[&[&str]] {
        &[&["status"]]
    }
}

fn build(options: &Value) -> Result<Box<dyn Sanitiser>, String> {
    no_options("status", options)?;
    Ok(Box::new(Status))
}

inventory::submit! {
    SanitiserPlugin { name: "status", describe: "drops the status of recorded objects", build }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitisers::test_support::deployment;

    #[test]
    fn drops_status_only() {
        let mut d = deployment();
        Status.sanitise_object(&mut d);
        assert!(d.get("status").is_none());
        assert_eq!(d["spec"]["replicas"], 3);
        let mut t = deployment()["spec"]["template"].clone();
        let before = t.clone();
        Status.sanitise_template(&mut t);
        assert_eq!(t, before);
    }
}
