//! Built-in pipeline stages: sanitisers and export filters, one file each, registered with
//! `inventory::submit!`.

pub mod filters;
pub mod sanitisers;
