//! The compatibility matrix: real clients and servers (curl, nginx, sshd,
//! redis, git, node, Java, …) run under `mptcpize-rs run` in the two
//! namespaces of a [`Testbed`], in four modes, with the data they move
//! checked and the handshake read from the kernel's counters.
//!
//! - [`pairs`]: which client talks to which server, and how to check the data;
//! - [`programs`]: finding the programs and their versions;
//! - [`observe`]: the MPTCP counters and the failed socket-option calls;
//! - [`sockopts`]: which socket options this kernel's MPTCP takes;
//! - [`table`]: the Markdown table written to `target/compat.md` and
//!   spliced into the README.
//!
//! Every program runs under `strace` recording only failed socket-option
//! calls, so a program that MPTCP breaks by rejecting an option (TCP_ULP,
//! TCP_MD5SIG, …) is named in the table with the exact call.

pub mod observe;
pub mod pairs;
pub mod programs;
pub mod sockopts;
pub mod table;

use crate::artifacts::launcher;
use crate::common::ScratchDir;
use crate::netns::{Netns, Testbed, TestbedConfig};
use crate::proc::{Child, Output};
use observe::{failed_sockopts, ClientSide, ServerSide, Snapshot, STRACE_ARGS};
use pairs::{Ctx, Launch, Pair};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The longest a server may take to listen or a client command to finish
/// (generous: a JVM compiling its source on a busy 2-core machine).
const LIMIT: Duration = Duration::from_secs(90);

/// Who runs under the shim, and whether the client namespace has MPTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Both under the shim: the connection must be MPTCP.
    Mptcp,
    /// Both under the shim, `net.mptcp.enabled=0` in the client namespace:
    /// the client's shim falls back to TCP.
    ClientNoMptcp,
    /// Only the server under the shim: its MPTCP listener takes plain TCP.
    ServerOnly,
    /// Only the client under the shim: the server answers without
    /// MP_CAPABLE and the client's kernel falls back to TCP.
    ClientOnly,
}

impl Mode {
    pub const ALL: [Mode; 4] = [
        Mode::Mptcp,
        Mode::ClientNoMptcp,
        Mode::ServerOnly,
        Mode::ClientOnly,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Mode::Mptcp => "both under the shim",
            Mode::ClientNoMptcp => "client ns MPTCP off",
            Mode::ServerOnly => "server only",
            Mode::ClientOnly => "client only",
        }
    }

    fn server_shim(self) -> bool {
        self != Mode::ClientOnly
    }

    fn client_shim(self) -> bool {
        self != Mode::ServerOnly
    }
}

/// What one case showed.
#[derive(Clone, Debug)]
pub struct Case {
    /// `ss -M` in the server namespace listed the server's listener.
    pub listener_mptcp: bool,
    /// The listener was still there when the client had finished. One-shot
    /// servers (socat without `fork`, `ncat -l` without `-k`) close it after
    /// accepting, and then no subflow can join: MP_JOIN SYNs go to it.
    pub listener_kept: bool,
    pub client: ClientSide,
    pub server: ServerSide,
    /// What the client's shim logged (`run -d`): sockets made MPTCP, and
    /// fallbacks to TCP. Zero without the shim.
    pub client_converted: usize,
    pub client_fell_back: usize,
    /// Failed socket-option calls of each side (see [`observe::failed_call`]).
    pub client_failed: BTreeSet<String>,
    pub server_failed: BTreeSet<String>,
}

impl Case {
    /// What this mode must show, as a list of what went wrong (empty: fine).
    pub fn problems(&self, mode: Mode) -> Vec<String> {
        let (c, s) = (&self.client, &self.server);
        let mut bad = Vec::new();
        let mut want = |ok: bool, what: &str| {
            if !ok {
                bad.push(what.to_string());
            }
        };
        want(
            c.connections >= 1,
            "the client namespace opened no connection",
        );
        want(
            self.listener_mptcp == mode.server_shim(),
            if mode.server_shim() {
                "the server's listener is not MPTCP (ss -Mln)"
            } else {
                "the server's listener is MPTCP without the shim"
            },
        );
        match mode {
            Mode::Mptcp => {
                want(
                    c.accepted == c.connections,
                    "not every client connection negotiated MPTCP",
                );
                want(s.mp_capable >= 1, "the server saw no MP_CAPABLE SYN");
                want(
                    self.client_converted >= 1,
                    "the client's shim made no MPTCP socket",
                );
            }
            Mode::ClientNoMptcp | Mode::ServerOnly => {
                want(c.offered == 0, "the client offered MPTCP");
                want(s.mp_capable == 0, "the server saw an MP_CAPABLE SYN");
                if mode == Mode::ClientNoMptcp {
                    want(
                        self.client_fell_back >= 1 && self.client_converted == 0,
                        "the client's shim did not fall back to TCP",
                    );
                }
            }
            Mode::ClientOnly => {
                want(c.offered >= 1, "the client did not offer MPTCP");
                want(c.accepted == 0, "a plain TCP server accepted MPTCP");
                want(c.refused >= 1, "the client saw no plain SYN/ACK");
            }
        }
        bad
    }

