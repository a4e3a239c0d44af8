//! `#[timed]`, `#[counted]` and `#[metered]`: a per-function `static` site plus a guard
//! that records when the call ends.
//!
//! The body is left in place rather than moved into a closure: `return`, `?`, borrows
//! of `&mut self` and `impl Trait` returns keep their exact meaning. The guard is the
//! first local, so it is dropped last and records on every way out; a `Result`
//! function's guard defaults to `error`, so `?` (and macros that `return Err(..)`)
//! need no rewriting, and only explicit `return`s and the tail are passed through
//! `finish_result`. An `async fn` body runs inside an inner `async move` block, so its
//! `?` and `return` land there and the guard — defaulting to `cancelled` — is told the
//! outcome only when the body really completed.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use syn::ext::IdentExt;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, Expr, ImplItem, Item, ItemFn, ItemImpl, LitStr, ReturnType, Signature, Stmt, Type,
};

use crate::args::{self, Args, Kind};
use crate::shape::{self, Shape};

pub fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(kind, attr, item.clone()) {
        Ok(out) => out,
        // The untouched item goes along with the error, so the error is the only one.
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item);
            out
        }
    }
}

fn try_expand(kind: Kind, attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::parse(kind, attr)?;
    if let Ok(imp) = syn::parse2::<ItemImpl>(item.clone()) {
        return expand_impl(kind, &args, imp);
    }
    let mut func = parse_fn(kind, item)?;
    if let Some(c) = &func.sig.constness {
        return Err(syn::Error::new(
            c.span,
            format!(
                "#[{}] cannot be used on a `const fn`: it reads the clock and records at run time, which a const fn cannot do; remove `const` or the attribute",
                kind.attr()
            ),
        ));
    }
    let function = args
        .function
        .as_ref()
        .map_or_else(|| func.sig.ident.unraw().to_string(), LitStr::value);
    let block = instrument(kind, &args, &func.sig, &func.block, &function)?;
    func.block = Box::new(block);
    Ok(func.into_token_stream())
}

/// On an `impl` block: every method (but `const fn`s, which cannot record) is
/// instrumented with the options given, and its `function` label is `Type::method`.
fn expand_impl(kind: Kind, args: &Args, mut imp: ItemImpl) -> syn::Result<TokenStream> {
    if let Some(f) = &args.function {
        return Err(syn::Error::new(
            f.span(),
            "`function = \"...\"` names one function; on an impl block each method is labelled `Type::method`",
        ));
    }
    let ty = match &*imp.self_ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().map(|s| s.ident.unraw().to_string())
        }
        _ => None,
    }
    .unwrap_or_else(|| imp.self_ty.to_token_stream().to_string().replace(' ', ""));
    for item in &mut imp.items {
        let ImplItem::Fn(method) = item else { continue };
        // A method with its own attribute of this kind keeps only that one.
        let own = method.attrs.iter().any(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == kind.attr())
        });
        if method.sig.constness.is_some() || own {
            continue;
        }
        let function = format!("{ty}::{}", method.sig.ident.unraw());
        method.block = instrument(kind, args, &method.sig, &method.block, &function)?;
    }
    Ok(imp.into_token_stream())
}

fn parse_fn(kind: Kind, item: TokenStream) -> syn::Result<ItemFn> {
    let err = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => return Ok(f),
        Err(e) => e,
    };
    if let Ok(m) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        return Err(syn::Error::new_spanned(
            &m.sig,
            format!(
                "#[{}] needs a function body: put it on the method's implementation, not on its declaration in the trait",
                kind.attr()
            ),
        ));
    }
    let Ok(other) = syn::parse2::<Item>(item) else {
        return Err(err);
    };
    let (what, at) = match &other {
        Item::Struct(s) => ("a struct", pair(&s.struct_token, &s.ident)),
        Item::Enum(e) => ("an enum", pair(&e.enum_token, &e.ident)),
        Item::Union(u) => ("a union", pair(&u.union_token, &u.ident)),
        Item::Trait(t) => ("a trait", pair(&t.trait_token, &t.ident)),
        Item::Impl(i) => (
            "an impl block (put it on each method)",
            i.impl_token.to_token_stream(),
        ),
        Item::Mod(m) => ("a module", pair(&m.mod_token, &m.ident)),
        Item::Const(c) => ("a const", pair(&c.const_token, &c.ident)),
        Item::Static(s) => ("a static", pair(&s.static_token, &s.ident)),
        Item::Type(t) => ("a type alias", pair(&t.type_token, &t.ident)),
        _ => ("this item", other.to_token_stream()),
    };
    Err(syn::Error::new_spanned(
        at,
        format!(
            "#[{}] can only be applied to functions and methods, not to {what}",
            kind.attr()
        ),
    ))
}

fn pair(a: &impl ToTokens, b: &impl ToTokens) -> TokenStream {
    let mut tokens = a.to_token_stream();
    b.to_tokens(&mut tokens);
    tokens
}

