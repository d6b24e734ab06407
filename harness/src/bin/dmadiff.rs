//! The dmadiff command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use dmadiff::report::{self, Verdict};
use dmadiff::scenario::{parse_file, Scenario};

#[derive(Parser)]
#[command(
    name = "dmadiff",
    version,
    about = "Differential conformance of Linux's streaming DMA API: v6.16 page-based vs v6.18 physical-address-based"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay scenario files and folders; one verdict line each, then totals.
    /// Exit 0: nothing unexpected; 1: a divergence or integrity failure; 2: bad usage or a
    /// file that does not parse.
    Run {
        /// Scenario files (*.scn) or folders searched recursively.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Measure what runs cost (release builds give meaningful figures).
    Bench {
        /// Runs per batch.
        #[arg(long, default_value_t = 200)]
        runs: u32,
        /// Seconds of generated inputs per fuzz target for the throughput figures.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// Decode a fuzz input (a crash or corpus file of a cargo-fuzz target) into a readable
    /// scenario on stdout.
    Import {
        /// The fuzz target the input belongs to: direct, iova or iommu.
        #[arg(long, default_value = "direct")]
        target: String,
        file: PathBuf,
    },
    /// Write corpus scenarios as seed inputs of the cargo-fuzz targets
    /// (fuzz/corpus/<target>/<scenario>.seed).
    Seeds {
        /// Scenario files or folders.
        #[arg(long, default_value = "corpus")]
        from: PathBuf,
        /// The cargo-fuzz corpus folder.
        #[arg(long, default_value = "fuzz/corpus")]
        to: PathBuf,
    },
    /// Shrink a scenario with a finding (unexpected divergence, integrity or invariant
    /// failure) while the same finding reproduces; print the result on stdout.
    Minimize { file: PathBuf },
    /// Print both sides' traces of one scenario side by side, first divergence marked.
    Explain {
        file: PathBuf,
        /// Print the traces one side after the other per op (the snapshot format).
        #[arg(long)]
        stacked: bool,
    },
}

fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "scn") {
            out.push(p);
        }
    }
    Ok(())
}

#[derive(Default)]
struct Totals {
    agree: usize,
    expected: usize,
    divergent: usize,
    integrity: usize,
    unmet: usize,
    unparsable: usize,
}

fn run(paths: &[PathBuf], json: bool) -> ExitCode {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("dmadiff: {e}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!(
            "dmadiff: no *.scn scenario files under {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
        );
        return ExitCode::from(2);
    }
    let pb = if files.len() >= 20 && !json { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
    pb.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("template"));
    let mut t = Totals::default();
    let mut docs = Vec::new();
    for f in &files {
        let name = f.display().to_string();
        pb.set_message(name.clone());
        let sc: Scenario = match parse_file(f) {
            Ok(s) => s,
            Err(e) => {
                t.unparsable += 1;
                if json {
                    docs.push(serde_json::json!({ "scenario": name, "verdict": { "verdict": "parse_error", "detail": e.to_string() } }));
                } else {
                    pb.suspend(|| eprintln!("{e}"));
                }
                pb.inc(1);
                continue;
            }
        };
        let rep = report::check_file(&sc);
        let v = rep.verdict();
        match &v {
            Verdict::Agree => t.agree += 1,
            Verdict::ExpectedDivergence { .. } => t.expected += 1,
            Verdict::Divergence { .. } => t.divergent += 1,
            Verdict::IntegrityFailure { .. } | Verdict::InvariantFailure { .. } => t.integrity += 1,
            Verdict::UnmetExpectation { .. } | Verdict::UnexpectedDebugReports { .. } => t.unmet += 1,
        }
        if json {
            docs.push(report::to_json(&name, &sc, &rep));
        } else {
            // println through suspend: a hidden bar (no terminal) would swallow pb.println.
            pb.suspend(|| println!("{}", report::verdict_line(&name, &sc, &v)));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let total = files.len();
    if json {
        let doc = serde_json::json!({
            "scenarios": docs,
            "totals": { "scenarios": total, "agree": t.agree, "expected_divergence": t.expected,
                        "unexpected_divergence": t.divergent, "integrity_failure": t.integrity, "unmet_expectation": t.unmet, "parse_error": t.unparsable },
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        println!(
            "{total} scenarios: {} agree, {} expected divergence(s), {} unexpected divergence(s), {} integrity failure(s), {} unmet expectation(s), {} parse error(s)",
            t.agree, t.expected, t.divergent, t.integrity, t.unmet, t.unparsable
        );
    }
    if t.unparsable > 0 {
        ExitCode::from(2)
    } else if t.divergent + t.integrity + t.unmet > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn explain(file: &Path, stacked: bool) -> ExitCode {
    let sc = match parse_file(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rep = report::check_file(&sc);
    if stacked {
        print!("{}", report::render_trace(&sc, &rep));
    } else {
        print!("{}", report::render_side_by_side(&sc, &rep));
    }
    if rep.verdict().is_failure() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn import(target: &str, file: &Path) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match dmadiff::minimize::import(target, &bytes) {
        Ok(sc) => {
            let v = report::check(&sc).verdict();
            println!("# Imported from {} (fuzz target {target}): {}", file.display(), report::verdict_text(&sc, &v));
            print!("{sc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::from(2)
        }
    }
}

fn seeds(from: &Path, to: &Path) -> ExitCode {
    let files = match collect(&[from.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut written = vec![0usize; dmadiff::minimize::TARGETS.len()];
    for f in &files {
        let sc = match parse_file(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let name = f.strip_prefix(from).unwrap_or(f).display().to_string().replace('/', "__").replace(".scn", ".seed");
        for (t, n) in dmadiff::minimize::TARGETS.iter().zip(written.iter_mut()) {
            if !dmadiff::minimize::seeds_target(&sc, t) {
                continue;
            }
            let dir = to.join(t);
            let out = dir.join(&name);
            if let Err(e) =
                std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&out, dmadiff::minimize::seed_input(&sc)))
            {
                eprintln!("{}: {e}", out.display());
                return ExitCode::from(2);
            }
            *n += 1;
        }
    }
    for (t, n) in dmadiff::minimize::TARGETS.iter().zip(&written) {
        println!("{t}: {n} seed(s) in {}", to.join(t).display());
    }
    ExitCode::SUCCESS
}

fn minimize(file: &Path) -> ExitCode {
    let sc = match parse_file(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match dmadiff::minimize::minimize(&sc) {
        Ok(small) => {
            print!("{}{small}", dmadiff::minimize::header(&small, &file.display().to_string()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    // `dmadiff run corpus/ | head` should end quietly, as a C tool does on SIGPIPE.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match cli.cmd {
        Cmd::Run { paths, json } => run(&paths, json),
        Cmd::Explain { file, stacked } => explain(&file, stacked),
        Cmd::Import { target, file } => import(&target, &file),
        Cmd::Minimize { file } => minimize(&file),
        Cmd::Seeds { from, to } => seeds(&from, &to),
        Cmd::Bench { runs, secs } => {
            println!("swiotlb: cost against pool size");
            dmadiff::bench::print(&dmadiff::bench::swiotlb_pool_sizes(runs));
            println!("iommu: cost against address-space size");
            dmadiff::bench::print(&dmadiff::bench::iommu_address_spaces(runs));
            println!("fuzz targets: executions per second on one core (no sanitizer), and where the time goes");
            dmadiff::bench::print_targets(&dmadiff::bench::fuzz_targets(secs));
            ExitCode::SUCCESS
        }
    }
}
