//! Text-format building blocks shared by the formats (Prometheus 0.0.4, OpenMetrics,
//! JSON keys and bucket bounds): escaping and number formatting, compiled once and
//! private to this crate.

pub(crate) mod escape;
pub(crate) mod float;
