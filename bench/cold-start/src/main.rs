//! Cold-start harness: spawns each Lambda bootstrap as Lambda does, under a local
//! Runtime API emulator, with DynamoDB answered by an instant stub on loopback. Measures
//! init (spawn to first `GET /next`), the first invocation, and warm invocations, for
//! the functions and an empty `lambda_runtime` function, interleaved round by round
//! so that drift in the machine's speed affects all of them alike.
//!
//! Beside each function it runs `store-calls`, a bootstrap with the same runtime and
//! client that makes only that function's DynamoDB calls, so that what the function adds
//! beyond its DynamoDB calls is `overhead = warm p50 - same calls' warm p50`.
//!
//! Everything runs on one CPU (`one_cpu.rs` says why) unless `--any-cpu` is given.
//!
//! Run `bench/cold-start.sh`, which builds everything in release mode first.

mod dynamodb_stub;
mod functions;
mod one_cpu;
mod runtime_api;

use clap::Parser;
use functions::{Event, FUNCTIONS, SIZE_ONLY};
use runtime_api::{Note, RuntimeApi};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long any one step may take before the run is declared broken.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(
    about = "Measure the Lambda bootstraps' cold starts and warm invocations against an empty function."
)]
struct Args {
    /// Directory holding the release binaries.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Directory holding the sample events (one success event per function, see
    /// `functions.rs`; the harness's own are built in).
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Warm invocations after each cold start.
    #[arg(long, default_value_t = 100)]
    warm: usize,
    /// Measure only this function (and its calls, and the empty function), named as the
    /// report names it (`unsubscribe-page` for the unsubscribe link's page); repeatable.
    /// All of them when not given.
    #[arg(long = "only", value_name = "FUNCTION")]
    only: Vec<String>,
    /// Let the bootstraps write their logs where this process writes its own (for finding
    /// out why one fails; the logging then costs time too).
    #[arg(long)]
    show_logs: bool,
    /// Make the copies the bootstraps run from in this directory, and keep them (for a
    /// profiler that reads the binaries after the run). A new temporary directory,
    /// removed after the run, when not given.
    #[arg(long, value_name = "DIR")]
    copies_in: Option<PathBuf>,
    /// Answer every query with an empty page (but the agents' customer lookup, and a read
    /// mark's count, which must find its message): what the read routes would cost if a
    /// page took nothing to read. A diagnostic; the figures it gives are not the
    /// functions'.
    #[arg(long)]
    empty_pages: bool,
    /// Let the harness (still on one thread) and the bootstraps run on every CPU this
    /// process may use, as the scheduler likes, instead of on the highest-numbered one
    /// (bench/cold-start/src/one_cpu.rs says why one is the default). A diagnostic: on
    /// two vCPUs the warm figures moved by tens of µs between runs.
    #[arg(long)]
    any_cpu: bool,
}

/// One bootstrap under test.
struct Subject {
    /// How the report names it.
    label: String,
    binary: &'static str,
    /// For `store-calls`: which endpoint's calls to make.
    calls: Option<&'static str>,
    event: String,
    /// For a function: what its successful answer contains.
    success: Option<&'static str>,
    init: Vec<Duration>,
    first: Vec<Duration>,
    warm: Vec<Duration>,
}

impl Subject {
    fn new(
        label: String,
        binary: &'static str,
        calls: Option<&'static str>,
        event: String,
    ) -> Self {
        Subject {
            label,
            binary,
            calls,
            event,
            success: None,
            init: vec![],
            first: vec![],
            warm: vec![],
        }
    }

    fn cold(&self) -> Vec<Duration> {
        self.init
            .iter()
            .zip(&self.first)
            .map(|(i, f)| *i + *f)
            .collect()
    }
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let cpu = if args.any_cpu {
        None
    } else {
        let cpu = one_cpu::pin()
            .map_err(|e| format!("cannot keep to one CPU ({e}); --any-cpu runs on all"))?;
        eprintln!("on CPU {cpu} only (--any-cpu for all)");
        Some(cpu)
    };
    // One thread: every task of the emulator and the stub runs where the pin holds.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(run(args, cpu))
}

