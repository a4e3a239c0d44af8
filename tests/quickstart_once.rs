//! `cargo run --example quickstart -- --once --port 0`, run in-process: the example's
//! source is compiled into this test as a module, so the test needs no nested cargo
//! (which would wait on the build lock this very test run holds) and no prebuilt
//! binary, and it fails if the example stops compiling.

#[allow(dead_code)] // `main` is the example's entry point, unused here
#[path = "../examples/quickstart.rs"]
mod quickstart;

use std::time::Duration;

use quickstart::{run, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_the_request_histogram_with_route_templates() {
    let mut out = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(60),
        run(
            Options {
                port: 0,
                once: true,
                traffic: 0,
            },
            &mut out,
        ),
    )
    .await
    .expect("quickstart --once did not finish within 60 s")
    .expect("quickstart --once failed");
    let text = String::from_utf8(out).expect("output is UTF-8");

    let port_line = text.lines().next().unwrap_or_default();
    let port: u16 = port_line
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first line should name the URL with its port: {port_line:?}"));
    assert_ne!(port, 0, "--port 0 must report the port actually bound");

    assert!(
        text.contains("# TYPE http_server_request_duration_seconds histogram"),
        "{text}"
    );
    let users = r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/{id}",http_response_status_code="200"} 150"#;
    assert!(
        text.contains(users),
        "150 user lookups in one series\n{text}"
    );
    let missing = r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_code="404"} 5"#;
    assert!(text.contains(missing), "{text}");
    assert!(
        !text.contains("/users/1\""),
        "raw paths must not become labels"
    );
    // `#[timed]` handlers; the module label is wherever the example is compiled.
    assert!(
        text.lines().any(
            |l| l.starts_with(r#"function_duration_seconds_count{function="slow","#)
                && l.contains(r#"result="ok""#)
                && l.ends_with(" 20")
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"http_server_active_requests{http_request_method="GET"} 0"#),
        "{text}"
    );
    // Process metrics (registered by `tachometer::global()`) and build info.
    if cfg!(target_os = "linux") {
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
    }
    assert!(
        text.contains(r#"target_info{service_name="tachometer",service_version=""#),
        "{text}"
    );
    // The table: one row per route.
    assert!(
        text.lines()
            .any(|l| l.starts_with("/users/{id}") && l.contains(" 160 ")),
        "{text}"
    );
}

#[test]
fn arguments() {
    let parse = |args: &[&str]| Options::parse(args.iter().map(|s| s.to_string()));
    assert_eq!(
        parse(&[]),
        Ok(Some(Options {
            port: 3000,
            once: false,
            traffic: 0,
        }))
    );
    assert_eq!(
        parse(&["--port", "0", "--once"]),
        Ok(Some(Options {
            port: 0,
            once: true,
            traffic: 0,
        }))
    );
    assert_eq!(parse(&["--help"]), Ok(None));
    assert!(parse(&["--port"]).unwrap_err().contains("needs a value"));
    assert!(parse(&["--port", "99999"])
        .unwrap_err()
        .contains("0 to 65535"));
    assert_eq!(
        parse(&["--traffic", "40"]).map(|o| o.map(|o| o.traffic)),
        Ok(Some(40))
    );
    assert!(parse(&["--traffic", "0"])
        .unwrap_err()
        .contains("1 to 10000"));
    assert!(parse(&["--verbose"])
        .unwrap_err()
        .contains("unknown argument"));
}
