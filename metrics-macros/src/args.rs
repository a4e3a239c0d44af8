//! Options of `#[timed]`, `#[counted]` and `#[metered]`.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::{Expr, LitStr};

use crate::names::{label_name_error, metric_name_error, Reserved};
use crate::naming::{BUCKET_LABEL, QUANTILE_LABEL, WINDOW_LABEL};

/// Which attribute is being expanded.
#[derive(Clone, Copy)]
pub enum Kind {
    Timed,
    Counted,
    Metered,
}

impl Kind {
    pub fn attr(self) -> &'static str {
        match self {
            Kind::Timed => "timed",
            Kind::Counted => "counted",
            Kind::Metered => "metered",
        }
    }

    pub fn default_name(self) -> &'static str {
        match self {
            Kind::Timed => "function_duration_seconds",
            Kind::Counted => "function_calls_total",
            Kind::Metered => "function_executions",
        }
    }

    pub fn default_help(self) -> &'static str {
        match self {
            Kind::Timed => "Time from call to completion of functions instrumented with #[timed].",
            Kind::Counted => "Completed calls of functions instrumented with #[counted].",
            Kind::Metered => {
                "Completed calls and call rates of functions instrumented with #[metered]."
            }
        }
    }

    /// Label names the family already has, plus those the metric kind reserves.
    pub fn reserved_labels(self) -> Reserved {
        const OWN: &str = "the attribute sets it itself";
        match self {
            Kind::Timed => &[
                ("function", OWN),
                ("module", OWN),
                ("result", OWN),
                (
                    BUCKET_LABEL.name,
                    "durations are exported as histograms, whose buckets use it",
                ),
                (
                    QUANTILE_LABEL.name,
                    "#[timed(summary)] exports summaries, whose quantiles use it",
                ),
            ],
            Kind::Counted => &[("function", OWN), ("module", OWN), ("result", OWN)],
            Kind::Metered => &[
                ("function", OWN),
                ("module", OWN),
                ("result", OWN),
                (WINDOW_LABEL.name, WINDOW_LABEL.why),
            ],
        }
    }
}

impl Args {
    /// The family name when none is given.
    pub fn default_name(&self, kind: Kind) -> &'static str {
        if self.summary {
            "function_duration_summary_seconds"
        } else {
            kind.default_name()
        }
    }
}

/// Parsed options.
pub struct Args {
    pub name: Option<LitStr>,
    pub help: Option<LitStr>,
    pub function: Option<LitStr>,
    pub labels: Vec<(String, LitStr)>,
    pub registry: Option<Expr>,
    /// `#[timed(summary)]`: a Dropwizard-style timer (summary + rates) instead of a
    /// classic + native histogram.
    pub summary: bool,
}

pub fn parse(kind: Kind, attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args {
        name: None,
        help: None,
        function: None,
        labels: Vec::new(),
        registry: None,
        summary: false,
    };
    let mut labels_span = None;
    let parser = syn::meta::parser(|meta| {
        let set_once = |slot: &Option<LitStr>, what: &str| {
            if slot.is_some() {
                Err(meta.error(format!("`{what}` is given twice")))
            } else {
                Ok(())
            }
        };
        if meta.path.is_ident("name") {
            set_once(&args.name, "name")?;
            let lit: LitStr = meta.value()?.parse()?;
            if let Some(why) = metric_name_error(&lit.value()) {
                return Err(syn::Error::new(lit.span(), why));
            }
            args.name = Some(lit);
        } else if meta.path.is_ident("help") {
            set_once(&args.help, "help")?;
            args.help = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("function") {
            set_once(&args.function, "function")?;
            args.function = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("registry") {
            if args.registry.is_some() {
                return Err(meta.error("`registry` is given twice"));
            }
            args.registry = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("summary") {
            if !matches!(kind, Kind::Timed) {
                return Err(meta.error(format!(
                    "`summary` is an option of #[timed] only, not of #[{}]",
                    kind.attr()
                )));
            }
            if args.summary {
                return Err(meta.error("`summary` is given twice"));
            }
            args.summary = true;
        } else if meta.path.is_ident("labels") {
            labels_span = Some(
                meta.path
                    .get_ident()
                    .map_or_else(Span::call_site, |i| i.span()),
            );
            meta.parse_nested_meta(|label| {
                let Some(ident) = label.path.get_ident() else {
                    return Err(label.error("a label is written `name = \"value\"`"));
                };
                let name = ident.unraw().to_string();
                if let Some(why) = label_name_error(&name, kind.reserved_labels()) {
                    return Err(label.error(why));
                }
                if args.labels.iter().any(|(n, _)| *n == name) {
                    return Err(label.error(format!("label `{name}` is given twice")));
                }
                let value: LitStr = label.value()?.parse()?;
                args.labels.push((name, value));
                Ok(())
            })?;
        } else {
            let got = meta
                .path
                .get_ident()
                .map_or_else(|| "this path".to_owned(), |i| format!("`{i}`"));
            return Err(meta.error(format!(
                "unknown option {got} for #[{}]: expected `name = \"...\"`, `help = \"...\"`, `function = \"...\"`, `labels(key = \"value\", ...)`, `registry = <expression>` or (#[timed]) `summary`",
                kind.attr()
            )));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    if let (Some(span), None) = (labels_span, &args.name) {
        return Err(syn::Error::new(
            span,
            format!(
                "`labels(...)` needs `name = \"...\"` too: the default family `{}` has the fixed labels function, module and result, and one family cannot have two label sets",
                args.default_name(kind)
            ),
        ));
    }
    Ok(args)
}
