//! Built-in pipeline stages.