async fn run(args: Args, cpu: Option<usize>) -> Result<(), String> {
    if let Some(unknown) = args
        .only
        .iter()
        .find(|o| !FUNCTIONS.iter().any(|function| function.name == o.as_str()))
    {
        return Err(format!(
            "--only {unknown}: the harness does not run such a function"
        ));
    }
    let pages = if args.empty_pages {
        dynamodb_stub::Pages::Empty
    } else {
        dynamodb_stub::Pages::Full
    };
    let dynamodb = dynamodb_stub::start(pages)
        .await
        .map_err(|e| e.to_string())?;
    let mut subjects = vec![Subject::new(
        "empty-function".into(),
        "empty-function",
        None,
        "{}".into(),
    )];
    let chosen = FUNCTIONS
        .iter()
        .filter(|function| args.only.is_empty() || args.only.iter().any(|o| o == function.name));
    for function in chosen {
        let name = function.name;
        let event = match function.event {
            Event::Sample(file) => {
                let path = args.events.join(file);
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Event::Bench(event) => event.to_string(),
        };
        // The same event for both, so the difference is what the function does with it.
        subjects.push(Subject::new(
            format!("store-calls ({name})"),
            "store-calls",
            Some(name),
            event.clone(),
        ));
        subjects.push(Subject {
            success: Some(function.success),
            ..Subject::new(name.into(), function.binary, None, event)
        });
    }

    let copies = Copies::of(&args.bin_dir, args.copies_in.clone(), &subjects)?;
    for round in 0..args.rounds {
        // Rotate the order every round so no function always runs first.
        let order: Vec<usize> = (0..subjects.len())
            .map(|i| (i + round) % subjects.len())
            .collect();
        for index in order {
            let subject = &mut subjects[index];
            measure(&copies.dir, dynamodb, subject, args.warm, args.show_logs)
                .await
                .map_err(|e| format!("{} (round {round}): {e}", subject.label))?;
        }
        eprintln!("round {}/{} done", round + 1, args.rounds);
    }

    report(&args, cpu, &subjects);
    Ok(())
}

/// The bootstraps run, copied into a directory of their own for the run (removed after).
///
/// A binary the linker has just written starts measurably slower than a copy of it (its
/// init 0.1-0.2 ms longer in docs/performance.md's runs, issue 21): the kernel's cached
/// pages of a file written piece by piece are not those of a file written in one go.
/// Lambda runs bootstraps unpacked from the deployment package, and a copy puts every
/// binary, the empty function's too, in the same state whenever each was built.
struct Copies {
    dir: PathBuf,
    /// Whether the directory is removed after the run.
    temporary: bool,
}

impl Copies {
    fn of(bin_dir: &Path, keep_in: Option<PathBuf>, subjects: &[Subject]) -> Result<Self, String> {
        let temporary = keep_in.is_none();
        let dir = keep_in.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("cold-start-{}", std::process::id()))
        });
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let copies = Copies { dir, temporary };
        let mut copied = Vec::new();
        for subject in subjects {
            let (from, to) = (
                bin_dir.join(subject.binary),
                copies.dir.join(subject.binary),
            );
            if !copied.contains(&subject.binary) {
                copied.push(subject.binary);
                std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
            }
        }
        Ok(copies)
    }
}

impl Drop for Copies {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One cold start, its first invocation, then `warm` invocations.
async fn measure(
    bin_dir: &Path,
    dynamodb: SocketAddr,
    subject: &mut Subject,
    warm: usize,
    show_logs: bool,
) -> Result<(), String> {
    let mut api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let spawned = Instant::now();
    let mut environment = lambda_environment(subject.binary, api.address, dynamodb);
    if let Some(calls) = subject.calls {
        environment.push(("BENCH_CALLS", calls.to_string()));
    }
    let mut child = tokio::process::Command::new(bin_dir.join(subject.binary))
        .env_clear()
        .envs(environment)
        .stdin(Stdio::null())
        .stdout(logs(show_logs))
        .stderr(logs(show_logs))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e}",
                bin_dir.join(subject.binary).display()
            )
        })?;

    let ready = expect_next(&mut api).await?;
    subject.init.push(ready - spawned);
    for n in 0..=warm {
        let handed_out = Instant::now();
        api.invoke(subject.event.clone());
        let (answered, body) = match step(&mut api).await? {
            Note::Response(at, body) => (at, body),
            other => return Err(format!("expected a response, got {other:?}")),
        };
        if let Some(success) = subject.success
            && !body.contains(success)
        {
            return Err(format!("the invocation failed: {body}"));
        }
        let took = answered - handed_out;
        if n == 0 {
            subject.first.push(took)
        } else {
            subject.warm.push(took)
        }
        expect_next(&mut api).await?;
    }
    child.kill().await.map_err(|e| e.to_string())?;
    Ok(())
}

