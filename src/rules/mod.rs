//! Prometheus recording and alerting rules for the metrics Tachometer emits (feature
//! `rules`): the tower middleware's `http_server_request_duration_seconds`, the function
//! attributes' `function_duration_seconds` / `function_calls_total` /
//! `function_executions_total`, and the self-metric `tachometer_series_overflow_total`.
//!
//! [`Objectives`] says what the service promises; [`Objectives::render`] checks it and
//! writes a rules file that `promtool check rules` accepts and Prometheus loads
//! (`rule_files:` in `prometheus.yml`). `cargo run --example rules -- --help` is the
//! command-line front end; `examples/monitoring/tachometer.rules.yml` is its output for
//! the defaults, and `examples/monitoring/*.test.yml` are `promtool test rules` unit tests
//! of it.
//!
//! ```
//! use tachometer::rules::{Matcher, Objectives};
//!
//! let mut objectives = Objectives::default(); // 99.9 % available, 99 % within 1 s, Apdex T = 0.5 s
//! objectives.availability = 99.5;
//! objectives.matchers.push(Matcher::eq("job", "checkout"));
//! let yaml = objectives.render().unwrap();
//! assert!(yaml.contains("alert: HttpErrorBudgetBurnFast"));
//!
//! // A target that is not a bucket bound cannot be read from classic buckets.
//! objectives.latency.target_seconds = 0.3;
//! let error = objectives.render().unwrap_err();
//! assert!(error.to_string().contains("add 0.3"), "{error}");
//! ```
//!
//! # The alerts
//!
//! | alert | severity | fires when |
//! |---|---|---|
//! | `HttpApdexLow` | `ticket` / `page` | a route's Apdex is below 0.85 for 10m / below 0.70 for 5m |
//! | `HttpErrorBudgetBurnFast` | `page` | the 5xx share burns the availability budget 14.4× over 1h and 5m, or 6× over 6h and 30m |
//! | `HttpErrorBudgetBurnSlow` | `ticket` | … 3× over 1d and 2h, or 1× over 3d and 6h |
//! | `HttpLatencyBudgetBurn` | `page` / `ticket` | the same pairs, on the share of requests slower than the latency target |
//! | `FunctionErrorRatioHigh` | `ticket` | a `#[timed]`/`#[counted]`/`#[metered]` function's `result="error"` share is above 5 % for 5m |
//! | `MetricsSeriesOverflow` | `ticket` | `tachometer_series_overflow_total` rose: a family hit its series cap |
//!
//! HTTP alerts are per `job` and `http_route`, function alerts per `job`, `module` and
//! `function`. Every ratio alert also needs a minimum request (or call) rate over its
//! window, [`Objectives::min_rate`], so that one failure among three requests at night
//! does not page anyone; zero traffic never fires (0/0 is NaN, and NaN compares false).
//! The burn-rate pairs are the multiwindow, multi-burn-rate alerts of Google's *SRE
//! Workbook* (chapter 5), for a 30-day budget.
//!
//! Errors are responses with a `5xx` status or the middleware's `error` status (the
//! service failed or the body broke mid-stream); `4xx` and `cancelled` (the client gave
//! up) are not the service's failures.
//!
//! # Recording rules
//!
//! Named `level:metric:operations` as Prometheus recommends, one set per window:
//!
//! * `job_http_route:http_server_requests:rate<w>`: requests per second;
//! * `job_http_route:http_server_request_errors_per_requests:ratio_rate<w>`: 5xx share (0
//!   for a route with traffic but no errors);
//! * `job_http_route:http_server_request_slow_per_requests:ratio_rate<w>`: share slower than
//!   the latency target;
//! * `job_http_route:http_server_request_apdex:ratio_rate<w>`: Apdex =
//!   (satisfied + tolerating / 2) / total, satisfied = `le` T, tolerating = `le` 4T;
//! * `job_module_function:function_calls:rate<w>` and
//!   `job_module_function:function_errors_per_calls:ratio_rate<w>`.
//!
//! # Buckets
//!
//! On classic histograms (the default; every scraper sees them) "at most T seconds" is
//! the cumulative bucket `le="T"`, so the latency target, T and 4T must be bucket bounds:
//! [`Objectives::render`] fails with [`RulesError::MissingBounds`], naming the bounds to add,
//! when they are not. The middleware's default bounds include 0.5 and 2.0 for the default
//! Apdex T = 0.5 s, and 1.0 for the default latency target. [`Histograms::Native`] reads
//! native histograms with `histogram_fraction` instead, where any target works (within
//! the native bucket's resolution); use it only if your Prometheus scrapes them.

mod text;

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::time::Duration;

pub use text::parse_duration;
use text::{duration, is_label_name, num, percent, promql_string, yaml_string};

/// The middleware's request-duration family (`tachometer::tower::REQUEST_DURATION`).
pub const HTTP_DURATION: &str = crate::tower::REQUEST_DURATION;
/// `#[timed]`'s family: a summary with `function`, `module`, `result` labels.
pub const FUNCTION_DURATION: &str = "function_duration_seconds";
/// `#[counted]`'s family (a counter).
pub const FUNCTION_CALLS: &str = "function_calls_total";
/// `#[metered]`'s count (the meter's counter sample).
pub const FUNCTION_EXECUTIONS: &str = "function_executions_total";
/// The self-metric counting label sets folded into a family's overflow series
/// (`tachometer::OVERFLOW_METRIC_NAME`).
pub const SERIES_OVERFLOW: &str = tachometer_core::OVERFLOW_METRIC_NAME;

