//! Making the MPTCP configuration the paths rely on survive a reboot: the
//! limits, the endpoints, the routing by source of each extra path, the
//! sysctls (`net.mptcp.*`, `rp_filter`) — read from the running kernel, so
//! that it covers what `--fix` did and what the admin did by hand.
//!
//! Written as this host wants it: NetworkManager's `connection.mptcp-flags`
//! for the interfaces it manages (it then sets their endpoints itself),
//! otherwise a sysctl.d file and a oneshot unit. `check --fix` prints the
//! plan; only `check --persist` writes it, as new files (never over a file
//! with other content, never through a symlink).

use super::fix::Command;
use super::netlink::{Route, State};
use super::paths::Path;
use super::pm::PathManager;
use super::{host, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// Where the files go.
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-mptcpize.conf";
pub const UNIT_FILE: &str = "/etc/systemd/system/mptcpize-paths.service";
const UNIT: &str = "mptcpize-paths.service";

/// What keeps the configuration across reboots.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// `nmcli connection modify …` for interfaces NetworkManager manages.
    pub nmcli: Vec<Command>,
    /// The sysctl.d file's lines (`key = value`).
    pub sysctls: Vec<String>,
    /// The `ip` commands the oneshot unit runs at boot.
    pub commands: Vec<Command>,
}

/// The plan for what the kernel has now.
pub fn plan(
    state: &State,
    pm: Option<&PathManager>,
    paths: &[Path],
    nm: &dyn Fn(&str) -> Option<String>,
) -> Plan {
    let mut plan = Plan::default();
    let name_of = |index: u32| {
        state
            .links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.clone())
    };

    // sysctls: MPTCP on, what differs from the kernel's defaults, and the
    // rp_filter of the interfaces paths use.
    if host::sysctl("enabled").as_deref() == Some("1") {
        plan.sysctls.push("net.mptcp.enabled = 1".into());
    }
    for (name, default) in [
        ("allow_join_initial_addr_port", "1"),
        ("checksum_enabled", "0"),
        ("path_manager", "kernel"),
    ] {
        if let Some(v) = host::sysctl(name).filter(|v| v != default) {
            plan.sysctls.push(format!("net.mptcp.{name} = {v}"));
        }
    }
    let default_rp = host::sysctl_path("net/ipv4/conf/default/rp_filter");
    let mut seen = Vec::new();
    for p in paths.iter().filter(|p| p.address.is_ipv4()) {
        if seen.contains(&p.interface) {
            continue;
        }
        seen.push(p.interface.clone());
        let v = host::sysctl_path(&format!("net/ipv4/conf/{}/rp_filter", p.interface));
        if v.is_some() && v != default_rp {
            // The slash form, since interface names may hold dots.
            plan.sysctls.push(format!(
                "net/ipv4/conf/{}/rp_filter = {}",
                p.interface,
                v.unwrap_or_default()
            ));
        }
    }

    // Limits and endpoints.
    if let Some(pm) = pm {
        plan.commands.push(Command::new([
            "ip".to_string(),
            "mptcp".into(),
            "limits".into(),
            "set".into(),
            "subflow".into(),
            pm.limits.subflows.to_string(),
            "add_addr_accepted".into(),
            pm.limits.add_addr_accepted.to_string(),
        ]));
        let mut by_nm: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for e in pm.endpoints.iter().filter(|e| !e.has_flag("implicit")) {
            let Some(addr) = e.address else { continue };
            let dev = e.ifindex.and_then(name_of);
            if let Some(conn) = dev.as_deref().and_then(nm) {
                let flags = by_nm
                    .entry((conn, dev.clone().unwrap_or_default()))
                    .or_default();
                for f in &e.flags {
                    if !flags.contains(f) {
                        flags.push(f.clone());
                    }
                }
                continue;
            }
            let mut c = Command::new(["ip", "mptcp", "endpoint", "add"]);
            c.arg(addr.to_string());
            if let Some(port) = e.port {
                c.args(["port".to_string(), port.to_string()]);
            }
            if let Some(dev) = dev {
                c.args(["dev".to_string(), dev]);
            }
            c.args(e.flags.iter().cloned());
            plan.commands.push(c);
        }
        for ((conn, dev), mut flags) in by_nm {
            // NetworkManager sets endpoints only on interfaces with a
            // default route unless told otherwise.
            let index = state.links.iter().find(|l| l.name == dev).map(|l| l.index);
            if !state
                .routes
                .iter()
                .any(|r| r.table == 254 && r.destination.is_none() && r.oif == index)
            {
                flags.push("also-without-default-route".into());
            }
            plan.nmcli.push(Command::new([
                "nmcli".to_string(),
                "connection".into(),
                "modify".into(),
                conn,
                "connection.mptcp-flags".into(),
                format!("enabled,{}", flags.join(",")),
            ]));
        }
    }

    // Routing by source for the paths that have it.
    let mut tables_done = Vec::new();
    for p in paths.iter().filter(|p| p.kind != "initial") {
        for r in p
            .rules
            .iter()
            .filter(|r| r.action == "lookup" && ![0, 253, 254, 255].contains(&r.table))
        {
            let ip = |rest: Vec<String>| {
                let mut c = Command::new(["ip"]);
                if r.ipv6 {
                    c.arg("-6");
                }
                c.args(rest);
                c
            };
            if !tables_done.contains(&r.table) {
                tables_done.push(r.table);
                for route in state
                    .routes
                    .iter()
                    .filter(|x| x.table == r.table && x.ipv6 == r.ipv6 && x.kind == "unicast")
                {
                    plan.commands.push(ip(route_words(route, &name_of)));
                }
            }
            let (from, len) = r.from.expect("rules of a path select on its source");
            plan.commands.push(ip(vec![
                "rule".into(),
                "add".into(),
                "from".into(),
                format!("{from}/{len}"),
                "table".into(),
                r.table.to_string(),
                "priority".into(),
                r.priority.to_string(),
            ]));
        }
    }
    plan
}

