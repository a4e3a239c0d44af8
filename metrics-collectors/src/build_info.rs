//! `target_info{service_name, service_version} 1`: which build of which service a
//! scrape came from, so dashboards can join it and deploys show up as label changes.
//!
//! The name and labels follow OpenTelemetry's Prometheus mapping (`target_info`,
//! `service.name` → `service_name`). [`register_build_info!`](crate::register_build_info)
//! fills them from the calling crate's `Cargo.toml`:
//!
//! ```
//! let registry = tachometer::Registry::new();
//! tachometer::collectors::register_build_info!(&registry).unwrap();
//! ```

use tachometer_core::{Error, Gauge, Opts, Registry};

/// The family's name.
pub const BUILD_INFO_METRIC_NAME: &str = "target_info";

/// Registers `target_info{service_name=name, service_version=version}` = 1 on
/// `registry`. Registering it again with the same values is a no-op; the family keeps
/// one series per distinct pair. Returns the series' gauge.
pub fn register_build_info(registry: &Registry, name: &str, version: &str) -> Result<Gauge, Error> {
    let family = registry.gauge_family(
        Opts::new(
            BUILD_INFO_METRIC_NAME,
            "The service's name and version; the value is always 1.",
        )
        .labels(&["service_name", "service_version"]),
    )?;
    let gauge = family.with_labels(&[name, version])?.clone();
    gauge.set(1);
    Ok(gauge)
}

/// Registers [`target_info`](BUILD_INFO_METRIC_NAME) with the calling crate's package
/// name and version (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`, read where the macro is
/// written). Takes a `&Registry`; returns what [`register_build_info`] returns.
#[macro_export]
macro_rules! register_build_info {
    ($registry:expr) => {
        $crate::build_info::register_build_info(
            $registry,
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        )
    };
}
