//! The compatibility table, in Markdown, made from a run of the matrix: one
//! row per program (version, role, MPTCP yes/no, notes), then one row per
//! pair with what each mode negotiated. [`splice`] puts it into the README
//! between `<!-- compat:begin -->` and `<!-- compat:end -->`.

use super::sockopts::Outcome;
use super::{Mode, PairResult};
use std::collections::BTreeSet;
use std::fmt::Write;

pub const BEGIN: &str = "<!-- compat:begin -->";
pub const END: &str = "<!-- compat:end -->";

/// One program's row, gathered over the pairs it is in.
struct Row {
    label: &'static str,
    version: String,
    role: &'static str,
    mptcp: bool,
    notes: Vec<String>,
}

/// The Markdown of a whole run (`kernel`: the release it ran on).
pub fn render(results: &[PairResult], sockopts: &[Outcome], kernel: &str) -> String {
    let mut rows: Vec<Row> = Vec::new();
    for r in results {
        let sides = [
            (
                "client",
                r.pair.client,
                &r.client_version,
                r.pair.server.label,
            ),
            (
                "server",
                r.pair.server,
                &r.server_version,
                r.pair.client.label,
            ),
        ];
        for (role, side, version, peer) in sides {
            let row = match rows
                .iter_mut()
                .position(|row| row.label == side.label && row.role == role)
            {
                Some(i) => &mut rows[i],
                None => {
                    rows.push(Row {
                        label: side.label,
                        version: version.clone(),
                        role,
                        mptcp: true,
                        notes: Vec::new(),
                    });
                    rows.last_mut().unwrap()
                }
            };
            row.mptcp &= r
                .case(Mode::Mptcp)
                .is_some_and(|c| c.problems(Mode::Mptcp).is_empty());
            row.notes.push(note(r, role, peer));
        }
    }

    let mut md = String::new();
    let _ = writeln!(
        md,
        "Produced by the compatibility matrix on Linux {kernel}: each program under \
         `mptcpize-rs run`, its peer in the other network namespace, the data compared byte \
         for byte (iperf3: its own counts), MPTCP read from the kernel's counters (MPTcpExt) \
         and `ss -M`.\n"
    );
    md.push_str("| Program | Version | Role | MPTCP | Notes |\n|---|---|---|---|---|\n");
    for row in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            cell(row.label),
            cell(&row.version),
            row.role,
            if row.mptcp { "yes" } else { "**no**" },
            cell(&row.notes.join("<br>"))
        );
    }

    md.push_str("\nWhat each pair negotiated, in each mode:\n\n");
    md.push_str("| Client → server | Moves |");
    for mode in Mode::ALL {
        let _ = write!(md, " {} |", mode.label());
    }
    md.push_str("\n|---|---|");
    md.push_str(&"---|".repeat(Mode::ALL.len()));
    md.push('\n');
    for r in results {
        let _ = write!(
            md,
            "| {} → {} | {} |",
            cell(r.pair.client.label),
            cell(r.pair.server.label),
            cell(r.pair.moves)
        );
        for (mode, outcome) in &r.cases {
            let text = match outcome {
                Ok(case) if case.problems(*mode).is_empty() => case.summary(),
                Ok(case) => format!("**FAILED**: {}", case.problems(*mode).join("; ")),
                Err(e) => format!("**FAILED**: {}", e.lines().next().unwrap_or("")),
            };
            let _ = write!(md, " {} |", cell(&text));
        }
        md.push('\n');
    }

    if !sockopts.is_empty() {
        md.push_str(
            "\nSocket options on this kernel (\"ok\" or the errno): on a TCP and an MPTCP \
             socket of the kernel itself (MPTCP before connecting, where it differs, in \
             brackets), then under `mptcpize-rs run` with the option set before connecting \
             and once connected (to a peer also under the tool): \"ok, TCP\" is a socket the \
             shim made TCP, \"ok, MPTCP\" one that stayed MPTCP.\n\n\
             | Call | TCP | MPTCP | mptcpize-rs, before connect | mptcpize-rs, connected |\n\
             |---|---|---|---|---|\n",
        );
        for o in sockopts {
            let mut mptcp = if o.mptcp != o.tcp {
                format!("**{}**", o.mptcp)
            } else {
                o.mptcp.clone()
            };
            if o.mptcp_fresh != o.mptcp {
                let _ = write!(mptcp, " (before connect: {})", o.mptcp_fresh);
            }
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {} |",
                cell(&o.probe.call),
                o.tcp,
                mptcp,
                o.shim_before.words(),
                o.shim_after.words()
            );
        }
    }
    md
}

