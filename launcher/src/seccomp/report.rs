//! `run --report` in seccomp mode: what the supervisor knows, per process.
//!
//! The supervisor sees `socket()` calls, not connections: it counts, for
//! each process (by its pid, with the command name read when the process
//! is first seen), the sockets it made MPTCP, those that fell back to TCP
//! and why, those that failed with `--no-fallback`, and those it left TCP
//! because the caller is in a network namespace it may not enter. Each
//! process gets one line, in the report library's words (text) or as the
//! schema's `process` object (JSON, `"mode":"seccomp"`, the connection
//! fields null):
//!
//! - when the process calls `exit_group()`: with a report the filter also
//!   hands that call to the supervisor, which writes the line and lets the
//!   exit go on, so the line is written before the process is gone (and
//!   before `run` returns, for PROG itself);
//! - for a process that ended otherwise (killed by a signal), when the
//!   whole tree has ended.
//!
//! A process that made no TCP socket writes nothing. Lines go to the
//! launcher's stderr or through the descriptor `run` opened for
//! `--report=FILE` ([`crate::report_dest`]), one write(2) each; a failed
//! write is dropped (PROG's exit status never depends on it).

use crate::report_dest::Destination;
use mptcpize_rules::counts::{Counts, FallbackReason, SocketCounts};
/// The lines' form (`--report-format`, `MPTCPIZE_REPORT_FORMAT`).
pub use mptcpize_rules::env::ReportFormat as Format;
use serde::Serialize;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// What `run` asks for: where (checked and opened before PROG starts) and
/// in which form.
#[derive(Debug)]
pub struct Request {
    pub to: Destination,
    pub format: Format,
}

impl Request {
    /// The supervisor's settings, made in the supervisor before it lets go
    /// of the launcher's stderr: a duplicate of it, or the file's
    /// descriptor.
    pub fn settings(self) -> std::io::Result<Settings> {
        let to = match self.to {
            Destination::Stderr => rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stderr(), 3)?,
            Destination::File { fd, .. } => fd,
        };
        Ok(Settings {
            to,
            format: self.format,
        })
    }
}

/// Where and how the supervisor reports.
#[derive(Debug)]
pub struct Settings {
    /// The report's descriptor: the launcher's stderr (a duplicate kept by
    /// the supervisor) or the report file.
    pub to: OwnedFd,
    pub format: Format,
}

/// What happened to one `socket()` call the rules convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Mptcp,
    /// Made TCP: MPTCP is unavailable (this errno).
    FellBack(i32),
    /// Failed with the MPTCP error (fallback off).
    Failed(i32),
    /// Left TCP: the caller's network namespace cannot be entered.
    LeftTcp,
    /// An MPTCP socket counted before it was handed over did not reach
    /// the caller after all (it died, or had no free fd).
    NotMade,
}

/// One process's counts.
#[derive(Debug, Default)]
struct Process {
    comm: String,
    counts: SocketCounts,
    left_tcp: u64,
}

/// The counts of the tree's processes, and where their lines go.
pub struct Report {
    settings: Settings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By thread-group id (the pid `ps` shows).
    processes: HashMap<u32, Process>,
    /// Thread id to thread-group id, for the threads seen (the kernel
    /// names the calling thread).
    tgids: HashMap<u32, u32>,
}

impl Report {
    pub fn new(settings: Settings) -> Report {
        Report {
            settings,
            state: Mutex::new(State::default()),
        }
    }

    /// The descriptor the lines go to (kept open by the supervisor).
    pub fn fd(&self) -> RawFd {
        self.settings.to.as_raw_fd()
    }

    /// Counts one call of thread `tid`.
    pub fn count(&self, tid: u32, outcome: Outcome) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tgid) = state.tgid(tid) else { return };
        let p = state.processes.entry(tgid).or_insert_with(|| Process {
            comm: comm(tgid),
            ..Process::default()
        });
        let c = &mut p.counts;
        match outcome {
            Outcome::Mptcp => c.mptcp += 1,
            Outcome::FellBack(errno) => {
                c.fell_back += 1;
                if c.fallback_errno == 0 {
                    c.fallback_errno = errno;
                }
            }
            Outcome::Failed(errno) => {
                c.failed += 1;
                if c.fallback_errno == 0 {
                    c.fallback_errno = errno;
                }
            }
            Outcome::LeftTcp => p.left_tcp += 1,
            Outcome::NotMade => c.mptcp = c.mptcp.saturating_sub(1),
        }
    }

    /// Thread `tid` called `exit_group()`: writes its process's line.
    pub fn exiting(&self, tid: u32) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.processes.is_empty() {
            return;
        }
        let Some(tgid) = state.tgid(tid) else { return };
        let process = state.processes.remove(&tgid);
        state.tgids.retain(|_, g| *g != tgid);
        drop(state);
        if let Some(p) = process {
            self.write(tgid, &p);
        }
    }

    /// The tree has ended: writes the lines of the processes that ended
    /// without `exit_group()`, by pid.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut left: Vec<_> = state.processes.drain().collect();
        drop(state);
        left.sort_by_key(|(pid, _)| *pid);
        for (pid, p) in left {
            self.write(pid, &p);
        }
    }

    fn write(&self, pid: u32, p: &Process) {
        let line = match self.settings.format {
            Format::Text => text_line(pid, p),
            Format::Json => json_line(pid, p),
        };
        // One write(2), best-effort: a full disk or a FIFO without room
        // loses the line, never the program.
        let _ = rustix::io::write(self.settings.to.as_fd(), line.as_bytes());
    }
}

