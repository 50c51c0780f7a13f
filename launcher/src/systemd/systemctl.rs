//! Talking to the running service manager through `systemctl`: the unit's
//! properties (`show`), the manager's version, `daemon-reload`, restarts.
//! Unit names are passed as single arguments after `--`, never through a
//! shell.

use super::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// `systemctl`, or `systemctl --user`.
pub struct Systemctl {
    pub user: bool,
}

impl Systemctl {
    fn command(&self) -> Command {
        let mut cmd = Command::new("systemctl");
        if self.user {
            cmd.arg("--user");
        }
        cmd
    }

    /// Fails with advice when no service manager of this kind runs here.
    pub fn require_running(&self) -> Result<()> {
        // sd_booted(): a system booted with systemd has /run/systemd/system.
        if !self.user && !Path::new("/run/systemd/system").is_dir() {
            return Err(Error::Manager(
                "no running systemd here (/run/systemd/system is missing); to change the unit files of an image or chroot, use --root DIR"
                    .into(),
            ));
        }
        self.output(&["show", "--property=Version"]).map(|_| ())
    }

    fn output(&self, args: &[&str]) -> Result<String> {
        let mut cmd = self.command();
        cmd.args(args);
        let out = cmd.output().map_err(|e| {
            Error::Manager(format!(
                "cannot run systemctl: {e}; is systemd installed? (or use --root DIR)"
            ))
        })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().next().unwrap_or("").trim();
            let hint = if self.user {
                "is your user manager running (loginctl enable-linger)?"
            } else {
                "use --root DIR for an image without a running systemd"
            };
            return Err(Error::Manager(format!(
                "systemctl {} failed: {first}; {hint}",
                args.join(" ")
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `systemctl show` of `props` of `unit`.
    pub fn show(&self, unit: &str, props: &[&str]) -> Result<HashMap<String, String>> {
        let mut args = vec!["show".to_string()];
        args.extend(props.iter().map(|p| format!("--property={p}")));
        args.push("--".into());
        args.push(unit.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = self.output(&args)?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// The manager's version (252 for "252.38-1~deb12u1").
    pub fn version(&self) -> Option<u32> {
        let text = self
            .output(&["show", "--property=Version", "--value"])
            .ok()?;
        let digits: String = text
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    /// `systemctl ARGS…`, inheriting our terminal so the user sees its output.
    pub fn run(&self, args: &[&str]) -> Result<()> {
        let mut cmd = self.command();
        cmd.args(args);
        let status = cmd
            .status()
            .map_err(|e| Error::Manager(format!("cannot run systemctl: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Manager(format!(
                "systemctl {} failed (the drop-ins are in place; see systemctl status)",
                args.join(" ")
            )))
        }
    }

    /// Restarts `service`; with socket drop-ins, the sockets too (with the
    /// service stopped, so that they can be recreated).
    pub fn restart(&self, service: &str, sockets: &[String]) -> Result<()> {
        if sockets.is_empty() {
            return self.run(&["restart", "--", service]);
        }
        self.run(&["stop", "--", service])?;
        let mut args = vec!["restart", "--"];
        args.extend(sockets.iter().map(String::as_str));
        self.run(&args)?;
        self.run(&["start", "--", service])
    }
}
