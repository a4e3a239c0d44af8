//! The [`Metric`] trait: what the registry needs to build, compare and read a series.

use crate::counter::{Counter, FloatCounter};
use crate::desc::MetricKind;
use crate::error::Error;
use crate::gauge::{CallbackGauge, FloatGauge, Gauge};
use crate::hdr::{HdrConfig, HdrHistogram};
use crate::histogram::{Buckets, Histogram};
use crate::meter::Meter;
use crate::native::{NativeConfig, NativeHistogram};
use crate::timer::Timer;
use crate::visit::Value;

/// Items that appear in [`Metric`]'s signatures but that no other crate can name,
/// implement or construct (the trait is sealed: the collection API,
/// [`Collector`](crate::Collector), is how outside data joins a walk).
pub(crate) mod private {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use crate::callback::CallbackBudget;
    use crate::clock::ClockHandle;

    pub trait Sealed {}

    /// What a family needs to create a series: the registry's clock and callback
    /// budget, the family's name, and its running byte total for the series that grow
    /// after creation (HDR histograms, timers).
    #[derive(Debug, Clone)]
    pub struct BuildContext {
        pub(crate) clock: ClockHandle,
        pub(crate) family_bytes: Option<Arc<AtomicUsize>>,
        pub(crate) callbacks: CallbackBudget,
        pub(crate) family: Arc<str>,
    }

    /// Reusable buffers for a walk.
    #[derive(Debug, Default)]
    pub struct Scratch {
        pub(crate) counts: Vec<u64>,
        /// Every HDR histogram series of a walk is read into this one snapshot.
        pub(crate) hdr: crate::hdr::HdrSnapshot,
        /// Every timer series of a walk is read into this one snapshot.
        pub(crate) timer: crate::timer::TimerSnapshot,
        /// Every native histogram series of a walk is read into this one snapshot.
        pub(crate) native: crate::native::NativeSnapshot,
    }
}

pub(crate) use private::{BuildContext, Scratch};