/// The alert names, in the order the rules file defines them.
pub const ALERTS: [&str; 6] = [
    "HttpApdexLow",
    "HttpErrorBudgetBurnFast",
    "HttpErrorBudgetBurnSlow",
    "HttpLatencyBudgetBurn",
    "FunctionErrorRatioHigh",
    "MetricsSeriesOverflow",
];

/// What a service promises, and how to alert on it. [`Default`] is the documented
/// default set that `examples/monitoring/tachometer.rules.yml` is generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct Objectives {
    /// Percentage of requests that must not fail (5xx), e.g. `99.9`.
    pub availability: f64,
    /// Latency objective: share of requests that must finish within a target.
    pub latency: Latency,
    /// Apdex target and alert thresholds.
    pub apdex: Apdex,
    /// Burn-rate window pairs for the budget alerts.
    pub burn: BurnRates,
    /// The function error-ratio alert.
    pub functions: FunctionErrors,
    /// `MetricsSeriesOverflow` fires while the overflow counter rose within this window
    /// (default 10m).
    pub overflow_window: Duration,
    /// Minimum traffic, in requests (or calls) per second averaged over an alert's
    /// window, below which ratio alerts stay silent (default 0.1 = 6 per minute).
    pub min_rate: f64,
    /// Label matchers added to every selector (HTTP, function and overflow series
    /// alike), e.g. `job="checkout"`: use labels that all of them carry, such as `job`,
    /// `namespace` or `instance`.
    pub matchers: Vec<Matcher>,
    /// Which histogram representation the rules read.
    pub histograms: Histograms,
}

/// The latency objective: `percent` of requests finish within `target_seconds`.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// Target in seconds (a bucket bound on classic histograms). Default 1.0.
    pub target_seconds: f64,
    /// Percentage of requests that must meet it. Default 99.
    pub percent: f64,
}

/// The Apdex score and its two alert levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Apdex {
    /// T in seconds: at most T is satisfied, at most 4T tolerating. Default 0.5.
    pub t_seconds: f64,
    /// Rate window the score is computed over. Default 5m.
    pub window: Duration,
    /// `severity="ticket"` level. Default below 0.85 for 10m.
    pub ticket: Level,
    /// `severity="page"` level. Default below 0.70 for 5m.
    pub page: Level,
}

/// An alert level: fire when the value is below (Apdex) or above (error ratio)
/// `threshold` for `for_duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// The threshold.
    pub threshold: f64,
    /// How long it must hold (Prometheus' `for`).
    pub for_duration: Duration,
}

/// One multiwindow burn-rate condition: the error (or slow) share exceeds `factor` ×
/// the budget over both the `long` and the `short` window. The short window makes the
/// alert resolve soon after the problem stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    /// The long window (e.g. 1h).
    pub long: Duration,
    /// The short window (e.g. 5m, 1/12 of the long one).
    pub short: Duration,
    /// The burn-rate factor (e.g. 14.4: a 30-day budget gone in 50 hours).
    pub factor: f64,
}

/// The burn-rate pairs of the paging and the ticketing alerts; a pair fires its alert
/// on its own (`or`). An empty list leaves that severity's burn alerts out.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnRates {
    /// `severity="page"` pairs. Default 14.4× over 1h & 5m, 6× over 6h & 30m.
    pub page: Vec<BurnWindow>,
    /// `severity="ticket"` pairs. Default 3× over 1d & 2h, 1× over 3d & 6h.
    pub ticket: Vec<BurnWindow>,
}

/// `FunctionErrorRatioHigh`: the share of calls with `result="error"`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionErrors {
    /// Rate window. Default 5m.
    pub window: Duration,
    /// Fire above this share for this long. Default 0.05 for 5m.
    pub level: Level,
    /// `severity` label: `"page"` or `"ticket"`. Default `"ticket"`.
    pub severity: Severity,
}

/// The `severity` label of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Look at it in working hours.
    Ticket,
}

impl Severity {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// Which histogram representation the HTTP rules read.
#[derive(Debug, Clone, PartialEq)]
pub enum Histograms {
    /// Classic buckets (`_bucket{le}`, `_count`) with these bounds, in seconds: the
    /// latency target, T and 4T must be among them. Default: the middleware's default
    /// bounds.
    Classic {
        /// The bucket bounds the middleware was configured with.
        bounds: Vec<f64>,
    },
    /// Native histograms, read with `histogram_count` and `histogram_fraction`
    /// (Prometheus ≥ 2.40 with `--enable-feature=native-histograms`, scraping protobuf).
    Native,
}

/// A label matcher added to every selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value (a regular expression for `=~` and `!~`, checked by Prometheus).
    pub value: String,
}

/// A PromQL label-matching operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
}

