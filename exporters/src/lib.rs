//! Destinations for exported traces.