fn logs(shown: bool) -> Stdio {
    if shown {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

async fn step(api: &mut RuntimeApi) -> Result<Note, String> {
    match tokio::time::timeout(STEP_TIMEOUT, api.next_note()).await {
        Ok(Some(Note::Error(error))) => Err(format!("the function reported an error: {error}")),
        Ok(Some(note)) => Ok(note),
        Ok(None) => Err("the runtime API stopped".into()),
        Err(_) => Err(format!("no word from the function in {STEP_TIMEOUT:?}")),
    }
}

async fn expect_next(api: &mut RuntimeApi) -> Result<Instant, String> {
    match step(api).await? {
        Note::NextRequested(at) => Ok(at),
        other => Err(format!("expected GET /next, got {other:?}")),
    }
}

/// The secret the sample unsubscribe events' tokens are signed with (events/README.md),
/// not production's.
const DEMO_UNSUBSCRIBE_SECRET: &str = "demo-unsubscribe-secret-0123456789abcdef";

/// What Lambda sets for a function with 256 MB (its documented variables; notably no
/// `SSL_CERT_FILE`), plus the table and the stub's address, and the variables
/// `template.yaml` gives the function that its success needs.
fn lambda_environment(
    name: &str,
    runtime_api: SocketAddr,
    dynamodb: SocketAddr,
) -> Vec<(&'static str, String)> {
    let mut environment = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCH".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret".into()),
        ("AWS_SESSION_TOKEN", "bench-token".into()),
        ("AWS_ENDPOINT_URL_DYNAMODB", format!("http://{dynamodb}")),
        ("TABLE_NAME", "bench".into()),
        // The functions that sign or check attachments build their S3 client at init
        // (no S3 call is made by the sample events).
        ("ATTACHMENTS_BUCKET", "bench-attachments".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("_HANDLER", "bootstrap".into()),
        ("TZ", ":UTC".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
    ];
    // The unsubscribe route checks its token's signature with it (503 without).
    if name == "unsubscribe" {
        environment.push(("UNSUBSCRIBE_SECRET", DEMO_UNSUBSCRIBE_SECRET.into()));
    }
    environment
}

/// Zero for no values (`--warm 0`).
fn percentile(values: &[Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn report(args: &Args, cpu: Option<usize>, subjects: &[Subject]) {
    let empty_cold = percentile(&subjects[0].cold(), 50);
    println!("Binaries (stripped):\n");
    println!("| binary | bytes | MiB |\n|---|---:|---:|");
    // Each bootstrap once, though one may be run on two events.
    let mut binaries: Vec<&str> = vec![];
    let measured = subjects
        .iter()
        .filter(|s| s.calls.is_none())
        .map(|s| s.binary);
    for binary in measured.chain(SIZE_ONLY) {
        if !binaries.contains(&binary) {
            binaries.push(binary);
        }
    }
    for binary in binaries {
        let size = std::fs::metadata(args.bin_dir.join(binary))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "| {binary} | {size} | {:.2} |",
            size as f64 / (1024.0 * 1024.0)
        );
    }
    println!(
        "\n({} weighed only: the harness does not stub the services they call.)",
        SIZE_ONLY.join(", ")
    );
    println!(
        "\nCold starts, medians of {} rounds (init = spawn to first GET /next; cold = init + first invocation):\n",
        args.rounds
    );
    match cpu {
        Some(cpu) => println!("(The harness and the bootstraps ran on CPU {cpu} only.)\n"),
        None => println!(
            "(--any-cpu: the harness and the bootstraps ran on any CPU the scheduler chose, so the warm figures may move by tens of µs between runs.)\n"
        ),
    }
    if args.empty_pages {
        println!(
            "(--empty-pages: every page was answered empty, so these are not the functions' figures.)\n"
        );
    }
    println!(
        "| bootstrap | init ms | first invocation ms | cold ms | cold / empty |\n|---|---:|---:|---:|---:|"
    );
    for subject in subjects {
        let cold = percentile(&subject.cold(), 50);
        println!(
            "| {} | {} | {} | {} | {:.2} |",
            subject.label,
            ms(percentile(&subject.init, 50)),
            ms(percentile(&subject.first, 50)),
            ms(cold),
            cold.as_secs_f64() / empty_cold.as_secs_f64()
        );
    }
    println!(
        "\nWarm invocations ({} after each cold start, {} per bootstrap in all); overhead = function p50 - same calls p50:\n",
        args.warm,
        args.warm * args.rounds
    );
    println!(
        "| function | warm p50 µs | warm p99 µs | same calls p50 µs | same calls p99 µs | overhead p50 µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let empty = &subjects[0];
    println!(
        "| empty-function | {} | {} | | | |",
        us(percentile(&empty.warm, 50)),
        us(percentile(&empty.warm, 99))
    );
    let measured = subjects.iter().skip(1).filter(|s| s.calls.is_none());
    for function in measured {
        let name = function.label.as_str();
        let calls = subjects
            .iter()
            .find(|s| s.calls == Some(name))
            .expect("and its calls");
        let (p50, calls_p50) = (percentile(&function.warm, 50), percentile(&calls.warm, 50));
        println!(
            "| {name} | {} | {} | {} | {} | {:.0} |",
            us(p50),
            us(percentile(&function.warm, 99)),
            us(calls_p50),
            us(percentile(&calls.warm, 99)),
            (p50.as_secs_f64() - calls_p50.as_secs_f64()) * 1e6,
        );
    }
}
