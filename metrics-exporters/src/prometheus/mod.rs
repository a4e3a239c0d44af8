//! Prometheus text exposition 0.0.4 and OpenMetrics 1.0.
//!
//! (Being written: the encoders land in `text.rs` and `openmetrics.rs`.)

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text004,
    /// OpenMetrics 1.0.0.
    OpenMetrics100,
    /// OpenMetrics 0.0.1 (same body as 1.0.0; what a scraper asking without a version gets).
    OpenMetrics001,
}

impl Format {
    /// The `Content-Type` header value for a response in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics100 => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::OpenMetrics001 => "application/openmetrics-text; version=0.0.1; charset=utf-8",
        }
    }
}