fn instrument(
    kind: Kind,
    args: &Args,
    sig: &Signature,
    body: &Block,
    function: &str,
) -> syn::Result<Block> {
    let p = quote!(::tachometer::__private);
    let site = format_ident!("__TACHOMETER_{}", kind.attr().to_uppercase());
    let guard = syn::Ident::new("__tachometer_guard", Span::mixed_site());
    let result = syn::Ident::new("__tachometer_result", Span::mixed_site());
    let metric = match kind {
        Kind::Timed if args.summary => quote!(#p::Timer),
        Kind::Timed => quote!(#p::NativeHistogram),
        Kind::Counted => quote!(#p::Counter),
        Kind::Metered => quote!(#p::Meter),
    };
    let name = args
        .name
        .as_ref()
        .map_or_else(|| args.default_name(kind).to_owned(), |l| l.value());
    let help = args
        .help
        .as_ref()
        .map_or_else(|| kind.default_help().to_owned(), |l| l.value());
    let label_names = args.labels.iter().map(|(n, _)| n);
    let label_values = args.labels.iter().map(|(_, v)| v);
    let registry = match &args.registry {
        Some(e) => quote!(|| #e),
        None => quote!(::tachometer::global),
    };
    let shape = shape::of(sig);
    let default = match shape {
        Shape::Plain => quote!(OK),
        // Only `?`, an error-returning macro or a panic leave a `Result` function
        // without passing `finish_result`; only a panic leaves a future-returning one
        // before its future exists.
        Shape::Result | Shape::Future { .. } => quote!(ERROR),
        Shape::Async { .. } => quote!(CANCELLED),
    };
    // The static lives in its own block so that stacked attributes do not collide.
    let prelude = quote! {
        let #guard = {
            static #site: #p::FnSite<#metric> = #p::FnSite::new(#p::FnSpec {
                name: #name,
                help: #help,
                function: #function,
                module: ::core::module_path!(),
                label_names: &[#(#label_names),*],
                label_values: &[#(#label_values),*],
            });
            #p::FnSite::start(&#site, #registry, #p::#default)
        };
    };
    let tokens = match shape {
        Shape::Plain => {
            let stmts = &body.stmts;
            quote!({ #prelude #(#stmts)* })
        }
        Shape::Result => {
            let stmts = pass_results(&body.stmts, |e| quote!(#p::finish_result(#e, #guard)));
            quote!({ #prelude #(#stmts)* })
        }
        Shape::Future { result, boxed } => {
            let wrap = if result {
                quote!(#p::timed_result_future)
            } else {
                quote!(#p::timed_future)
            };
            let stmts = pass_results(&body.stmts, |e| {
                if boxed {
                    quote!(::std::boxed::Box::pin(#wrap(#e, #guard)))
                } else {
                    quote!(#wrap(#e, #guard))
                }
            });
            quote!({ #prelude #(#stmts)* })
        }
        Shape::Async { result: is_result } => {
            // Naming the output type helps inference of `?` inside the inner block;
            // `impl Trait` cannot be named in a `let`, so it is left to inference.
            let annotation = match &sig.output {
                ReturnType::Default => quote!(: ()),
                ReturnType::Type(_, ty) if !mentions_impl(ty.to_token_stream()) => quote!(: #ty),
                ReturnType::Type(..) => quote!(),
            };
            let finish = if is_result {
                quote!(#p::finish_result(#result, #guard))
            } else {
                quote!(#p::Guard::finish_ok(#guard); #result)
            };
            quote!({
                #prelude
                let #result #annotation = async move #body.await;
                #finish
            })
        }
    };
    syn::parse2(tokens)
}

fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "impl",
        TokenTree::Group(g) => mentions_impl(g.stream()),
        _ => false,
    })
}

/// Passes every value the function can return — explicit `return`s and the tail —
/// through `wrap`.
fn pass_results(stmts: &[Stmt], wrap: impl Fn(&Expr) -> TokenStream) -> Vec<Stmt> {
    let mut stmts = stmts.to_vec();
    let mut returns = Returns { wrap: &wrap };
    for s in &mut stmts {
        returns.visit_stmt_mut(s);
    }
    if let Some(Stmt::Expr(tail, None)) = stmts.last_mut() {
        if !diverges(tail) {
            *tail = Expr::Verbatim(wrap(tail));
        }
    }
    stmts
}

struct Returns<'a> {
    wrap: &'a dyn Fn(&Expr) -> TokenStream,
}

impl VisitMut for Returns<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            // A `return` in these leaves the closure, block or item, not the function.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Return(r) => {
                if let Some(value) = &mut r.expr {
                    self.visit_expr_mut(value);
                    **value = Expr::Verbatim((self.wrap)(value));
                }
            }
            _ => visit_mut::visit_expr_mut(self, e),
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// Whether the tail obviously never produces a value; wrapping it would only earn an
/// `unreachable_code` warning.
fn diverges(e: &Expr) -> bool {
    match e {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(m) => is_panic(&m.mac),
        Expr::Loop(l) => !mentions_break(l.body.to_token_stream()),
        Expr::Block(b) => block_diverges(&b.block),
        Expr::Unsafe(u) => block_diverges(&u.block),
        _ => false,
    }
}

/// A block ending in a diverging statement (`{ return x; }`, as `#[tokio::main]` writes).
fn block_diverges(b: &Block) -> bool {
    match b.stmts.last() {
        Some(Stmt::Expr(e, _)) => diverges(e),
        Some(Stmt::Macro(m)) => is_panic(&m.mac),
        _ => false,
    }
}

fn is_panic(mac: &syn::Macro) -> bool {
    mac.path.segments.last().is_some_and(|s| {
        matches!(
            s.ident.to_string().as_str(),
            "panic" | "todo" | "unimplemented" | "unreachable"
        )
    })
}

fn mentions_break(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "break",
        TokenTree::Group(g) => mentions_break(g.stream()),
        _ => false,
    })
}
