//! Exponentially weighted moving averages, as Dropwizard Metrics (and UNIX load
//! averages) compute them: ticked every 5 seconds with `alpha = 1 - exp(-5 s / window)`.

/// Dropwizard's tick interval, in nanoseconds: the one definition the meter uses too.
pub(crate) const TICK_NANOS: u64 = 5_000_000_000;
/// [`TICK_NANOS`] in seconds.
const TICK_SECONDS: f64 = TICK_NANOS as f64 / 1e9;

/// An EWMA of an event rate. Not synchronized: [`Meter`](crate::Meter) owns three behind
/// its tick lock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ewma {
    alpha: f64,
    /// Events per nanosecond.
    rate: f64,
    initialized: bool,
}

impl Ewma {
    /// An EWMA over `minutes` minutes, ticked every 5 seconds.
    #[must_use]
    pub(crate) fn over_minutes(minutes: f64) -> Self {
        Self::with_alpha(1.0 - (-(TICK_SECONDS / 60.0 / minutes)).exp())
    }

    /// The one-minute average (alpha 0.0799…).
    #[must_use]
    pub(crate) fn one_minute() -> Self {
        Self::over_minutes(1.0)
    }

    /// The five-minute average (alpha 0.0165…).
    #[must_use]
    pub(crate) fn five_minutes() -> Self {
        Self::over_minutes(5.0)
    }

    /// The fifteen-minute average (alpha 0.00554…).
    #[must_use]
    pub(crate) fn fifteen_minutes() -> Self {
        Self::over_minutes(15.0)
    }

    /// An EWMA with an explicit smoothing factor.
    #[must_use]
    pub(crate) fn with_alpha(alpha: f64) -> Self {
        Self {
            alpha,
            rate: 0.0,
            initialized: false,
        }
    }

    /// The smoothing factor.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Folds in `count` events seen during the last tick interval. The first tick sets
    /// the rate outright; later ticks smooth towards the instant rate.
    pub(crate) fn tick(&mut self, count: u64) {
        let instant = count as f64 / TICK_NANOS as f64;
        if self.initialized {
            self.rate += self.alpha * (instant - self.rate);
        } else {
            self.rate = instant;
            self.initialized = true;
        }
    }

    /// Forgets history after a long idle period, as Dropwizard does.
    pub(crate) fn reset(&mut self) {
        self.rate = f64::MIN_POSITIVE;
    }

    /// Events per second.
    #[must_use]
    pub(crate) fn rate_per_second(&self) -> f64 {
        self.rate * 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after_minutes(mut e: Ewma, minutes: usize) -> Ewma {
        for _ in 0..minutes * 12 {
            e.tick(0);
        }
        e
    }

    #[test]
    fn alphas_match_dropwizard() {
        assert_eq!(Ewma::one_minute().alpha(), 0.07995558537067671);
        assert_eq!(Ewma::five_minutes().alpha(), 0.01652854617838251);
        assert_eq!(Ewma::fifteen_minutes().alpha(), 0.005540151995103271);
    }

    #[test]
    fn dropwizard_ewma_vectors() {
        let cases: [(Ewma, [f64; 4]); 3] = [
            (
                Ewma::one_minute(),
                [0.6, 0.22072766, 0.08120117, 0.02987224],
            ),
            (
                Ewma::five_minutes(),
                [0.6, 0.49123845, 0.40219203, 0.32928698],
            ),
            (
                Ewma::fifteen_minutes(),
                [0.6, 0.56130419, 0.52510399, 0.49123845],
            ),
        ];
        for (mut e, expected) in cases {
            e.tick(3);
            for (minute, want) in expected.iter().enumerate() {
                let got = after_minutes(e, minute).rate_per_second();
                assert!(
                    (got - want).abs() < 1e-6,
                    "alpha {} minute {minute}: {got} != {want}",
                    e.alpha()
                );
            }
        }
    }
}
