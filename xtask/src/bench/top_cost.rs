//! The cost of `mptcpize-rs top`: the CPU time and the wall time of one
//! snapshot (`top --once --json`) of 1,000 MPTCP connections (the `hold`
//! example under `mptcpize-rs run`: 2,000 MPTCP sockets, one per end, and
//! their 2,000 subflows), and the CPU the live views use at one look a
//! second, as plain lines and on a terminal (script(1) gives it one). CPU
//! time (user + system, from bash's `time`) is what the machine's other
//! load does not inflate; wall time on a busy machine is mostly waiting.

use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, launcher, Child, Netns};
use serde::Serialize;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 1000;
const ROUNDS: usize = 7;
/// Looks of the live views, one a second.
const LOOKS: u32 = 11;

#[derive(Serialize, Debug)]
pub struct TopCost {
    pub connections: usize,
    /// Connections the snapshot listed (both ends of each).
    pub listed: usize,
    /// CPU time (user + system) of one `top --once --json`, in ms.
    pub snapshot_cpu_ms: f64,
    /// Median wall time of `top --once --json`, in milliseconds.
    pub snapshot_ms: f64,
    /// CPU used by the plain-lines view at one look a second, in percent
    /// of one CPU.
    pub plain_cpu_percent: f64,
    /// The same for the terminal view.
    pub tui_cpu_percent: f64,
}

/// User + system seconds of `script` running in `ns`, from bash's `time`.
fn cpu_seconds(ns: &Netns, command: &str) -> Result<f64, String> {
    let mut cmd = ns.cmd("bash");
    cmd.args([
        "-c",
        &format!("TIMEFORMAT='%U %S'; time ( {command} ) >/dev/null"),
    ]);
    let out = run(cmd, Duration::from_secs(120));
    if !out.status.success() {
        return Err(format!("{command} failed:\n{out}"));
    }
    let last = out.stderr.lines().last().unwrap_or_default();
    let v: Vec<f64> = last
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match v[..] {
        [user, sys] => Ok(user + sys),
        _ => Err(format!("no time figures from bash: {last:?}")),
    }
}

pub fn measure() -> Result<TopCost, String> {
    let ns = Netns::new();
    let mut hold = Child::spawn_with_stdin(
        {
            let mut c = ns.cmd(launcher());
            c.args(["run", "--"])
                .arg(bin("hold"))
                .arg(CONNECTIONS.to_string());
            c
        },
        Stdio::piped(),
    );
    hold.wait_for_line("holding", Duration::from_secs(120));
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..ROUNDS {
        let mut cmd: Command = ns.cmd(launcher());
        cmd.args(["top", "--once", "--json"]);
        let start = Instant::now();
        let out = run(cmd, Duration::from_secs(60));
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if !out.status.success() {
            return Err(format!("top --once --json failed:\n{out}"));
        }
        let v: serde_json::Value = serde_json::from_str(&out.stdout).map_err(|e| e.to_string())?;
        listed = v.as_array().map_or(0, Vec::len);
    }
    times.sort_by(f64::total_cmp);
    let top = launcher().display().to_string();
    let once = cpu_seconds(
        &ns,
        &format!("for i in $(seq {ROUNDS}); do {top} top --once --json; done"),
    )?;
    let plain = cpu_seconds(&ns, &format!("{top} top -n {LOOKS} -d 1"))?;
    let tui = cpu_seconds(
        &ns,
        &format!("script -qfec 'stty cols 200 rows 50; exec {top} top -n {LOOKS} -d 1' /dev/null"),
    )?;
    drop(hold);
    // One look a second: the CPU seconds of a look are the share of a CPU.
    let per_look = |cpu: f64| 100.0 * cpu / f64::from(LOOKS);
    Ok(TopCost {
        connections: CONNECTIONS,
        listed,
        snapshot_cpu_ms: 1000.0 * once / ROUNDS as f64,
        snapshot_ms: times[times.len() / 2],
        plain_cpu_percent: per_look(plain),
        tui_cpu_percent: per_look(tui),
    })
}
