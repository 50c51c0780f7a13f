//! The report for people: the targets of the issues checked against the
//! figures, and everything as a plain-text table for stdout.

use super::way::Way;
use super::{Report, Target};
use std::fmt::Write;

fn target(what: &str, measured: f64, limit: &str, met: bool) -> Target {
    Target {
        what: what.into(),
        measured: (measured * 1000.0).round() / 1000.0,
        limit: limit.into(),
        met,
    }
}

/// Checks the figures against the targets of issues 2 and 3.
pub fn targets(r: &Report) -> Vec<Target> {
    let mut t = Vec::new();
    if let Some(a) = &r.aggregation {
        for tool in ["iperf3", "bulk"] {
            if let (Some(rs), Some(plain)) =
                (a.mbit(tool, Way::MptcpizeRs), a.mbit(tool, Way::Plain))
            {
                let x = rs / plain;
                t.push(target(
                    &format!("{tool}: mptcpize-rs over plain TCP"),
                    x,
                    ">= 1.85x",
                    x >= 1.85,
                ));
            }
            if let (Some(rs), Some(native)) =
                (a.mbit(tool, Way::MptcpizeRs), a.mbit(tool, Way::Native))
            {
                let x = rs / native;
                t.push(target(
                    &format!("{tool}: mptcpize-rs over native MPTCP"),
                    x,
                    ">= 0.97x",
                    x >= 0.97,
                ));
            }
        }
    }
    if let Some(a) = &r.aggregation {
        let bad = a.problems.len() as f64;
        t.push(target(
            "bulk: runs whose bytes arrived changed or short",
            bad,
            "= 0",
            bad == 0.0,
        ));
    }
    if let Some(f) = &r.failover {
        t.push(target(
            "failover: bytes intact (1 = yes)",
            f64::from(u8::from(f.intact)),
            "= 1",
            f.intact,
        ));
        let resumed = f.resumed_after_s.unwrap_or(f64::INFINITY);
        t.push(target(
            &format!(
                "failover: path {} carries traffic again after (s)",
                f.down_path
            ),
            resumed,
            "within the run",
            f.resumed_after_s.is_some(),
        ));
    }
    if let Some(fb) = &r.fallback {
        if let (Some(rs), Some(plain)) = (
            fb.median(Way::MptcpizeRs, Way::Plain),
            fb.median(Way::Plain, Way::Plain),
        ) {
            t.push(target(
                "fallback: connect median, mptcpize-rs over plain TCP",
                rs / plain,
                "connects (no limit)",
                true,
            ));
        }
    }
    if let Some(sc) = &r.seccomp {
        if let Some(tcp) = sc.row("tcp") {
            t.push(target(
                "seccomp: µs per converted socket() call",
                tcp.seccomp_ns / 1000.0,
                "<= 25",
                tcp.seccomp_ns <= 25_000.0,
            ));
        }
        if let Some(udp) = sc.row("udp") {
            // "Nothing measurable": within 5% of no mptcpize at all.
            t.push(target(
                "seccomp: other syscalls (udp socket+close) over none",
                udp.seccomp_ns / udp.none_ns,
                "<= 1.05x",
                udp.seccomp_ns <= udp.none_ns * 1.05,
            ));
        }
    }
    if let Some(tc) = &r.top {
        t.push(target(
            "top: CPU ms per snapshot of 1,000 MPTCP connections (--once --json)",
            tc.snapshot_cpu_ms,
            "< 250 (well under a second)",
            tc.snapshot_cpu_ms < 250.0 && tc.listed == 2 * tc.connections,
        ));
    }
    if let Some(i) = &r.integrity {
        let d = f64::from(i.damaged(false));
        t.push(target(
            "integrity: transfers whose bytes arrived changed (veth TSO off)",
            d,
            "= 0",
            d == 0.0,
        ));
        t.push(target(
            "integrity: the same with veth TSO on (a kernel finding)",
            f64::from(i.damaged(true)),
            "reported",
            true,
        ));
    }
    if let Some(s) = &r.shim {
        if let Some(added) = s.added("mptcpize-rs shim (LD_PRELOAD)") {
            t.push(target(
                "shim: added instructions per socket()+close()",
                added,
                "<= 30",
                added <= 30.0,
            ));
        }
        if let (Some(ours), Some(theirs)) = (
            s.load_added("mptcpize-rs shim (LD_PRELOAD)"),
            s.load_added("libmptcpwrap (mptcpize)"),
        ) {
            t.push(target(
                "shim: load instructions over libmptcpwrap's",
                ours as f64 / theirs.max(1) as f64,
                "<= 1.0x",
                ours <= theirs,
            ));
        }
        if let Some(x) = s.wall_ratio {
            t.push(target(
                "wall: mptcpize-rs run true over mptcpize run true (medians, interleaved)",
                x,
                "<= 1.2x",
                x <= 1.2,
            ));
        }
    }
    t
}