impl Matcher {
    /// `name="value"`.
    pub fn eq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Eq,
            value: value.into(),
        }
    }

    /// Parses `name=value`, `name!=value`, `name=~regex` or `name!~regex` (the value
    /// unquoted).
    ///
    /// ```
    /// use tachometer::rules::{MatchOp, Matcher};
    /// assert_eq!(Matcher::parse("job=~api|web").unwrap().op, MatchOp::Re);
    /// assert!(Matcher::parse("job").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, RulesError> {
        let bad = || RulesError::BadMatcher {
            matcher: text.to_owned(),
            why: "write name=value, name!=value, name=~regex or name!~regex".into(),
        };
        let at = text.find(['=', '!']).ok_or_else(bad)?;
        let (name, rest) = text.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Re, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRe, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::Ne, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Eq, v)
        } else {
            return Err(bad());
        };
        let matcher = Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
        };
        matcher.check()?;
        Ok(matcher)
    }

    fn check(&self) -> Result<(), RulesError> {
        if !is_label_name(&self.name) {
            return Err(RulesError::BadMatcher {
                matcher: self.to_string(),
                why: format!(
                    "{:?} is not a label name (letters, digits and _, not starting with a digit)",
                    self.name
                ),
            });
        }
        if self.name.starts_with("__") {
            return Err(RulesError::BadMatcher {
                matcher: self.to_string(),
                why: "label names starting with __ are reserved to Prometheus".into(),
            });
        }
        // Selecting on these would contradict the rules' own selection.
        let generated = ["le", "quantile", "http_response_status_code", "result"];
        if generated.contains(&self.name.as_str()) {
            return Err(RulesError::BadMatcher {
                matcher: self.to_string(),
                why: format!("the rules select on {:?} themselves", self.name),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        };
        write!(f, "{}{op}{}", self.name, promql_string(&self.value))
    }
}

/// Why [`Objectives::render`] refused. Each message says what to change.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RulesError {
    /// A target is not a bucket bound of the classic histogram, so no `le` series
    /// counts the requests within it.
    MissingBounds {
        /// `(target in seconds, what needs it)`, e.g. `(2.0, "Apdex 4T")`.
        missing: Vec<(f64, &'static str)>,
        /// The bounds the histogram has.
        bounds: Vec<f64>,
    },
    /// An objective is out of range.
    BadObjective {
        /// Which setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// [`bounds_in_exposition`] found no bucket of the family.
    NoBuckets {
        /// The histogram family looked for.
        family: String,
    },
    /// A label matcher is malformed.
    BadMatcher {
        /// The matcher as given.
        matcher: String,
        /// What is wrong.
        why: String,
    },
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::MissingBounds { missing, bounds } => {
                let targets: Vec<String> = missing
                    .iter()
                    .map(|(b, why)| format!("{} s ({why})", num(*b)))
                    .collect();
                let add: Vec<String> = missing.iter().map(|(b, _)| num(*b)).collect();
                let have: Vec<String> = bounds.iter().map(|b| num(*b)).collect();
                write!(
                    f,
                    "{} {} of {HTTP_DURATION} (bounds: {}), so classic \
                     buckets cannot count the requests within {}: add {} to the middleware's \
                     buckets (MetricsLayer::builder().buckets(..)) and to Histograms::Classic \
                     (--bounds), pick targets that are bounds, or read native histograms \
                     (Histograms::Native, --native)",
                    targets.join(", "),
                    if missing.len() == 1 {
                        "is not a bucket bound"
                    } else {
                        "are not bucket bounds"
                    },
                    have.join(", "),
                    if missing.len() == 1 { "it" } else { "them" },
                    add.join(" and ")
                )
            }
            RulesError::BadObjective {
                setting,
                value,
                expected,
            } => write!(f, "{setting} is {value}; it must be {expected}"),
            RulesError::NoBuckets { family } => write!(
                f,
                "no {family}_bucket series in the exposition: is the family's name right, \
                 and has the service recorded into it (series appear with the first request)?"
            ),
            RulesError::BadMatcher { matcher, why } => {
                write!(f, "label matcher {matcher:?}: {why}")
            }
        }
    }
}

impl std::error::Error for RulesError {}

impl Default for Objectives {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        let window = |long: u64, short: u64, factor: f64| BurnWindow {
            long: Duration::from_secs(long),
            short: Duration::from_secs(short),
            factor,
        };
        Objectives {
            availability: 99.9,
            latency: Latency {
                target_seconds: 1.0,
                percent: 99.0,
            },
            apdex: Apdex {
                t_seconds: 0.5,
                window: Duration::from_secs(5 * MIN),
                ticket: Level {
                    threshold: 0.85,
                    for_duration: Duration::from_secs(10 * MIN),
                },
                page: Level {
                    threshold: 0.70,
                    for_duration: Duration::from_secs(5 * MIN),
                },
            },
            burn: BurnRates {
                page: vec![window(HOUR, 5 * MIN, 14.4), window(6 * HOUR, 30 * MIN, 6.0)],
                ticket: vec![
                    window(24 * HOUR, 2 * HOUR, 3.0),
                    window(72 * HOUR, 6 * HOUR, 1.0),
                ],
            },
            functions: FunctionErrors {
                window: Duration::from_secs(5 * MIN),
                level: Level {
                    threshold: 0.05,
                    for_duration: Duration::from_secs(5 * MIN),
                },
                severity: Severity::Ticket,
            },
            overflow_window: Duration::from_secs(10 * MIN),
            min_rate: 0.1,
            matchers: Vec::new(),
            histograms: Histograms::Classic {
                bounds: default_bounds(),
            },
        }
    }
}

/// The middleware's default bucket bounds.
fn default_bounds() -> Vec<f64> {
    crate::tower::default_buckets().bounds().to_vec()
}

