//! The generated code compiles cleanly under `#![deny(warnings)]` (and clippy's
//! defaults, which CI runs with `-D warnings`) and inside `#[no_implicit_prelude]`
//! modules, where only fully qualified paths resolve.

#![deny(warnings)]

mod common;

#[no_implicit_prelude]
mod bare {
    #[::tachometer::timed]
    pub fn plain(x: u32) -> u32 {
        x + 1
    }

    #[::tachometer::timed]
    #[::tachometer::counted]
    pub fn fallible(x: u32) -> ::core::result::Result<u32, ::std::string::String> {
        if x == 0 {
            return ::core::result::Result::Err(::std::borrow::ToOwned::to_owned("zero"));
        }
        ::core::result::Result::Ok(x)
    }

    #[::tachometer::metered]
    pub async fn later(x: u32) -> ::core::result::Result<u32, ()> {
        ::core::result::Result::Ok(x)
    }

    #[::tachometer::timed]
    pub fn boxed(
        x: u32,
    ) -> ::std::pin::Pin<
        ::std::boxed::Box<dyn ::core::future::Future<Output = u32> + ::core::marker::Send>,
    > {
        ::std::boxed::Box::pin(async move { x })
    }

    pub fn literal_and_runtime(label: &str) {
        ::tachometer::counter!("hy_bare_total", "a" => "b").increment(1);
        ::tachometer::counter!("hy_bare_labeled_total", "a" => label).increment(1);
        ::tachometer::gauge!("hy_bare_gauge").set(1);
        ::tachometer::histogram!("hy_bare_seconds").record(0.1);
        ::tachometer::meter!("hy_bare_events").mark(1);
        ::tachometer::timer!("hy_bare_timer_seconds")
            .record(::core::time::Duration::from_millis(1));
    }
}

#[tokio::test]
async fn generated_code_needs_no_prelude() {
    assert_eq!(bare::plain(1), 2);
    assert_eq!(bare::fallible(0), Err("zero".to_owned()));
    assert_eq!(bare::fallible(3), Ok(3));
    assert_eq!(bare::later(4).await, Ok(4));
    assert_eq!(bare::boxed(5).await, 5);
    bare::literal_and_runtime("x");
    let family = "function_duration_seconds";
    assert_eq!(common::calls(family, "plain", "ok"), 1);
    assert_eq!(common::calls(family, "fallible", "error"), 1);
    assert_eq!(common::calls("function_calls_total", "fallible", "ok"), 1);
    assert_eq!(common::calls("function_executions", "later", "ok"), 1);
    assert_eq!(common::calls(family, "boxed", "ok"), 1);
    let module = common::series(family, &[("function", "plain")]);
    assert!(module.is_some());
    let found = common::series_in(tachometer::global(), family, &[("function", "plain")]);
    assert_eq!(
        found[0].0[1],
        ("module".to_owned(), "hygiene::bare".to_owned())
    );
    assert_eq!(
        common::series("hy_bare_labeled_total", &[("a", "x")]).map(|r| r.count()),
        Some(1)
    );
}

// Shapes that tempt lints: unused results, diverging tails, `todo!()` bodies,
// shadowing, unit-returning async fns, `impl Trait` in argument position.
#[tachometer::timed]
fn never_called_yet() -> Result<u8, String> {
    todo!()
}

#[tachometer::timed]
fn diverging_loop() -> Result<u8, String> {
    loop {
        std::thread::yield_now();
    }
}

#[tachometer::timed]
fn early(x: impl Into<u32>) -> Result<u32, String> {
    let x = x.into();
    {
        return Ok(x);
    }
}

#[tachometer::timed]
async fn unit_async() {}

#[tachometer::timed]
fn shadows(__tachometer_guard: u8) -> u8 {
    let __tachometer_result = __tachometer_guard * 2;
    __tachometer_result + 1
}

#[test]
fn lint_prone_shapes_compile_and_record() {
    let _ = never_called_yet as fn() -> Result<u8, String>;
    let _ = diverging_loop as fn() -> Result<u8, String>;
    assert_eq!(early(3u8), Ok(3));
    assert_eq!(shadows(4), 9);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(unit_async());
    assert_eq!(common::calls("function_duration_seconds", "early", "ok"), 1);
    assert_eq!(
        common::calls("function_duration_seconds", "shadows", "ok"),
        1
    );
    assert_eq!(
        common::calls("function_duration_seconds", "unit_async", "ok"),
        1
    );
}