/// The whole report as text.
pub fn table(r: &Report) -> String {
    let mut o = String::new();
    let m = &r.machine;
    let _ = writeln!(
        o,
        "\nmachine: Linux {}, {} CPUs, {}",
        m.kernel, m.nproc, m.cpu
    );
    if let Some(a) = &r.aggregation {
        let _ = writeln!(
            o,
            "\nAggregation: 2 paths x {} Mbit/s{}, client -> server, median of {} runs of {} s\n",
            r.rate_mbit,
            r.delay_ms
                .map_or(String::new(), |d| format!(", {d} ms one way")),
            r.repeat,
            r.seconds
        );
        let _ = writeln!(o, "| tool   | way              | Mbit/s | x plain TCP | every run Mbit/s   | path 0 MB | path 1 MB | subflows | bytes intact |");
        let _ = writeln!(o, "|--------|------------------|-------:|------------:|--------------------|----------:|----------:|---------:|--------------|");
        for row in &a.rows {
            let plain = a.mbit(row.tool, Way::Plain).unwrap_or(f64::NAN);
            let mb = |k: usize| row.path_mb.get(k).map_or("-".into(), |v| format!("{v:.1}"));
            let _ = writeln!(
                o,
                "| {:6} | {:16} | {:6.1} | {:11.2} | {:18} | {:>9} | {:>9} | {:>8} | {:12} |",
                row.tool,
                row.way.name(),
                row.mbit,
                row.mbit / plain,
                row.runs_mbit
                    .iter()
                    .map(|v| format!("{v:.1}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                mb(0),
                mb(1),
                row.subflows.map_or("-".into(), |s| s.to_string()),
                row.intact.map_or("-", |i| if i { "yes" } else { "NO" })
            );
        }
        for s in &a.skipped {
            let _ = writeln!(o, "(not measured: {s})");
        }
        for p in &a.problems {
            let _ = writeln!(o, "(BYTES CHANGED: {p})");
        }
    }
    if let Some(f) = &r.failover {
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.1}"))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let _ = writeln!(
            o,
            "\nFailover (mptcpize-rs run, bulk): path {} down at {:.1} s, up at {:.1} s\n",
            f.down_path, f.t_down, f.t_up
        );
        let _ = writeln!(o, "| figure | value |\n|---|---|");
        let _ = writeln!(
            o,
            "| bytes received, all intact (FNV-1a equal at both ends) | {} ({}) |",
            f.bytes,
            if f.intact { "yes" } else { "NO" }
        );
        let _ = writeln!(
            o,
            "| throughput below half the surviving path's rate for | {} ms |",
            f.below_half_ms
        );
        let _ = writeln!(
            o,
            "| lowest throughput in a 100 ms interval after the failure | {:.1} Mbit/s |",
            f.lowest_mbit
        );
        let _ = writeln!(
            o,
            "| Mbit/s per path (0 / 1) before the failure | {} |",
            fmt(&f.before_mbit)
        );
        let _ = writeln!(
            o,
            "| Mbit/s per path (0 / 1) while path {} is down | {} |",
            f.down_path,
            fmt(&f.during_mbit)
        );
        let _ = writeln!(
            o,
            "| Mbit/s per path (0 / 1) in the last 3 s | {} |",
            fmt(&f.after_mbit)
        );
        let _ = writeln!(
            o,
            "| path {} carries traffic again (>= 1/4 of its rate) after | {} |",
            f.down_path,
            f.resumed_after_s
                .map_or("not within the run".into(), |s| format!("{s:.1} s"))
        );
    }
    if let Some(fb) = &r.fallback {
        let _ = writeln!(
            o,
            "\nConnect latency (socket() + connect(), {} connects each)\n",
            fb.connects
        );
        let _ = writeln!(o, "| client           | server           | median us | p90 us | connection (client's kernel) |");
        let _ = writeln!(o, "|------------------|------------------|----------:|-------:|------------------------------|");
        for row in &fb.rows {
            let _ = writeln!(
                o,
                "| {:16} | {:16} | {:9.1} | {:6.1} | {} |",
                row.client.name(),
                row.server.name(),
                row.median_us,
                row.p90_us,
                row.connection
            );
        }
    }
    if let Some(i) = &r.integrity {
        let _ = writeln!(
            o,
            "\nIntegrity: {} s bulk transfers, every byte checked\n",
            i.seconds_each
        );
        let _ = writeln!(o, "| paths | veth TSO | way              | transfers | bytes changed in |\n|------:|----------|------------------|----------:|-----------------:|");
        for row in &i.rows {
            let _ = writeln!(
                o,
                "| {:5} | {:8} | {:16} | {:9} | {:16} |",
                row.paths,
                if row.tso { "on" } else { "off" },
                row.way.name(),
                row.transfers,
                row.damaged
            );
        }
        for row in &i.rows {
            for d in &row.damage {
                let _ = writeln!(o, "_{d}_");
            }
        }
    }
    if let Some(tc) = &r.top {
        let _ = writeln!(
            o,
            "\nmptcpize-rs top: {} MPTCP connections held by `hold` under `run` ({} sockets listed)\n",
            tc.connections, tc.listed
        );
        let _ = writeln!(
            o,
            "| snapshot CPU ms | snapshot wall ms (median) | live view CPU, plain lines | live view CPU, terminal |\n|-----:|-----:|-----:|-----:|"
        );
        let _ = writeln!(
            o,
            "| {:.0} | {:.0} | {:.1}% | {:.1}% |",
            tc.snapshot_cpu_ms, tc.snapshot_ms, tc.plain_cpu_percent, tc.tui_cpu_percent
        );
    }
    if let Some(sc) = &r.seccomp {
        let _ = writeln!(
            o,
            "\nSeccomp mode: ns per socket() + close() (socket-loop, {} calls, median of {} interleaved runs)\n",
            sc.calls, sc.rounds
        );
        let _ = writeln!(o, "| socket | none | --mode preload | --mode seccomp |\n|--------|-----:|---------------:|---------------:|");
        for row in &sc.rows {
            let what = if row.kind == "tcp" {
                "TCP (converted)"
            } else {
                "UDP (passed through)"
            };
            let _ = writeln!(
                o,
                "| {what} | {:.0} | {:.0} | {:.0} |",
                row.none_ns, row.preload_ns, row.seccomp_ns
            );
        }
    }
    if let Some(s) = &r.shim {
        let _ = writeln!(
            o,
            "\nShim cost per socket() + close() (callgrind, instructions in user space)\n"
        );
        let _ = writeln!(o, "| variant                         | per call | added |\n|---------------------------------|---------:|------:|");
        for row in &s.per_call {
            let _ = writeln!(
                o,
                "| {:31} | {:8.1} | {:+5.1} |",
                row.variant, row.per_call, row.added
            );
        }
        let _ = writeln!(
            o,
            "\nShim cost per successful setsockopt() (callgrind, instructions added)\n"
        );
        let _ = writeln!(o, "| socket                                   | added |\n|------------------------------------------|------:|");
        for row in &s.per_setsockopt {
            let what = if row.socket == "tcp" {
                "converted (MPTCP): option recorded"
            } else {
                "not converted (UDP): nothing to do"
            };
            let _ = writeln!(o, "| {what:40} | {:+5.1} |", row.added);
        }
        let _ = writeln!(o, "\nLoad cost (callgrind, instructions of /bin/true)\n");
        let _ = writeln!(o, "| variant                         | instructions | added |\n|---------------------------------|-------------:|------:|");
        for row in &s.load {
            let _ = writeln!(
                o,
                "| {:31} | {:12} | {:+5} |",
                row.variant, row.instructions, row.added
            );
        }
        let _ = writeln!(
            o,
            "\nLauncher cost (callgrind, instructions from start to exec of `true`)\n"
        );
        let _ = writeln!(o, "| launcher                 | instructions |\n|--------------------------|-------------:|");
        for row in &s.launch {
            let _ = writeln!(o, "| {:24} | {:12} |", row.launcher, row.instructions);
        }
        let _ = writeln!(
            o,
            "\nWall time, interleaved ({} runs of each, alternating): median",
            super::shim_cost::INTERLEAVED
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "| command                  | median ms |\n|--------------------------|----------:|"
        );
        for (name, ms) in &s.wall_median_ms {
            let _ = writeln!(o, "| {name:24} | {ms:9.3} |");
        }
        let _ = writeln!(
            o,
            "\nWall time (hyperfine -N, cross-check; ratio of means {})\n",
            s.hyperfine_ratio.map_or("-".into(), |x| format!("{x:.3}"))
        );
        let _ = writeln!(o, "| command                  | mean ms | stddev ms | runs |\n|--------------------------|--------:|----------:|-----:|");
        for w in &s.wall {
            let _ = writeln!(
                o,
                "| {:24} | {:7.3} | {:9.3} | {:4} |",
                w.command, w.mean_ms, w.stddev_ms, w.runs
            );
        }
    }
    if !r.targets.is_empty() {
        let _ = writeln!(o, "\nTargets\n");
        let _ = writeln!(o, "| target | measured | limit | met |\n|---|---:|---|---|");
        for t in &r.targets {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                t.what,
                t.measured,
                t.limit,
                if t.met { "yes" } else { "NO" }
            );
        }
    }
    o
}
