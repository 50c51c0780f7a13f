//! Fixes: the commands `check` prints after `fix:` and `check --fix` runs,
//! exactly as printed (no shell in between).

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
