//! Integrity: many short bulk transfers, each checked byte by byte and by
//! FNV-1a at both ends, over one path and over two (one MP_JOIN subflow),
//! under `mptcpize-rs run` and with native MPTCP sockets. It exists because
//! the other parts found transfers whose bytes arrived changed on this
//! kernel, with native MPTCP as well as under the shim, and only when the
//! veth links had TCP segmentation offload on: it counts them with the
//! testbed as the tests use it (TSO off) and with TSO on, and keeps the
//! receiver's description of each.

use super::transfer::bulk_transfer;
use super::way::Way;
use crate::BenchArgs;
use serde::Serialize;

#[derive(Serialize, Debug)]
pub struct Row {
    pub paths: usize,
    /// TCP segmentation offload on the veth links.
    pub tso: bool,
    pub way: Way,
    pub transfers: u32,
    pub damaged: u32,
    /// The receiver's line for each damaged transfer.
    pub damage: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct Integrity {
    pub seconds_each: f64,
    pub rows: Vec<Row>,
}

impl Integrity {
    /// Damaged transfers with TSO on (`true`) or off (`false`).
    pub fn damaged(&self, tso: bool) -> u32 {
        self.rows
            .iter()
            .filter(|r| r.tso == tso)
            .map(|r| r.damaged)
            .sum()
    }
}

pub fn measure(args: &BenchArgs) -> Result<Integrity, String> {
    let seconds_each = 1.0;
    let mut rows = Vec::new();
    let mut port = 5600;
    for (paths, tso) in [(1, false), (2, false), (2, true)] {
        let bed = super::testbed(args, paths, tso);
        let mut by_way: Vec<Row> = [Way::Native, Way::MptcpizeRs]
            .into_iter()
            .map(|way| Row {
                paths,
                tso,
                way,
                transfers: 0,
                damaged: 0,
                damage: Vec::new(),
            })
            .collect();
        for _ in 0..args.integrity_runs {
            for row in &mut by_way {
                port += 1;
                let r = bulk_transfer(&bed, row.way, port, seconds_each, || {})?;
                row.transfers += 1;
                if let Some(p) = r.problem {
                    row.damaged += 1;
                    row.damage.push(p);
                }
            }
        }
        for row in &by_way {
            eprintln!(
                "  {} path(s), TSO {}, {:16} {} of {} transfers damaged",
                row.paths,
                if row.tso { "on " } else { "off" },
                row.way.name(),
                row.damaged,
                row.transfers
            );
        }
        rows.extend(by_way);
    }
    Ok(Integrity { seconds_each, rows })
}
