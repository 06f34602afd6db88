use clap::Parser;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Log lines are handed to a writer thread that writes whatever has queued up in one go: a
    // busy host logs a line per card, and one write(2) per line cost more than formatting it.
    // The queue never drops a line (a full queue makes the logger wait), and the guard flushes
    // it when main returns.
    let (writer, flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // Colours only for a person at a terminal, never in a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .init();
    let result = mica_host::cli::run(mica_host::cli::Cli::parse()).await;
    drop(flush_on_exit);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
