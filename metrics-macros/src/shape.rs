//! What an instrumented function returns decides how its end is observed.

use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type, TypeParamBound};

/// How a call completes.
pub enum Shape {
    /// A plain value: the call ends when the function returns.
    Plain,
    /// A `Result`: the call ends when the function returns, labelled by the variant.
    Result,
    /// An `async fn`: the call ends when the future completes (or is dropped).
    Async { result: bool },
    /// A future returned by a plain `fn` (`impl Future`, `Pin<Box<dyn Future>>`,
    /// `BoxFuture`): the call ends when that future completes (or is dropped).
    Future { result: bool, boxed: bool },
}

pub fn of(sig: &Signature) -> Shape {
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(&**ty),
    };
    if sig.asyncness.is_some() {
        return Shape::Async {
            result: output.is_some_and(is_result),
        };
    }
    let Some(ty) = output else {
        return Shape::Plain;
    };
    if let Some(out) = impl_future_output(ty) {
        return Shape::Future {
            result: out.is_some_and(is_result),
            boxed: false,
        };
    }
    if let Some(out) = boxed_future_output(ty) {
        return Shape::Future {
            result: out.is_some_and(is_result),
            boxed: true,
        };
    }
    if is_result(ty) {
        Shape::Result
    } else {
        Shape::Plain
    }
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => strip(&p.elem),
        Type::Group(g) => strip(&g.elem),
        _ => ty,
    }
}

/// Whether `ty` names a `Result` (also `io::Result<T>`, `anyhow::Result<T>`, …).
pub fn is_result(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Result")
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match strip(ty) {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// `Some(Output)` when the bounds include `Future<Output = ..>` (`Some(None)` when the
/// output is not spelled out).
fn future_bound<'a>(
    bounds: impl IntoIterator<Item = &'a TypeParamBound>,
) -> Option<Option<&'a Type>> {
    bounds.into_iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else {
            return None;
        };
        let seg = t.path.segments.last()?;
        if seg.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &seg.arguments else {
            return Some(None);
        };
        Some(args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(at) if at.ident == "Output" => Some(&at.ty),
            _ => None,
        }))
    })
}

fn impl_future_output(ty: &Type) -> Option<Option<&Type>> {
    match strip(ty) {
        Type::ImplTrait(i) => future_bound(&i.bounds),
        _ => None,
    }
}

fn type_args(seg: &syn::PathSegment) -> impl Iterator<Item = &Type> {
    let args = match &seg.arguments {
        PathArguments::AngleBracketed(a) => Some(a.args.iter()),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// `Pin<Box<dyn Future<Output = T> ..>>`, `BoxFuture<'_, T>` or `LocalBoxFuture<'_, T>`.
fn boxed_future_output(ty: &Type) -> Option<Option<&Type>> {
    let seg = last_segment(ty)?;
    if seg.ident == "BoxFuture" || seg.ident == "LocalBoxFuture" {
        return Some(type_args(seg).next());
    }
    if seg.ident != "Pin" {
        return None;
    }
    let boxed = last_segment(type_args(seg).next()?)?;
    if boxed.ident != "Box" {
        return None;
    }
    match strip(type_args(boxed).next()?) {
        Type::TraitObject(o) => future_bound(&o.bounds),
        _ => None,
    }
}