impl Objectives {
    /// Divides every window and `for` duration by `divisor` (rounded to milliseconds),
    /// keeping thresholds and burn factors: for demos and end-to-end tests that cannot
    /// wait an hour. `divisor` 0 is treated as 1.
    #[must_use]
    pub fn time_scaled(mut self, divisor: u32) -> Self {
        let d = divisor.max(1);
        let scale = |t: &mut Duration| *t /= d;
        scale(&mut self.apdex.window);
        scale(&mut self.apdex.ticket.for_duration);
        scale(&mut self.apdex.page.for_duration);
        for w in self.burn.page.iter_mut().chain(self.burn.ticket.iter_mut()) {
            scale(&mut w.long);
            scale(&mut w.short);
        }
        scale(&mut self.functions.window);
        scale(&mut self.functions.level.for_duration);
        scale(&mut self.overflow_window);
        self
    }

    /// Checks the objectives against each other and against the histogram's bounds.
    pub fn check(&self) -> Result<(), RulesError> {
        let bad = |setting: &'static str, value: f64, expected: &str| {
            Err(RulesError::BadObjective {
                setting,
                value: num(value),
                expected: expected.to_owned(),
            })
        };
        let pct = |setting, v: f64| {
            if v > 0.0 && v < 100.0 {
                Ok(())
            } else {
                bad(setting, v, "a percentage above 0 and below 100, e.g. 99.9")
            }
        };
        pct("availability", self.availability)?;
        pct("latency percent", self.latency.percent)?;
        let secs = |setting, v: f64| {
            if v.is_finite() && v > 0.0 && v < 1e9 {
                Ok(())
            } else {
                bad(setting, v, "a positive number of seconds, e.g. 0.5")
            }
        };
        secs("latency target", self.latency.target_seconds)?;
        secs("Apdex T", self.apdex.t_seconds)?;
        let ratio = |setting, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                bad(setting, v, "a ratio above 0 and below 1, e.g. 0.85")
            }
        };
        ratio("Apdex ticket threshold", self.apdex.ticket.threshold)?;
        ratio("Apdex page threshold", self.apdex.page.threshold)?;
        ratio("function error ratio", self.functions.level.threshold)?;
        if !(self.min_rate.is_finite() && self.min_rate >= 0.0) {
            return bad(
                "minimum rate",
                self.min_rate,
                "0 or more requests per second",
            );
        }
        let window = |setting: &'static str, d: Duration| {
            if d >= Duration::from_millis(1) {
                Ok(())
            } else {
                Err(RulesError::BadObjective {
                    setting,
                    value: duration(d),
                    expected: "at least 1ms (a rate window)".into(),
                })
            }
        };
        window("Apdex window", self.apdex.window)?;
        window("function error window", self.functions.window)?;
        window("overflow window", self.overflow_window)?;
        let budgets = [
            ("availability", 1.0 - self.availability / 100.0),
            ("latency", 1.0 - self.latency.percent / 100.0),
        ];
        for w in self.burn.page.iter().chain(&self.burn.ticket) {
            window("burn-rate short window", w.short)?;
            if w.long <= w.short {
                return Err(RulesError::BadObjective {
                    setting: "burn-rate window pair",
                    value: format!("{} & {}", duration(w.long), duration(w.short)),
                    expected: "a long window longer than its short window, e.g. 1h & 5m".into(),
                });
            }
            for (what, budget) in budgets {
                if !(w.factor.is_finite() && w.factor > 0.0) || w.factor * budget >= 1.0 {
                    return Err(RulesError::BadObjective {
                        setting: "burn-rate factor",
                        value: num(w.factor),
                        expected: format!(
                            "positive, and below 1 / the {what} budget ({} %) so that the \
                             alert can fire at all; lower the factor or raise the objective",
                            percent(budget)
                        ),
                    });
                }
            }
        }
        for m in &self.matchers {
            m.check()?;
        }
        if let Histograms::Classic { bounds } = &self.histograms {
            let t = self.apdex.t_seconds;
            let wanted = [
                (self.latency.target_seconds, "latency target"),
                (t, "Apdex T"),
                (4.0 * t, "Apdex 4T"),
            ];
            let mut missing: Vec<(f64, &'static str)> = Vec::new();
            for (target, why) in wanted {
                if find_bound(bounds, target).is_none()
                    && !missing.iter().any(|(b, _)| same(*b, target))
                {
                    missing.push((target, why));
                }
            }
            if !missing.is_empty() {
                return Err(RulesError::MissingBounds {
                    missing,
                    bounds: bounds.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks the objectives ([`check`](Self::check)) and writes the rules file (YAML).
    pub fn render(&self) -> Result<String, RulesError> {
        self.check()?;
        let mut out = String::new();
        self.header(&mut out);
        out.push_str("groups:\n");
        self.http_group(&mut out);
        self.function_group(&mut out);
        self.self_group(&mut out);
        Ok(out)
    }

    fn header(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# Prometheus rules for Tachometer's metrics, written by `cargo run --example rules`\n\
             # (tachometer::rules). Regenerate rather than edit: the generator checks the\n\
             # objectives against the histogram's buckets.\n\
             #\n\
             # availability: {} % of requests answer without a 5xx\n\
             # latency:      {} % of requests within {} s\n\
             # Apdex:        T = {} s (satisfied <= T, tolerating <= 4T); ticket below {} for {}, page below {} for {}",
            num(self.availability),
            num(self.latency.percent),
            num(self.latency.target_seconds),
            num(self.apdex.t_seconds),
            num(self.apdex.ticket.threshold),
            duration(self.apdex.ticket.for_duration),
            num(self.apdex.page.threshold),
            duration(self.apdex.page.for_duration),
        );
        let pairs = |ws: &[BurnWindow]| {
            ws.iter()
                .map(|w| {
                    format!(
                        "{}x over {} & {}",
                        num(w.factor),
                        duration(w.long),
                        duration(w.short)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "# burn rates:   page {}; ticket {}\n\
             # functions:    error share above {} for {} ({})\n\
             # min. traffic: {} requests (calls) per second over each alert's window\n\
             # histograms:   {}\n\
             # matchers:     {}",
            pairs(&self.burn.page),
            pairs(&self.burn.ticket),
            num(self.functions.level.threshold),
            duration(self.functions.level.for_duration),
            self.functions.severity.as_str(),
            num(self.min_rate),
            match self.histograms {
                Histograms::Classic { .. } => "classic buckets (_bucket{le}, _count)",
                Histograms::Native => "native (histogram_count, histogram_fraction)",
            },
            if self.matchers.is_empty() {
                "(none)".to_owned()
            } else {
                self.matchers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }

    /// `{user matchers, extra}` or empty.
    fn selector(&self, extra: &[String]) -> String {
        let all: Vec<String> = self
            .matchers
            .iter()
            .map(ToString::to_string)
            .chain(extra.iter().cloned())
            .collect();
        if all.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", all.join(","))
        }
    }

    /// Per-second HTTP request rate summed by job and route.
    fn http_rate(&self, w: Duration, extra: &[String]) -> String {
        match self.histograms {
            Histograms::Classic { .. } => format!(
                "sum by (job, http_route) (rate({HTTP_DURATION}_count{}[{}]))",
                self.selector(extra),
                duration(w)
            ),
            Histograms::Native => format!(
                "histogram_count(sum by (job, http_route) (rate({HTTP_DURATION}{}[{}])))",
                self.selector(extra),
                duration(w)
            ),
        }
    }

    /// Share of requests slower than the latency target, by job and route. Classic
    /// buckets subtract rates before dividing, so whole-number rates give an exact
    /// ratio (`1 - within` would round 6 % up past a 6 % threshold).
    fn http_slow(&self, w: Duration) -> String {
        let target = self.latency.target_seconds;
        match &self.histograms {
            Histograms::Classic { bounds } => {
                let le = find_bound(bounds, target).map_or_else(|| num(target), le_value);
                format!(
                    "(\n{}\n  -\n{}\n)\n/\n{}",
                    indent(&self.http_rate(w, &[])),
                    indent(&self.http_bucket_rate(&le, w)),
                    self.http_rate(w, &[])
                )
            }
            Histograms::Native => format!("1 - {}", self.native_within(target, w)),
        }
    }

    /// Share of requests within `target` seconds, by job and route, from native
    /// histograms.
    fn native_within(&self, target: f64, w: Duration) -> String {
        format!(
            "histogram_fraction(0, {}, sum by (job, http_route) (rate({HTTP_DURATION}{}[{}])))",
            num(target),
            self.selector(&[]),
            duration(w)
        )
    }

    fn http_bucket_rate(&self, le: &str, w: Duration) -> String {
        format!(
            "sum by (job, http_route) (rate({HTTP_DURATION}_bucket{}[{}]))",
            self.selector(&[format!("le={}", promql_string(le))]),
            duration(w)
        )
    }

    fn http_group(&self, out: &mut String) {
        let errors = [r#"http_response_status_code=~"5..|error""#.to_owned()];
        let mut windows: BTreeSet<Duration> = BTreeSet::new();
        windows.insert(self.apdex.window);
        for w in self.burn.page.iter().chain(&self.burn.ticket) {
            windows.insert(w.long);
            windows.insert(w.short);
        }
        out.push_str("  - name: tachometer-http\n    rules:\n");
        for &w in &windows {
            let suffix = duration(w);
            record(
                out,
                &format!("job_http_route:http_server_requests:rate{suffix}"),
                &self.http_rate(w, &[]),
            );
            record(
                out,
                &format!(
                    "job_http_route:http_server_request_errors_per_requests:ratio_rate{suffix}"
                ),
                &format!(
                    "(\n{}\n  or\n  0 * {}\n)\n/\n{}",
                    indent(&self.http_rate(w, &errors)),
                    self.http_rate(w, &[]),
                    self.http_rate(w, &[])
                ),
            );
            let burn_window = self
                .burn
                .page
                .iter()
                .chain(&self.burn.ticket)
                .any(|b| b.long == w || b.short == w);
            if burn_window {
                record(
                    out,
                    &format!(
                        "job_http_route:http_server_request_slow_per_requests:ratio_rate{suffix}"
                    ),
                    &self.http_slow(w),
                );
            }
        }
        let aw = duration(self.apdex.window);
        let t = self.apdex.t_seconds;
        let apdex = match &self.histograms {
            Histograms::Classic { bounds } => {
                let le =
                    |target: f64| find_bound(bounds, target).map_or_else(|| num(target), le_value);
                format!(
                    "(\n{}\n  +\n{}\n)\n/ 2\n/\n{}",
                    indent(&self.http_bucket_rate(&le(t), self.apdex.window)),
                    indent(&self.http_bucket_rate(&le(4.0 * t), self.apdex.window)),
                    self.http_rate(self.apdex.window, &[])
                )
            }
            Histograms::Native => format!(
                "(\n{}\n  +\n{}\n)\n/ 2",
                indent(&self.native_within(t, self.apdex.window)),
                indent(&self.native_within(4.0 * t, self.apdex.window)),
            ),
        };
        record(
            out,
            &format!("job_http_route:http_server_request_apdex:ratio_rate{aw}"),
            &apdex,
        );

        // Apdex: page first, so that the stronger level reads first in the file.
        for (level, severity) in [
            (&self.apdex.page, Severity::Page),
            (&self.apdex.ticket, Severity::Ticket),
        ] {
            alert(
                out,
                &Alert {
                    name: "HttpApdexLow",
                    expr: format!(
                        "job_http_route:http_server_request_apdex:ratio_rate{aw} < {}\nand\njob_http_route:http_server_requests:rate{aw} >= {}",
                        num(level.threshold),
                        num(self.min_rate)
                    ),
                    for_duration: level.for_duration,
                    severity,
                    summary: "Apdex of {{ $labels.http_route }} on {{ $labels.job }} is low".into(),
                    description: format!(
                        "The Apdex score (T = {} s: requests within {} s satisfy, within {} s tolerate) \
                         has been below {} for {}.",
                        num(t),
                        num(t),
                        num(4.0 * t),
                        num(level.threshold),
                        duration(level.for_duration)
                    ),
                },
            );
        }

        let availability_budget = 1.0 - self.availability / 100.0;
        let latency_budget = 1.0 - self.latency.percent / 100.0;
        for (name, ws, severity) in [
            ("HttpErrorBudgetBurnFast", &self.burn.page, Severity::Page),
            (
                "HttpErrorBudgetBurnSlow",
                &self.burn.ticket,
                Severity::Ticket,
            ),
        ] {
            if ws.is_empty() {
                continue;
            }
            alert(
                out,
                &Alert {
                    name,
                    expr: burn_expr("http_server_request_errors_per_requests", ws, availability_budget, self.min_rate),
                    for_duration: Duration::ZERO,
                    severity,
                    summary: format!(
                        "{{{{ $labels.http_route }}}} on {{{{ $labels.job }}}} burns its {} % availability error budget {}",
                        num(self.availability),
                        if severity == Severity::Page { "fast" } else { "steadily" }
                    ),
                    description: format!(
                        "The share of 5xx responses exceeds {}.",
                        burn_prose(ws, &format!("the error budget ({} % of requests)", percent(availability_budget)))
                    ),
                },
            );
        }
        for (ws, severity) in [
            (&self.burn.page, Severity::Page),
            (&self.burn.ticket, Severity::Ticket),
        ] {
            if ws.is_empty() {
                continue;
            }
            alert(
                out,
                &Alert {
                    name: "HttpLatencyBudgetBurn",
                    expr: burn_expr("http_server_request_slow_per_requests", ws, latency_budget, self.min_rate),
                    for_duration: Duration::ZERO,
                    severity,
                    summary: format!(
                        "{{{{ $labels.http_route }}}} on {{{{ $labels.job }}}} burns its latency budget ({} % within {} s)",
                        num(self.latency.percent),
                        num(self.latency.target_seconds)
                    ),
                    description: format!(
                        "The share of requests slower than {} s exceeds {}.",
                        num(self.latency.target_seconds),
                        burn_prose(ws, &format!("the latency budget ({} % of requests)", percent(latency_budget)))
                    ),
                },
            );
        }
    }

    fn function_group(&self, out: &mut String) {
        let w = self.functions.window;
        let suffix = duration(w);
        let rate = |family: &str, extra: &[String]| {
            format!(
                "sum by (job, module, function) (rate({family}{}[{}]))",
                self.selector(extra),
                duration(w)
            )
        };
        let families = [FUNCTION_DURATION_COUNT, FUNCTION_CALLS, FUNCTION_EXECUTIONS];
        let error = [r#"result="error""#.to_owned()];
        out.push_str("  - name: tachometer-functions\n    rules:\n");
        record(
            out,
            &format!("job_module_function:function_calls:rate{suffix}"),
            &families
                .iter()
                .map(|f| rate(f, &[]))
                .collect::<Vec<_>>()
                .join("\nor\n"),
        );
        record(
            out,
            &format!("job_module_function:function_errors_per_calls:ratio_rate{suffix}"),
            &families
                .iter()
                .map(|f| {
                    format!(
                        "(\n{}\n  /\n{}\n)",
                        indent(&rate(f, &error)),
                        indent(&rate(f, &[]))
                    )
                })
                .collect::<Vec<_>>()
                .join("\nor\n"),
        );
        alert(
            out,
            &Alert {
                name: "FunctionErrorRatioHigh",
                expr: format!(
                    "job_module_function:function_errors_per_calls:ratio_rate{suffix} > {}\nand\njob_module_function:function_calls:rate{suffix} >= {}",
                    num(self.functions.level.threshold),
                    num(self.min_rate)
                ),
                for_duration: self.functions.level.for_duration,
                severity: self.functions.severity,
                summary: "{{ $labels.module }}::{{ $labels.function }} on {{ $labels.job }} fails often".into(),
                description: format!(
                    "More than {} % of its calls ended in an error (an Err or a panic) over {}, for {}.",
                    percent(self.functions.level.threshold),
                    duration(w),
                    duration(self.functions.level.for_duration)
                ),
            },
        );
    }

    fn self_group(&self, out: &mut String) {
        let sel = self.selector(&[]);
        let w = duration(self.overflow_window);
        out.push_str("  - name: tachometer-self\n    rules:\n");
        alert(
            out,
            &Alert {
                name: "MetricsSeriesOverflow",
                // The counter's series appears with the first overflow, so `increase`
                // (which needs two samples) misses that one: the `unless … offset` arm
                // catches a series that is new within the window.
                expr: format!(
                    "increase({SERIES_OVERFLOW}{sel}[{w}]) > 0\nor\n(\n  {SERIES_OVERFLOW}{sel}\n  unless\n  {SERIES_OVERFLOW}{sel} offset {w}\n)"
                ),
                for_duration: Duration::ZERO,
                severity: Severity::Ticket,
                summary: "{{ $labels.metric }} on {{ $labels.job }} hit its series cap".into(),
                description: format!(
                    "New label sets of {{{{ $labels.metric }}}} were folded into its __overflow__ series within the last {w}: \
                     a label takes unbounded values (an ID, a raw path) or the cap (Opts::max_series) is too low."
                ),
            },
        );
    }
}

/// The bucket bounds of histogram `family` as a service exposes them: the distinct `le`
/// values of its `<family>_bucket` samples in Prometheus text or OpenMetrics `exposition`
/// (a `/metrics` body), ascending, without `+Inf`. Pass them as
/// [`Histograms::Classic`] to check objectives against what the service really has.
///
/// ```
/// use tachometer::rules::{bounds_in_exposition, HTTP_DURATION};
/// let body = "http_server_request_duration_seconds_bucket{http_route=\"/\",le=\"0.5\"} 3\n\
///             http_server_request_duration_seconds_bucket{http_route=\"/\",le=\"2.0\"} 4\n\
///             http_server_request_duration_seconds_bucket{http_route=\"/\",le=\"+Inf\"} 4\n";
/// assert_eq!(bounds_in_exposition(body, HTTP_DURATION).unwrap(), vec![0.5, 2.0]);
/// ```
pub fn bounds_in_exposition(exposition: &str, family: &str) -> Result<Vec<f64>, RulesError> {
    let mut bounds: Vec<f64> = Vec::new();
    let mut found = false;
    for line in exposition.lines() {
        let Some(labels) = line
            .strip_prefix(family)
            .and_then(|l| l.strip_prefix("_bucket"))
            .filter(|l| l.starts_with('{'))
        else {
            continue;
        };
        // Inside a label value a `"` is always escaped (`\"`), so `le="` right after
        // `{` or `,` can only start the `le` label itself.
        let Some(start) = ["{le=\"", ",le=\""]
            .iter()
            .filter_map(|pat| labels.find(pat).map(|i| i + pat.len()))
            .min()
        else {
            continue;
        };
        let Some(value) = labels[start..].split('"').next() else {
            continue;
        };
        found = true;
        // `+Inf` (or anything else that is not a finite number) is not a bound.
        if let Ok(b) = value.parse::<f64>() {
            if b.is_finite() && !bounds.contains(&b) {
                bounds.push(b);
            }
        }
    }
    if !found {
        return Err(RulesError::NoBuckets {
            family: family.to_owned(),
        });
    }
    bounds.sort_by(f64::total_cmp);
    Ok(bounds)
}

/// `#[timed]` is exported as a summary; its call count is the `_count` sample.
const FUNCTION_DURATION_COUNT: &str = "function_duration_seconds_count";

/// The bound equal to `target` (within a relative 1e-9), if any.
fn find_bound(bounds: &[f64], target: f64) -> Option<f64> {
    bounds.iter().copied().find(|&b| same(b, target))
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// The `le` label value Tachometer writes for `bound`: OpenMetrics canonical form
/// (`0.5`, `2.0`, `1e+06`) in both text formats, which Prometheus ≥ 3 also normalises to.
fn le_value(bound: f64) -> String {
    tachometer_exporters::prometheus::le_value(bound)
}

/// `(ratio_long > f×budget and ratio_short > f×budget and traffic_long >= min) or …`
fn burn_expr(metric: &str, ws: &[BurnWindow], budget: f64, min_rate: f64) -> String {
    ws.iter()
        .map(|w| {
            let threshold = num(w.factor * budget);
            let (long, short) = (duration(w.long), duration(w.short));
            format!(
                "(\n  job_http_route:{metric}:ratio_rate{long} > {threshold}\n  and\n  \
                 job_http_route:{metric}:ratio_rate{short} > {threshold}\n  and\n  \
                 job_http_route:http_server_requests:rate{long} >= {}\n)",
                num(min_rate)
            )
        })
        .collect::<Vec<_>>()
        .join("\nor\n")
}

/// `14.4x <budget> over both 1h and 5m, or 6x over both 6h and 30m`.
fn burn_prose(ws: &[BurnWindow], budget: &str) -> String {
    ws.iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "{}x{} over both {} and {}",
                num(w.factor),
                if i == 0 {
                    format!(" {budget}")
                } else {
                    String::new()
                },
                duration(w.long),
                duration(w.short)
            )
        })
        .collect::<Vec<_>>()
        .join(", or ")
}

fn indent(expr: &str) -> String {
    expr.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes `expr` as a YAML literal block, each line indented under `key`.
fn block(out: &mut String, key: &str, expr: &str) {
    let _ = writeln!(out, "        {key}: |-");
    for line in expr.lines() {
        let _ = writeln!(out, "          {line}");
    }
}

fn record(out: &mut String, name: &str, expr: &str) {
    let _ = writeln!(out, "      - record: {name}");
    block(out, "expr", expr);
}

struct Alert {
    name: &'static str,
    expr: String,
    for_duration: Duration,
    severity: Severity,
    summary: String,
    description: String,
}

fn alert(out: &mut String, a: &Alert) {
    let _ = writeln!(out, "      - alert: {}", a.name);
    block(out, "expr", &a.expr);
    if a.for_duration > Duration::ZERO {
        let _ = writeln!(out, "        for: {}", duration(a.for_duration));
    }
    let _ = writeln!(
        out,
        "        labels:\n          severity: {}\n        annotations:\n          summary: {}\n          description: {}",
        a.severity.as_str(),
        yaml_string(&a.summary),
        yaml_string(&a.description)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_render_and_name_every_alert() {
        let yaml = Objectives::default().render().unwrap();
        for name in ALERTS {
            assert!(yaml.contains(&format!("alert: {name}\n")), "{name}");
        }
        assert!(yaml.contains(r#"le="0.5""#) && yaml.contains(r#"le="2.0""#));
        assert!(yaml.contains(r#"le="1.0""#));
        // Recording rules follow `level:metric:operations`.
        let records: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- record: "))
            .collect();
        assert_eq!(records.len(), 24, "{records:?}");
        for name in records {
            let parts: Vec<&str> = name.split(':').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert!(parts.iter().all(|p| !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
            assert!(
                parts[2].starts_with("rate") || parts[2].starts_with("ratio_rate"),
                "{name}"
            );
        }
    }

    #[test]
    fn missing_bounds_name_what_to_add() {
        let mut o = Objectives {
            histograms: Histograms::Classic {
                bounds: vec![0.1, 0.5, 1.0, 2.5],
            },
            ..Objectives::default()
        };
        let e = o.render().unwrap_err();
        assert_eq!(
            e,
            RulesError::MissingBounds {
                missing: vec![(2.0, "Apdex 4T")],
                bounds: vec![0.1, 0.5, 1.0, 2.5]
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("2 s (Apdex 4T) is not a bucket bound"),
            "{msg}"
        );
        assert!(msg.contains("add 2 to the middleware's buckets"), "{msg}");
        o.apdex.t_seconds = 0.3;
        o.latency.target_seconds = 0.3;
        let msg = o.render().unwrap_err().to_string();
        assert!(
            msg.contains("0.3 s (latency target), 1.2 s (Apdex 4T) are not bucket bounds of"),
            "{msg}"
        );
        assert!(msg.contains("add 0.3 and 1.2"), "{msg}");
        o.histograms = Histograms::Native;
        let yaml = o.render().unwrap();
        assert!(yaml.contains("histogram_fraction(0, 1.2, "), "{yaml}");
    }

    #[test]
    fn bad_objectives_say_what_to_change() {
        type Change = Box<dyn Fn(&mut Objectives)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|o| o.availability = 100.0), "availability is 100; it must be a percentage"),
            (Box::new(|o| o.latency.percent = 0.0), "latency percent is 0"),
            (Box::new(|o| o.apdex.t_seconds = -1.0), "Apdex T is -1; it must be a positive"),
            (Box::new(|o| o.apdex.page.threshold = 1.5), "Apdex page threshold is 1.5"),
            (Box::new(|o| o.min_rate = f64::NAN), "minimum rate is NaN"),
            (
                Box::new(|o| o.burn.page[0].short = Duration::from_secs(7200)),
                "burn-rate window pair is 1h & 2h",
            ),
            (
                Box::new(|o| o.availability = 90.0),
                "burn-rate factor is 14.4; it must be positive, and below 1 / the availability budget (10 %)",
            ),
            (
                Box::new(|o| o.apdex.window = Duration::ZERO),
                "Apdex window is 0s; it must be at least 1ms",
            ),
        ];
        for (change, expected) in cases {
            let mut o = Objectives::default();
            change(&mut o);
            let msg = o.render().unwrap_err().to_string();
            assert!(msg.starts_with(expected), "{msg}\nexpected: {expected}");
        }
    }

    #[test]
    fn matchers_parse_validate_and_quote() {
        let m = Matcher::parse(r#"job=a"b"#).unwrap();
        assert_eq!(m.to_string(), r#"job="a\"b""#);
        assert_eq!(Matcher::parse("env!=dev").unwrap().op, MatchOp::Ne);
        assert_eq!(Matcher::parse("env!~dev|test").unwrap().op, MatchOp::NotRe);
        assert!(Matcher::parse("1x=a")
            .unwrap_err()
            .to_string()
            .contains("not a label name"));
        assert!(Matcher::parse("le=1")
            .unwrap_err()
            .to_string()
            .contains("themselves"));
        assert!(Matcher::parse("__name__=x").is_err());
        assert!(Matcher::parse("job~x").is_err());
        let o = Objectives {
            matchers: vec![
                Matcher::eq("job", "api"),
                Matcher::parse("http_route!=/health").unwrap(),
            ],
            ..Objectives::default()
        };
        let yaml = o.render().unwrap();
        assert!(yaml.contains(
            r#"rate(http_server_request_duration_seconds_count{job="api",http_route!="/health",http_response_status_code=~"5..|error"}[5m])"#
        ), "{yaml}");
        assert!(
            yaml.contains(r#"tachometer_series_overflow_total{job="api",http_route!="/health"}"#)
        );
    }

    #[test]
    fn time_scaling_divides_every_duration() {
        let o = Objectives::default().time_scaled(100);
        assert_eq!(o.burn.page[0].long, Duration::from_secs(36));
        assert_eq!(o.burn.page[0].short, Duration::from_secs(3));
        assert_eq!(o.apdex.ticket.for_duration, Duration::from_secs(6));
        let yaml = o.render().unwrap();
        assert!(yaml.contains("job_http_route:http_server_requests:rate36s"));
        assert!(yaml.contains("for: 6s"));
    }
}