/// A metric type a registry can hold in labeled families. Implemented by every metric
/// type of this crate and sealed: data from elsewhere joins a walk through a
/// [`Collector`](crate::Collector) instead.
pub trait Metric: Clone + Send + Sync + 'static + private::Sealed {
    /// Per-family configuration (buckets, HDR range); `()` when there is none.
    type Config: Clone + Send + Sync + 'static;
    /// The kind registered families of this type have.
    const KIND: MetricKind;

    /// The configuration, rendered for comparisons and conflict messages.
    #[doc(hidden)]
    fn describe_config(config: &Self::Config) -> String;

    /// Checks the configuration once, at registration.
    #[doc(hidden)]
    fn validate(_config: &Self::Config) -> Result<(), Error> {
        Ok(())
    }

    /// Creates one series.
    #[doc(hidden)]
    fn build(config: &Self::Config, ctx: &BuildContext) -> Self;

    /// Heap bytes a new series holds, before any value (for a family's byte cap). Series
    /// that grow later report their growth through [`BuildContext`].
    #[doc(hidden)]
    fn initial_bytes(_config: &Self::Config) -> usize {
        // An `Arc` to a few words of atomics.
        2 * std::mem::size_of::<usize>() + std::mem::size_of::<Self>().max(16)
    }

    /// Reads the series into `out`, or calls nothing when there is nothing to export (a
    /// callback gauge without a callback).
    #[doc(hidden)]
    fn read(&self, scratch: &mut Scratch, out: &mut dyn FnMut(Value<'_>));
}

macro_rules! simple_metric {
    ($ty:ty, $kind:expr, |$m:ident| $value:expr) => {
        impl private::Sealed for $ty {}
        impl Metric for $ty {
            type Config = ();
            const KIND: MetricKind = $kind;
            fn describe_config(_: &()) -> String {
                String::new()
            }
            fn build(_: &(), _: &BuildContext) -> Self {
                <$ty>::default()
            }
            fn read(&self, _: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
                let $m = self;
                out($value)
            }
        }
    };
}

simple_metric!(Counter, MetricKind::Counter, |m| Value::Counter(m.get()));
simple_metric!(FloatCounter, MetricKind::FloatCounter, |m| {
    Value::FloatCounter(m.get())
});
simple_metric!(Gauge, MetricKind::Gauge, |m| Value::Gauge(m.get()));
simple_metric!(FloatGauge, MetricKind::FloatGauge, |m| Value::FloatGauge(
    m.get()
));

impl private::Sealed for CallbackGauge {}
impl Metric for CallbackGauge {
    type Config = ();
    const KIND: MetricKind = MetricKind::CallbackGauge;
    fn describe_config(_: &()) -> String {
        String::new()
    }
    fn build(_: &(), ctx: &BuildContext) -> Self {
        CallbackGauge::in_registry(ctx)
    }
    fn read(&self, _: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
        if let Some(v) = self.read_for_export() {
            out(Value::FloatGauge(v));
        }
    }
}

impl private::Sealed for Histogram {}
impl Metric for Histogram {
    type Config = Buckets;
    const KIND: MetricKind = MetricKind::Histogram;
    fn describe_config(config: &Buckets) -> String {
        format!("buckets {:?}", config.bounds())
    }
    fn build(config: &Buckets, _: &BuildContext) -> Self {
        Histogram::new(config.clone())
    }
    fn read(&self, scratch: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
        let sum = self.read_into(&mut scratch.counts);
        out(Value::Histogram {
            bounds: self.bounds(),
            counts: &scratch.counts,
            sum,
        });
    }
}

impl private::Sealed for NativeHistogram {}
impl Metric for NativeHistogram {
    type Config = NativeConfig;
    const KIND: MetricKind = MetricKind::NativeHistogram;
    fn describe_config(config: &NativeConfig) -> String {
        config.describe()
    }
    fn validate(config: &NativeConfig) -> Result<(), Error> {
        config.validate()
    }
    fn build(config: &NativeConfig, _: &BuildContext) -> Self {
        NativeHistogram::build(config)
    }
    fn read(&self, scratch: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
        self.read_into(&mut scratch.native);
        out(Value::NativeHistogram(&scratch.native));
    }
}

fn describe_hdr(c: &HdrConfig) -> String {
    format!(
        "HDR range {}..={} at {} significant figures, window {:?} in {} slices",
        c.lowest, c.highest, c.significant_figures, c.window, c.sub_windows
    )
}

impl private::Sealed for HdrHistogram {}
impl Metric for HdrHistogram {
    type Config = HdrConfig;
    const KIND: MetricKind = MetricKind::HdrHistogram;
    fn describe_config(config: &HdrConfig) -> String {
        describe_hdr(config)
    }
    fn validate(config: &HdrConfig) -> Result<(), Error> {
        config.validate().map(|_| ())
    }
    fn build(config: &HdrConfig, ctx: &BuildContext) -> Self {
        HdrHistogram::build(*config, ctx.clock.clone(), ctx.family_bytes.clone())
            .expect("validated at registration")
    }
    fn initial_bytes(config: &HdrConfig) -> usize {
        HdrHistogram::fixed_bytes(config.sub_windows as usize + 1)
    }
    fn read(&self, scratch: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
        self.snapshot_into(&mut scratch.hdr);
        out(Value::HdrHistogram(&scratch.hdr));
    }
}

impl private::Sealed for Meter {}
impl Metric for Meter {
    type Config = ();
    const KIND: MetricKind = MetricKind::Meter;
    fn describe_config(_: &()) -> String {
        String::new()
    }
    fn build(_: &(), ctx: &BuildContext) -> Self {
        Meter::with_clock(ctx.clock.clone())
    }
    fn initial_bytes(_: &()) -> usize {
        Meter::heap_bytes()
    }
    fn read(&self, _: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
        out(Value::Meter(&self.snapshot()));
    }
}

impl private::Sealed for Timer {}
impl Metric for Timer {
    type Config = HdrConfig;
    const KIND: MetricKind = MetricKind::Timer;
    fn describe_config(config: &HdrConfig) -> String {
        describe_hdr(config)
    }
    fn validate(config: &HdrConfig) -> Result<(), Error> {
        config.validate().map(|_| ())
    }
    fn build(config: &HdrConfig, ctx: &BuildContext) -> Self {
        Timer::build(*config, ctx.clock.clone(), ctx.family_bytes.clone())
            .expect("validated at registration")
    }
    fn initial_bytes(config: &HdrConfig) -> usize {
        Timer::new_bytes(config)
    }
    fn read(&self, scratch: &mut Scratch, out: &mut dyn FnMut(Value<'_>)) {
        self.snapshot_into(&mut scratch.timer);
        out(Value::Timer(&scratch.timer));
    }
}
