//! Fixes: the commands `check` prints after `fix:` and `check --fix` runs,
//! exactly as printed (no shell in between), and how to make them last
//! beyond a reboot.

use serde::Serialize;
use std::fmt;

/// One command line (`ip mptcp endpoint add …`, `sysctl -w …`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Command(pub Vec<String>);

impl Command {
    pub fn new<S: Into<String>>(words: impl IntoIterator<Item = S>) -> Command {
        Command(words.into_iter().map(Into::into).collect())
    }

    pub fn arg(&mut self, word: impl Into<String>) -> &mut Command {
        self.0.push(word.into());
        self
    }

    pub fn args<S: Into<String>>(&mut self, words: impl IntoIterator<Item = S>) -> &mut Command {
        self.0.extend(words.into_iter().map(Into::into));
        self
    }

    /// Runs it; the error is what the command printed, or why it could not start.
    pub fn run(&self) -> Result<(), String> {
        let out = std::process::Command::new(&self.0[0])
            .args(&self.0[1..])
            .output()
            .map_err(|e| format!("{}: {e}", self.0[0]))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(err.trim().lines().next().unwrap_or("failed").to_string())
        }
    }
}

impl fmt::Display for Command {
    /// Shell words, quoted where a shell would split or expand them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, w) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(" ")?;
            }
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
            if plain {
                f.write_str(w)?;
            } else {
                write!(f, "'{}'", w.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

/// The commands that fix one problem, run in order (printed joined by `&&`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fix {
    pub commands: Vec<Command>,
}

impl Fix {
    pub fn one(c: impl Into<Command>) -> Fix {
        Fix {
            commands: vec![c.into()],
        }
    }

    pub fn push(&mut self, c: impl Into<Command>) {
        self.commands.push(c.into());
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

impl From<&mut Command> for Command {
    fn from(c: &mut Command) -> Command {
        c.clone()
    }
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.commands.iter().map(Command::to_string).collect();
        f.write_str(&words.join(" && "))
    }
}

/// How the runtime fixes outlive a reboot on this host, for `check --fix`
/// to print: NetworkManager's connection settings for the interfaces it
/// manages, otherwise a sysctl.d file and a oneshot unit.
pub fn persistence(applied: &[Command], nm: &dyn Fn(&str) -> Option<String>) -> String {
    let sysctls: Vec<&str> = applied
        .iter()
        .filter(|c| c.0.first().is_some_and(|w| w == "sysctl"))
        .filter_map(|c| c.0.last().map(String::as_str))
        .collect();
    let ip: Vec<&Command> = applied
        .iter()
        .filter(|c| c.0.first().is_some_and(|w| w == "ip"))
        .collect();
    let mut out = String::from("These fixes last until the next reboot. To keep them:\n");
    let mut by_nm = Vec::new();
    let mut rest = Vec::new();
    for c in &ip {
        let dev =
            c.0.iter()
                .position(|w| w == "dev")
                .and_then(|p| c.0.get(p + 1));
        match dev.and_then(|d| nm(d).map(|conn| (d.clone(), conn))) {
            Some((dev, conn)) if c.0.get(1).is_some_and(|w| w == "mptcp") => {
                let flags: Vec<&str> =
                    c.0.iter()
                        .map(String::as_str)
                        .filter(|w| ["subflow", "signal", "backup", "fullmesh"].contains(w))
                        .collect();
                by_nm.push(format!(
                    "  nmcli connection modify '{conn}' connection.mptcp-flags enabled,{}   # {dev}",
                    flags.join(",")
                ));
            }
            _ => rest.push(*c),
        }
    }
    if !by_nm.is_empty() {
        out.push_str("- NetworkManager manages these interfaces (1.40 or later sets their endpoints itself):\n");
        out.extend(by_nm.iter().map(|l| format!("{l}\n")));
    }
    if !sysctls.is_empty() {
        out.push_str("- /etc/sysctl.d/90-mptcp.conf:\n");
        out.extend(sysctls.iter().map(|s| format!("  {s}\n")));
    }
    if !rest.is_empty() {
        out.push_str("- /etc/systemd/system/mptcp-paths.service (then `systemctl enable mptcp-paths.service`):\n");
        out.push_str("  [Unit]\n  Description=MPTCP limits, endpoints and routing by source\n  After=network-online.target\n  Wants=network-online.target\n\n  [Service]\n  Type=oneshot\n  RemainAfterExit=yes\n");
        for c in rest {
            // `-` : a piece that is already there is no failure.
            out.push_str(&format!("  ExecStart=-{c}\n"));
        }
        out.push_str("\n  [Install]\n  WantedBy=multi-user.target\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_print_as_shell_words() {
        let c = Command::new(["ip", "rule", "add", "from", "10.0.0.1", "table", "100"]);
        assert_eq!(c.to_string(), "ip rule add from 10.0.0.1 table 100");
        let q = Command::new(["nmcli", "my conn", "it's"]);
        assert_eq!(q.to_string(), r"nmcli 'my conn' 'it'\''s'");
        let mut f = Fix::one(Command::new(["a", "b"]));
        f.push(Command::new(["c"]));
        assert_eq!(f.to_string(), "a b && c");
    }
}
