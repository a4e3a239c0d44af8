//! `counter!`, `gauge!`, `histogram!`, `meter!` and `timer!`: a `static` site per call
//! site, holding the family and, when every label value is a literal, the series.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, Lit, LitStr, Token};

use crate::names::{label_name_error, metric_name_error, Reserved};
use crate::naming::{BUCKET_LABEL, QUANTILE_LABEL, WINDOW_LABEL};

/// The metric type a macro hands out.
#[derive(Clone, Copy)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Meter,
    Timer,
}

impl MetricType {
    fn type_name(self) -> &'static str {
        match self {
            MetricType::Counter => "Counter",
            MetricType::Gauge => "Gauge",
            MetricType::Histogram => "Histogram",
            MetricType::Meter => "Meter",
            MetricType::Timer => "Timer",
        }
    }

    /// Labels the exporters add for this kind, which users therefore cannot use.
    fn reserved_labels(self) -> Reserved {
        match self {
            MetricType::Histogram => &[(BUCKET_LABEL.name, BUCKET_LABEL.why)],
            MetricType::Timer => &[(QUANTILE_LABEL.name, QUANTILE_LABEL.why)],
            MetricType::Meter => &[(WINDOW_LABEL.name, WINDOW_LABEL.why)],
            MetricType::Counter | MetricType::Gauge => &[],
        }
    }
}

struct Input {
    name: LitStr,
    help: Option<LitStr>,
    labels: Vec<(LitStr, Expr)>,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(
                input.error("expected a metric name: a string literal such as \"jobs_total\"")
            );
        }
        let name: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "the metric name must be a string literal (each call site caches its metric; for a name computed at run time, use the Registry methods)",
            )
        })?;
        let mut out = Input {
            name,
            help: None,
            labels: Vec::new(),
        };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            if input.peek(syn::Ident) && input.peek2(Token![=]) && !input.peek2(Token![=>]) {
                let key: syn::Ident = input.parse()?;
                if key != "help" {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{key}`: expected `help = \"...\"` or a label `\"name\" => value`"),
                    ));
                }
                if out.help.is_some() {
                    return Err(syn::Error::new(key.span(), "`help` is given twice"));
                }
                input.parse::<Token![=]>()?;
                out.help = Some(input.parse()?);
                continue;
            }
            let key: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a label `\"name\" => value` or `help = \"...\"`",
                )
            })?;
            input.parse::<Token![=>]>()?;
            let value: Expr = input.parse()?;
            out.labels.push((key, value));
        }
        Ok(out)
    }
}

pub fn expand(ty: MetricType, input: TokenStream) -> TokenStream {
    match try_expand(ty, input) {
        Ok(t) => t,
        Err(e) => e.to_compile_error(),
    }
}

fn try_expand(ty: MetricType, input: TokenStream) -> syn::Result<TokenStream> {
    let input: Input = syn::parse2(input)?;
    if let Some(why) = metric_name_error(&input.name.value()) {
        return Err(syn::Error::new(input.name.span(), why));
    }
    for (i, (key, _)) in input.labels.iter().enumerate() {
        let k = key.value();
        if let Some(why) = label_name_error(&k, ty.reserved_labels()) {
            return Err(syn::Error::new(key.span(), why));
        }
        if input.labels[..i].iter().any(|(o, _)| o.value() == k) {
            return Err(syn::Error::new(
                key.span(),
                format!("label {k:?} is given twice"),
            ));
        }
    }
    let p = quote!(::tachometer::__private);
    let metric = syn::Ident::new(ty.type_name(), proc_macro2::Span::call_site());
    let name = &input.name;
    let help = input
        .help
        .as_ref()
        .map_or_else(|| quote!(""), |h| quote!(#h));
    let keys = input.labels.iter().map(|(k, _)| k);
    let literal = |e: &Expr| {
        matches!(
            e,
            Expr::Lit(ExprLit {
                lit: Lit::Str(_),
                ..
            })
        )
    };
    let lookup = if input.labels.iter().all(|(_, v)| literal(v)) {
        let values = input.labels.iter().map(|(_, v)| v);
        quote!(#p::MetricSite::get(&__TACHOMETER_METRIC, &[#(#values),*]))
    } else {
        let values = input.labels.iter().map(|(_, v)| {
            if literal(v) {
                quote!(#v)
            } else {
                quote!(::core::convert::AsRef::<str>::as_ref(&(#v)))
            }
        });
        quote!(#p::MetricSite::with_labels(&__TACHOMETER_METRIC, &[#(#values),*]))
    };
    Ok(quote!({
        static __TACHOMETER_METRIC: #p::MetricSite<#p::#metric> = #p::MetricSite::new(#name, #help, &[#(#keys),*]);
        #lookup
    }))
}