/// The notes of one side of one pair: the peer and data, how the MPTCP
/// case went, the fallback modes, and socket options only MPTCP rejected.
fn note(r: &PairResult, role: &str, peer: &str) -> String {
    let mut note = format!("with {peer}: {}", r.pair.moves);
    match r.case(Mode::Mptcp) {
        Some(case) if case.problems(Mode::Mptcp).is_empty() => {
            let _ = write!(note, "; {}", case.summary());
        }
        _ => note.push_str("; **MPTCP case failed**"),
    }
    let failed: Vec<&str> = Mode::ALL[1..]
        .iter()
        .filter(|m| {
            !r.cases
                .iter()
                .any(|(mode, c)| mode == *m && c.as_ref().is_ok_and(|c| c.problems(**m).is_empty()))
        })
        .map(|m| m.label())
        .collect();
    if failed.is_empty() {
        note.push_str("; falls back to TCP");
    } else {
        let _ = write!(note, "; **failed: {}**", failed.join(", "));
    }
    let rejected = mptcp_only_failures(r, role);
    if !rejected.is_empty() {
        let list: Vec<&str> = rejected.iter().map(String::as_str).collect();
        let _ = write!(
            note,
            "; fails only on MPTCP sockets: `{}`",
            list.join("`, `")
        );
    }
    note
}

/// Socket-option calls of `role` that failed with MPTCP and not without
/// the shim on that side (client: "server only" mode; server: "client only").
pub fn mptcp_only_failures(r: &PairResult, role: &str) -> BTreeSet<String> {
    let (plain_mode, pick): (Mode, fn(&super::Case) -> &BTreeSet<String>) = if role == "client" {
        (Mode::ServerOnly, |c| &c.client_failed)
    } else {
        (Mode::ClientOnly, |c| &c.server_failed)
    };
    let (Some(with), Some(without)) = (r.case(Mode::Mptcp), r.case(plain_mode)) else {
        return BTreeSet::new();
    };
    pick(with).difference(pick(without)).cloned().collect()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `readme` with the text between the markers replaced by `table`.
pub fn splice(readme: &str, table: &str) -> Result<String, String> {
    let begin = readme
        .find(BEGIN)
        .ok_or_else(|| format!("no {BEGIN} line in the README"))?;
    let end = readme
        .find(END)
        .filter(|&e| e > begin)
        .ok_or_else(|| format!("no {END} line after {BEGIN} in the README"))?;
    Ok(format!(
        "{}{BEGIN}\n{}\n{}",
        &readme[..begin],
        table.trim_end(),
        &readme[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::observe::{ClientSide, ServerSide};
    use crate::compat::{pairs, Case};

    fn case(mptcp: bool, client_failed: &[&str]) -> Case {
        Case {
            listener_mptcp: true,
            listener_kept: true,
            client: ClientSide {
                connections: 1,
                offered: u64::from(mptcp),
                accepted: u64::from(mptcp),
                refused: 0,
                joins: u64::from(mptcp),
            },
            server: ServerSide {
                connections: 1,
                mp_capable: u64::from(mptcp),
                joins: u64::from(mptcp),
            },
            client_converted: usize::from(mptcp),
            client_fell_back: 0,
            client_failed: client_failed.iter().map(|s| s.to_string()).collect(),
            server_failed: BTreeSet::new(),
        }
    }

    fn result(cases: Vec<(Mode, Result<Case, String>)>) -> PairResult {
        PairResult {
            pair: pairs::all().remove(0),
            client_version: "1.0".into(),
            server_version: "2.0".into(),
            cases,
        }
    }

    #[test]
    fn a_connection_that_stayed_tcp_is_a_no_and_a_failed_case_says_so() {
        let r = result(vec![
            (Mode::Mptcp, Ok(case(false, &[]))),
            (Mode::ServerOnly, Err("curl exited with 7".into())),
        ]);
        let md = render(&[r], &[], "6.18");
        assert!(md.contains("| curl | 1.0 | client | **no** |"), "{md}");
        assert!(md.contains("**MPTCP case failed**"), "{md}");
        assert!(md.contains("**FAILED**: curl exited with 7"), "{md}");
        assert!(
            md.contains("**FAILED**: not every client connection negotiated MPTCP"),
            "{md}"
        );
    }

    #[test]
    fn only_calls_that_fail_just_with_mptcp_are_noted() {
        let always = "setsockopt(SOL_IPV6, IPV6_V6ONLY) = ENOPROTOOPT";
        let mptcp_only = "setsockopt(SOL_TCP, TCP_ULP) = EOPNOTSUPP";
        let r = result(vec![
            (Mode::Mptcp, Ok(case(true, &[always, mptcp_only]))),
            (Mode::ServerOnly, Ok(case(false, &[always]))),
        ]);
        let only: Vec<String> = mptcp_only_failures(&r, "client").into_iter().collect();
        assert_eq!(only, [mptcp_only]);
        let md = render(&[r], &[], "6.18");
        assert!(md.contains("| curl | 1.0 | client | yes |"), "{md}");
        assert!(
            md.contains(&format!("fails only on MPTCP sockets: `{mptcp_only}`")),
            "{md}"
        );
    }

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let readme = format!("# R\n\nbefore\n{BEGIN}\nold\nrows\n{END}\nafter\n");
        let out = splice(&readme, "| new |\n").unwrap();
        assert_eq!(
            out,
            format!("# R\n\nbefore\n{BEGIN}\n| new |\n{END}\nafter\n")
        );
        assert_eq!(splice(&out, "| new |").unwrap(), out, "idempotent");
        assert!(splice("no markers", "x").unwrap_err().contains(BEGIN));
        assert!(splice(&format!("{END}\n{BEGIN}\n"), "x").is_err());
    }
}