    /// Which side negotiated what, in a few words for the table.
    pub fn summary(&self) -> String {
        let (c, s) = (&self.client, &self.server);
        let conns = plural(c.connections, "connection");
        if c.accepted > 0 && c.accepted == c.connections {
            let joins = if c.joins > 0 {
                format!(", +{}", plural(c.joins, "subflow"))
            } else if !self.listener_kept {
                ", no extra subflow: the server had closed its listener".to_string()
            } else {
                ", no extra subflow".to_string()
            };
            format!("MPTCP ({conns}{joins})")
        } else if c.offered > 0 {
            format!("TCP: client offered MPTCP, plain server answered TCP ({conns})")
        } else if self.client_fell_back > 0 {
            let listener = if self.listener_mptcp {
                ", MPTCP listener took TCP"
            } else {
                ""
            };
            format!("TCP: client's shim fell back{listener} ({conns})")
        } else if self.listener_mptcp && s.mp_capable == 0 {
            format!("TCP: plain client, MPTCP listener took TCP ({conns})")
        } else {
            format!("TCP ({conns})")
        }
    }
}

fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A pair's results: versions and one outcome per mode.
pub struct PairResult {
    pub pair: Pair,
    pub client_version: String,
    pub server_version: String,
    pub cases: Vec<(Mode, Result<Case, String>)>,
}

impl PairResult {
    /// Everything wrong in this pair, one line each.
    pub fn problems(&self) -> Vec<String> {
        let name = format!("{} -> {}", self.pair.client.label, self.pair.server.label);
        let mut all = Vec::new();
        for (mode, outcome) in &self.cases {
            match outcome {
                Err(e) => all.push(format!("{name} [{}]: {e}", mode.label())),
                Ok(case) => all.extend(
                    case.problems(*mode)
                        .into_iter()
                        .map(|p| format!("{name} [{}]: {p} ({case:?})", mode.label())),
                ),
            }
        }
        all
    }

    pub fn case(&self, mode: Mode) -> Option<&Case> {
        self.cases
            .iter()
            .find(|(m, _)| *m == mode)
            .and_then(|(_, c)| c.as_ref().ok())
    }
}

/// The programs of `pair` that are not installed.
pub fn missing(pair: &Pair) -> Vec<&'static str> {
    let mut missing: Vec<&str> = [pair.client.binary, pair.server.binary, "strace"]
        .into_iter()
        .filter(|b| programs::locate(b).is_none())
        .collect();
    missing.dedup();
    missing
}

/// Runs `pair` in every mode on a fresh testbed. `base_port + mode index`
/// is each case's port, so no case meets its predecessor's TIME_WAIT.
pub fn run_pair(pair: Pair, base_port: u16) -> PairResult {
    // Paths of 100 Mbit/s: a 4 MiB transfer lasts long enough (about a
    // third of a second) for the second subflow to join before it ends.
    let bed = Testbed::with(TestbedConfig {
        paths: 2,
        rate_mbit: Some(100),
        ..TestbedConfig::default()
    });
    let scratch = ScratchDir::new();
    pairs::write_data(scratch.path());
    (pair.prepare)(scratch.path());
    let locate = |b| programs::locate(b).unwrap_or_else(|| PathBuf::from(b));
    let client_version = programs::version(&locate(pair.client.binary), pair.client.version_args);
    let server_version = programs::version(&locate(pair.server.binary), pair.server.version_args);
    let mut cases = Vec::new();
    for (i, mode) in Mode::ALL.into_iter().enumerate() {
        let ctx = Ctx {
            dir: scratch.path().to_path_buf(),
            ip: bed.server_ip(),
            port: base_port + i as u16,
            case: i,
        };
        bed.client.set_mptcp(mode != Mode::ClientNoMptcp);
        cases.push((mode, run_case(&bed, &pair, &ctx, mode)));
    }
    bed.client.set_mptcp(true);
    PairResult {
        pair,
        client_version,
        server_version,
        cases,
    }
}

/// One case: start the server, wait for its listener, run the client's
/// commands, check the data, read the counters and traces.
fn run_case(bed: &Testbed, pair: &Pair, ctx: &Ctx, mode: Mode) -> Result<Case, String> {
    let server_trace = ctx.out("server-strace");
    let launch = (pair.serve)(ctx);
    let mut server = start(&bed.server, mode.server_shim(), &launch, &server_trace, ctx);
    let listener = wait_listening(&bed.server, ctx.port, &mut server)?;
    let listener_mptcp = bed
        .server
        .ss(&["-HMln"])
        .lines()
        .any(|l| l.contains(&listener));

    let (client_before, server_before) = (Snapshot::take(&bed.client), Snapshot::take(&bed.server));
    let client_trace = ctx.out("client-strace");
    let mut outputs: Vec<Output> = Vec::new();
    // A failure says what the server printed too.
    let with_server = |e: String| {
        let (out, err) = server.output_so_far();
        format!("{e}\n--- server stdout ---\n{out}--- server stderr ---\n{err}")
    };
    for launch in (pair.fetch)(ctx) {
        let child = start(&bed.client, mode.client_shim(), &launch, &client_trace, ctx);
        let out = finish(child).map_err(with_server)?;
        if !out.status.success() {
            let e = format!("{} exited with {}:\n{}", launch.program, out.code(), out);
            return Err(with_server(e));
        }
        outputs.push(out);
    }
    let listener_kept = listening(&bed.server, ctx.port).is_some();
    (pair.check)(ctx, &outputs).map_err(with_server)?;
    let logged = |what: fn(&str) -> bool| {
        outputs
            .iter()
            .flat_map(|o| o.stderr.lines())
            .filter(|l| l.starts_with("mptcpize[") && what(l))
            .count()
    };
    let client = ClientSide::between(&client_before, &Snapshot::take(&bed.client));
    let server_side = ServerSide::between(&server_before, &Snapshot::take(&bed.server));

    stop(server);
    Ok(Case {
        listener_mptcp,
        listener_kept,
        client,
        server: server_side,
        client_converted: logged(|l| l.ends_with(": MPTCP")),
        client_fell_back: logged(|l| l.contains("MPTCP unavailable")),
        client_failed: failed_sockopts(&client_trace),
        server_failed: failed_sockopts(&server_trace),
    })
}

