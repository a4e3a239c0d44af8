//! The reliability suite: hostile clients and failure modes run against the real
//! components on 127.0.0.1, each bounded in count and time, each a pass/fail check
//! with the figure it measured. `benches/reliability.sh` runs it and writes
//! RELIABILITY.md from its output; CI runs it too (`.ci/run`), and a check that fails
//! makes the run exit with status 1.
//!
//! Usage: `cargo bench -p tachometer-benches --bench reliability -- [--out FILE] [--list] [SECTION…]`
//! (no section names: all sections).
//!
//! Adding a section: write `fn section(out: &mut Section)` in a module of this
//! directory, and add one line to [`SECTIONS`]. Each section is independent: it starts
//! what it attacks, stops it, and records its checks with [`Section::check`].

use std::fmt::Write as _;
use std::time::Instant;

mod server;

/// Every section, in report order. Add yours as one more line.
#[rustfmt::skip]
const SECTIONS: &[Entry] = &[
    Entry { name: "server", title: "HTTP endpoint under hostile clients", run: server::section },
];

/// A section: its name on the command line, its title in the report, its function.
struct Entry {
    name: &'static str,
    title: &'static str,
    run: fn(&mut Section),
}

/// One measured figure and whether it met its target.
pub struct Check {
    what: String,
    target: String,
    measured: String,
    held: bool,
}

/// The output of one section: an introduction, checks and free-form notes.
#[derive(Default)]
pub struct Section {
    intro: String,
    checks: Vec<Check>,
    notes: Vec<String>,
}

impl Section {
    /// A paragraph under the section title (what is attacked, how, with which settings).
    pub fn intro(&mut self, text: impl Into<String>) {
        self.intro = text.into();
    }

    /// Records a check: `what` was attempted, `target` is what must hold, `measured` is
    /// the figure, `held` whether it met the target.
    pub fn check(
        &mut self,
        what: impl Into<String>,
        target: impl Into<String>,
        measured: impl Into<String>,
        held: bool,
    ) {
        let check = Check {
            what: what.into(),
            target: target.into(),
            measured: measured.into(),
            held,
        };
        eprintln!(
            "  [{}] {}: {} (target {})",
            if check.held { "held" } else { "FAILED" },
            check.what,
            check.measured,
            check.target
        );
        self.checks.push(check);
    }

    /// A line of context below the table (settings, caveats).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }
}

fn main() {
    let mut out_file = None;
    let mut wanted = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out_file = Some(args.next().expect("--out needs a file name")),
            "--list" => {
                for e in SECTIONS {
                    println!("{}\t{}", e.name, e.title);
                }
                return;
            }
            // `cargo bench` passes `--bench`; criterion-style flags mean nothing here.
            a if a.starts_with('-') => {}
            name => wanted.push(name.to_owned()),
        }
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !SECTIONS.iter().any(|e| e.name == *w))
    {
        eprintln!("unknown section {unknown:?}; see --list");
        std::process::exit(2);
    }

    let mut md = String::new();
    let mut failed = 0;
    for &Entry { name, title, run } in SECTIONS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        eprintln!("== {name}: {title}");
        let started = Instant::now();
        let mut section = Section::default();
        run(&mut section);
        let secs = started.elapsed().as_secs_f64();
        failed += section.checks.iter().filter(|c| !c.held).count();
        let _ = writeln!(md, "## {title}\n");
        if !section.intro.is_empty() {
            let _ = writeln!(md, "{}\n", section.intro);
        }
        let _ = writeln!(
            md,
            "| check | target | measured | held |\n|---|---|---|---|"
        );
        for c in &section.checks {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                c.what,
                c.target,
                c.measured,
                if c.held { "yes" } else { "**NO**" }
            );
        }
        md.push('\n');
        for n in &section.notes {
            let _ = writeln!(md, "* {n}");
        }
        let _ = writeln!(
            md,
            "{}Section `{name}` ran in {secs:.1} s.\n",
            if section.notes.is_empty() { "" } else { "\n" }
        );
    }
    match out_file {
        Some(path) => std::fs::write(&path, &md).expect("write the report"),
        None => print!("{md}"),
    }
    if failed > 0 {
        eprintln!("{failed} check(s) FAILED");
        std::process::exit(1);
    }
}