impl State {
    /// The process of thread `tid` (read from /proc once per thread);
    /// `None` when it is gone or not visible (pid 0: another pid namespace).
    fn tgid(&mut self, tid: u32) -> Option<u32> {
        if tid == 0 {
            return None;
        }
        if let Some(&tgid) = self.tgids.get(&tid) {
            return Some(tgid);
        }
        let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
        let tgid = status
            .lines()
            .find_map(|l| l.strip_prefix("Tgid:"))?
            .trim()
            .parse()
            .ok()?;
        self.tgids.insert(tid, tgid);
        Some(tgid)
    }
}

/// The command name of `pid` (empty when it is gone already).
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end_matches('\n').to_string())
        .unwrap_or_default()
}

/// `mptcpize[PID] report: exit: 2 sockets made MPTCP, 0 fell back to TCP`,
/// the library's words, and the sockets left TCP in another namespace.
fn text_line(pid: u32, p: &Process) -> String {
    let mut line = format!("mptcpize[{pid}] report: exit: {}", Counts(p.counts));
    if p.left_tcp > 0 {
        let s = if p.left_tcp == 1 { "" } else { "s" };
        line += &format!(
            "; {} socket{s} left TCP in a network namespace the supervisor may not enter",
            p.left_tcp
        );
    }
    line += "\n";
    line
}

/// The schema's `process` object; what the supervisor cannot see is null.
#[derive(Serialize)]
struct ProcessJson<'a> {
    kind: &'static str,
    pid: u32,
    comm: &'a str,
    mode: &'static str,
    sockets_mptcp: u64,
    sockets_fallback: u64,
    fallback_reason: Option<String>,
    sockets_failed: u64,
    sockets_made_tcp: Option<u64>,
    connections_mptcp: Option<u64>,
    connections_fallback: Option<u64>,
    connections_tcp: Option<u64>,
    max_subflows: Option<u64>,
    not_followed: Option<u64>,
    closed_unseen: Option<u64>,
    handed_over: Option<u64>,
    never_seen: Option<u64>,
}

fn json_line(pid: u32, p: &Process) -> String {
    let c = &p.counts;
    let object = ProcessJson {
        kind: "process",
        pid,
        comm: &p.comm,
        mode: "seccomp",
        sockets_mptcp: c.mptcp,
        sockets_fallback: c.fell_back,
        fallback_reason: (c.fell_back + c.failed > 0)
            .then(|| FallbackReason(c.fallback_errno).to_string()),
        sockets_failed: c.failed,
        // The supervisor answers socket() only: options, connections and
        // closes are past it (`mptcpize-rs top` sees connections).
        sockets_made_tcp: None,
        connections_mptcp: None,
        connections_fallback: None,
        connections_tcp: None,
        max_subflows: None,
        not_followed: Some(p.left_tcp),
        closed_unseen: None,
        handed_over: None,
        never_seen: None,
    };
    let mut line = serde_json::to_string(&object).expect("plain data serializes");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(mptcp: u64, fell_back: u64, failed: u64, errno: i32, left_tcp: u64) -> Process {
        Process {
            comm: "wget".into(),
            counts: SocketCounts {
                mptcp,
                fell_back,
                failed,
                fallback_errno: errno,
            },
            left_tcp,
        }
    }

    #[test]
    fn text_lines_use_the_librarys_words() {
        assert_eq!(
            text_line(42, &process(2, 0, 0, 0, 0)),
            "mptcpize[42] report: exit: 2 sockets made MPTCP, 0 fell back to TCP\n"
        );
        assert_eq!(
            text_line(7, &process(0, 1, 0, libc::ENOPROTOOPT, 1)),
            "mptcpize[7] report: exit: 0 sockets made MPTCP, 1 fell back to TCP (MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0); 1 socket left TCP in a network namespace the supervisor may not enter\n"
        );
    }

    #[test]
    fn json_lines_are_the_schemas_process_object() {
        let line = json_line(9, &process(0, 0, 1, libc::ENOPROTOOPT, 0));
        assert_eq!(
            line,
            "{\"kind\":\"process\",\"pid\":9,\"comm\":\"wget\",\"mode\":\"seccomp\",\
             \"sockets_mptcp\":0,\"sockets_fallback\":0,\
             \"fallback_reason\":\"MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0\",\
             \"sockets_failed\":1,\"sockets_made_tcp\":null,\"connections_mptcp\":null,\
             \"connections_fallback\":null,\"connections_tcp\":null,\"max_subflows\":null,\
             \"not_followed\":0,\"closed_unseen\":null,\"handed_over\":null,\"never_seen\":null}\n"
        );
    }
}