/// Starts `launch` in `ns` under strace (appending to `trace`), under the
/// launcher when `shim`.
fn start(ns: &Netns, shim: bool, launch: &Launch, trace: &Path, ctx: &Ctx) -> Child {
    let program = programs::locate(launch.program).expect("checked by missing()");
    let mut cmd = ns.cmd(programs::locate("strace").expect("checked by missing()"));
    cmd.args(STRACE_ARGS).arg(trace).arg("-A");
    if shim {
        // -d: the shim logs each conversion and fallback on stderr.
        cmd.arg(launcher()).args(["run", "-d", "--"]);
        crate::common::clean_env(&mut cmd);
    }
    cmd.arg(program).args(&launch.args).current_dir(&ctx.dir);
    for (key, value) in &launch.env {
        cmd.env(key, value);
    }
    let stdin = match &launch.stdin {
        Some(file) => Stdio::from(std::fs::File::open(file).expect("open stdin file")),
        None => Stdio::null(),
    };
    Child::spawn_with_stdin(cmd, stdin)
}

/// Waits (at most [`LIMIT`]) for a TCP listener on `port` in `ns` and
/// returns its local address as `ss` prints it; an error with the server's
/// output if the server exits first or never listens.
fn wait_listening(ns: &Netns, port: u16, server: &mut Child) -> Result<String, String> {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(addr) = listening(ns, port) {
            return Ok(addr);
        }
        let exited = server.try_status();
        if exited.is_some() || Instant::now() >= deadline {
            let (out, err) = server.output_so_far();
            return Err(format!(
                "the server {} on port {port} ({exited:?}):\n--- stdout ---\n{out}--- stderr ---\n{err}",
                if exited.is_some() { "exited before listening" } else { "never listened" }
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The local address of the TCP listener on `port` in `ns`, as `ss` prints it.
fn listening(ns: &Netns, port: u16) -> Option<String> {
    let suffix = format!(":{port}");
    ns.ss(&["-Hltn"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .find(|a| a.ends_with(&suffix))
        .map(String::from)
}

/// Waits for a client command, at most [`LIMIT`], without panicking.
fn finish(mut child: Child) -> Result<Output, String> {
    let deadline = Instant::now() + LIMIT;
    while child.try_status().is_none() {
        if Instant::now() >= deadline {
            let (out, err) = child.output_so_far();
            return Err(format!(
                "a client command did not finish in {LIMIT:?}:\n--- stdout ---\n{out}--- stderr ---\n{err}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child.finish(Duration::from_secs(5)))
}

/// Stops a server: SIGTERM to strace (which writes its last lines, lets go
/// of the program and exits), then the process group is killed on drop.
fn stop(mut server: Child) {
    server.signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.try_status().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs every pair, one after the other, skipping (with the reason) those
/// whose programs are missing. `only`: label substrings to keep (from
/// `MPTCPIZE_COMPAT_ONLY`), empty for all.
pub fn run_all(only: &[String]) -> (Vec<PairResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for (i, pair) in pairs::all().into_iter().enumerate() {
        let name = format!("{} -> {}", pair.client.label, pair.server.label);
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let missing = missing(&pair);
        if !missing.is_empty() {
            skipped.push(format!("{name}: {} not installed", missing.join(", ")));
            continue;
        }
        let started = Instant::now();
        let result = run_pair(pair, 7100 + 10 * i as u16);
        eprintln!("compat: {name}: {:.1?}", started.elapsed());
        for (mode, case) in &result.cases {
            if let Ok(case) = case {
                eprintln!(
                    "compat:   [{}] {}; failed socket-option calls: client {:?}, server {:?}",
                    mode.label(),
                    case.summary(),
                    case.client_failed,
                    case.server_failed
                );
            }
        }
        results.push(result);
    }
    (results, skipped)
}

/// Where the table is written: `target/compat.md`.
pub fn table_path() -> PathBuf {
    crate::artifacts::built()
        .parent()
        .expect("target/")
        .join("compat.md")
}