fn route_words(r: &Route, name_of: &dyn Fn(u32) -> Option<String>) -> Vec<String> {
    let mut w = vec!["route".to_string(), "add".into()];
    w.push(match r.destination {
        Some(d) => format!("{d}/{}", r.prefix_len),
        None => "default".into(),
    });
    if let Some(g) = r.gateway {
        w.extend(["via".into(), g.to_string()]);
    }
    if let Some(dev) = r.oif.and_then(name_of) {
        w.extend(["dev".into(), dev]);
    }
    if let Some(s) = r.source {
        w.extend(["src".into(), s.to_string()]);
    }
    if r.metric != 0 {
        w.extend(["metric".into(), r.metric.to_string()]);
    }
    w.extend(["table".into(), r.table.to_string()]);
    w
}

impl Plan {
    pub fn sysctl_file(&self) -> Option<String> {
        (!self.sysctls.is_empty()).then(|| {
            let mut s = String::from(
                "# Written by mptcpize-rs check --persist: MPTCP and the paths it uses.\n",
            );
            for l in &self.sysctls {
                s += l;
                s.push('\n');
            }
            s
        })
    }

    pub fn unit_file(&self) -> Option<String> {
        (!self.commands.is_empty()).then(|| {
            let mut s = String::from(
                "# Written by mptcpize-rs check --persist: MPTCP limits, endpoints and routing by source.\n\
                 [Unit]\n\
                 Description=MPTCP limits, endpoints and routing by source\n\
                 After=network-online.target\n\
                 Wants=network-online.target\n\n\
                 [Service]\n\
                 Type=oneshot\n\
                 RemainAfterExit=yes\n",
            );
            // `-`: a piece that is already there is no failure.
            for c in &self.commands {
                s += &format!("ExecStart=-{c}\n");
            }
            s + "\n[Install]\nWantedBy=multi-user.target\n"
        })
    }

    /// What a person reads after `--fix`.
    pub fn describe(&self) -> String {
        let mut out = String::from(
            "The kernel forgets these settings at reboot. `mptcpize-rs check --persist` keeps them:\n",
        );
        if !self.nmcli.is_empty() {
            out += "- NetworkManager sets the endpoints of the interfaces it manages:\n";
            for c in &self.nmcli {
                out += &format!("    {c}\n");
            }
        }
        if let Some(f) = self.sysctl_file() {
            out += &format!("- {SYSCTL_FILE}:\n");
            out += &indent(&f);
        }
        if let Some(f) = self.unit_file() {
            out += &format!("- {UNIT_FILE}, enabled (`systemctl enable {UNIT}`):\n");
            out += &indent(&f);
        }
        out
    }

    /// Writes the files, enables the unit and runs the nmcli commands;
    /// one line per step, and whether all went well.
    pub fn apply(&self) -> (Vec<(Status, String)>, bool) {
        let mut lines = Vec::new();
        let mut ok = true;
        for c in &self.nmcli {
            match c.run() {
                Ok(()) => lines.push((Status::Ok, format!("ran: {c}"))),
                Err(e) => {
                    ok = false;
                    lines.push((Status::Fail, format!("{c}: {e}")));
                }
            }
        }
        let files = [
            (SYSCTL_FILE, self.sysctl_file()),
            (UNIT_FILE, self.unit_file()),
        ];
        for (path, text) in files {
            let Some(text) = text else { continue };
            match write_new(path, &text) {
                Ok(true) => lines.push((Status::Ok, format!("wrote {path}"))),
                Ok(false) => lines.push((Status::Ok, format!("{path} already says this"))),
                Err(e) => {
                    ok = false;
                    lines.push((Status::Fail, format!("{path}: {e}")));
                }
            }
        }
        if self.unit_file().is_some() && ok {
            let c = Command::new(["systemctl", "enable", UNIT]);
            match c.run() {
                Ok(()) => lines.push((Status::Ok, format!("ran: {c}"))),
                Err(e) => {
                    ok = false;
                    lines.push((Status::Fail, format!("{c}: {e}")));
                }
            }
        }
        (lines, ok)
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Creates `path` with `text` (mode 0644), never through a symlink and
/// never over another file: `Ok(false)` when it already holds exactly
/// `text`, an error when it holds anything else.
fn write_new(path: &str, text: &str) -> Result<bool, String> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    match open.open(path) {
        Ok(mut f) => {
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| e.to_string())?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut read = std::fs::OpenOptions::new();
            read.read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
            let same = read
                .open(path)
                .and_then(std::io::read_to_string)
                .is_ok_and(|old| old == text);
            if same {
                Ok(false)
            } else {
                Err("exists with other content (or is a symlink): left alone; merge the text above by hand, or remove it and run again".into())
            }
        }
        Err(e) => Err(e.to_string()),
    }
}
