//! Report lines: one for a connection when it ends, one for a process
//! when it exits, in the format `MPTCPIZE_REPORT_FORMAT` chose when the
//! library loaded: text (`mptcpize[PID] report: …`) or JSON Lines (one
//! object a line). The words and objects are `mptcpize_rules::report`'s,
//! shared with the seccomp supervisor; each line is built on the stack and
//! written with one write(2) ([`crate::dest`]), at most `PIPE_BUF` bytes,
//! so that lines from threads and processes never mix.

use crate::dest;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use mptcpize_preload::line::Line;
use mptcpize_preload::sys;
use mptcpize_rules::env::ReportFormat;
use mptcpize_rules::report::{Connection, Process};

/// A report line.
pub type ReportLine = Line<{ dest::LINE_MAX }>;

/// JSON Lines rather than text.
static JSON: AtomicBool = AtomicBool::new(false);

/// Sets the format, when the report starts.
pub fn set_format(format: ReportFormat) {
    JSON.store(format == ReportFormat::Json, Ordering::Relaxed);
}

/// This process's pid and name, for a line.
pub fn me(comm: &mut [u8; 16]) -> (u32, &[u8]) {
    (sys::getpid() as u32, sys::comm(comm))
}

/// A connection's line, built in `slot` (written by the caller once the
/// connection is closed).
#[inline(never)]
pub fn connection<'a>(
    slot: &'a mut MaybeUninit<ReportLine>,
    c: &Connection<'_>,
) -> &'a mut ReportLine {
    if JSON.load(Ordering::Relaxed) {
        let line: &mut ReportLine = Line::empty(slot);
        c.write_json(line);
        line
    } else {
        let line: &mut ReportLine = Line::start(slot, " report: ");
        c.write_text(line);
        line
    }
}

/// Writes a process's line, text or JSON.
#[inline(never)]
pub fn process(slot: &mut MaybeUninit<ReportLine>, p: &Process<'_>) {
    let line: &mut ReportLine = if JSON.load(Ordering::Relaxed) {
        let line = Line::empty(slot);
        p.write_json(line);
        line
    } else {
        let line = Line::start(slot, " report: ");
        p.write_text(line);
        line
    };
    dest::write(line.finish());
}
