//! `cargo run -p xtask -- …`: developer commands of mptcpize-rs.
//!
//! - `testbed up`: a client and a server namespace joined by N rate-limited
//!   (optionally delayed) paths with MPTCP set up, kept until Ctrl-C;
//! - `testbed down`: removes what killed runs left behind;
//! - `bench`: the benchmark report (aggregation, failover, fallback, shim
//!   costs) as a table, JSON and a PNG plot.
//!
//! Everything it creates is removed on exit, on failure (a panic unwinds
//! through the destructors) and on SIGINT/SIGTERM (see [`interrupt`]).

mod bench;
mod interrupt;
mod plot;
mod testbed;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "xtask", about = "Developer commands of mptcpize-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The multipath testbed: two namespaces joined by N paths
    #[command(subcommand)]
    Testbed(TestbedCommand),
    /// Measure aggregation, failover, TCP fallback and the shim's costs
    Bench(BenchArgs),
}

#[derive(Subcommand, Debug)]
enum TestbedCommand {
    /// Set a testbed up, print how to use it, and keep it until Ctrl-C
    Up(TestbedArgs),
    /// Remove the namespaces of runs that were killed (SIGKILL) before cleaning up
    Down,
}

#[derive(Args, Debug, Clone)]
pub struct TestbedArgs {
    /// Number of paths
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub paths: u8,
    /// Rate limit of each path, each way, in Mbit/s (tbf)
    #[arg(long)]
    pub rate: Option<u32>,
    /// One-way delay of each path in ms (a userspace TUN delay line: no netem here)
    #[arg(long)]
    pub delay: Option<u32>,
    /// Also make the server's extra addresses `signal` endpoints
    #[arg(long)]
    pub signal: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Rate limit of each of the two paths, each way, in Mbit/s
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// One-way delay of each path in ms (a userspace TUN delay line)
    #[arg(long)]
    pub delay: Option<u32>,
    /// Length of each throughput run, in seconds
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Throughput runs per tool and way (the median is reported)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Short transfers per path count and way in the integrity part
    #[arg(long, default_value_t = 30)]
    pub integrity_runs: u32,
    /// Where to write the report as JSON
    #[arg(long, default_value = "target/bench/report.json")]
    pub json: PathBuf,
    /// Where to draw the failover plot (PNG)
    #[arg(long, default_value = "target/bench/failover.png")]
    pub plot: PathBuf,
    /// The TrueType font for the plot's text
    #[arg(
        long,
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    )]
    pub font: PathBuf,
    /// Parts to run (default: all)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<bench::Part>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
    let result = match cli.command {
        Command::Testbed(TestbedCommand::Up(args)) => testbed::up(&args),
        Command::Testbed(TestbedCommand::Down) => testbed::down(),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
