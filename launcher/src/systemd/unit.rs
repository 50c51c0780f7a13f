//! What the user typed as a unit, turned into a unit name the way systemctl
//! does it: `nginx` is `nginx.service`, `foo@bar.service` is an instance of
//! the template `foo@.service`, and a path names the unit file it points
//! to. Names are checked against systemd's rules and are only ever passed
//! to programs as single arguments, never through a shell.

use super::error::{Error, Result};

/// The two kinds of unit `enable` works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Service,
    Socket,
}

/// A valid unit name such as `nginx.service` or `getty@tty1.service`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub name: String,
    pub kind: Kind,
}

/// Unit types systemd knows; a name ending in another suffix gets
/// `.service` appended, as systemctl does.
const TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

impl Unit {
    /// Parses `arg`: a unit name (with or without `.service`) or a path to a
    /// unit file (anything containing a `/`).
    pub fn parse(arg: &str) -> Result<Unit> {
        let name = if arg.contains('/') {
            arg.rsplit('/').next().unwrap_or_default().to_string()
        } else {
            arg.to_string()
        };
        if name.is_empty() {
            return Err(Error::Unit(format!(
                "{arg:?} names no unit; give a unit such as nginx.service"
            )));
        }
        let suffix = name.rsplit_once('.').map(|(_, s)| s);
        let name = match suffix {
            Some(s) if TYPES.contains(&s) => name,
            _ => format!("{name}.service"),
        };
        let kind = if name.ends_with(".service") {
            Kind::Service
        } else if name.ends_with(".socket") {
            Kind::Socket
        } else {
            return Err(Error::Unit(
                format!("{name} is neither a service nor a socket; only those run programs that open sockets"),
            ));
        };
        let stem = &name[..name.rfind('.').unwrap()];
        let valid_chars = stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
        let at = stem.matches('@').count();
        if stem.is_empty()
            || name.len() > 255
            || !valid_chars
            || at > 1
            || stem.starts_with('@')
            || stem.starts_with('-')
        {
            return Err(Error::Unit(
                format!("{arg:?} is not a valid unit name (letters, digits and :-_.\\ only, one @ for a template instance); escape others with systemd-escape"),
            ));
        }
        Ok(Unit { name, kind })
    }

    /// For an instance `foo@bar.service`, its template `foo@.service`.
    pub fn template(&self) -> Option<String> {
        let (prefix, rest) = self.name.split_once('@')?;
        let suffix = &rest[rest.rfind('.')?..];
        (!rest.starts_with('.')).then(|| format!("{prefix}@{suffix}"))
    }

    /// The name without its type suffix: `nginx` for `nginx.service`.
    pub fn stem(&self) -> &str {
        &self.name[..self.name.rfind('.').unwrap()]
    }

    /// The unit type suffix: `service` or `socket`.
    pub fn suffix(&self) -> &str {
        match self.kind {
            Kind::Service => "service",
            Kind::Socket => "socket",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(arg: &str) -> String {
        Unit::parse(arg).unwrap().name
    }

    #[test]
    fn names_as_systemctl_reads_them() {
        assert_eq!(name("nginx"), "nginx.service");
        assert_eq!(name("nginx.service"), "nginx.service");
        assert_eq!(name("my.app"), "my.app.service");
        assert_eq!(name("foo@bar.service"), "foo@bar.service");
        assert_eq!(name("foo@bar"), "foo@bar.service");
        assert_eq!(name("/etc/systemd/system/web.service"), "web.service");
        assert_eq!(name("./web.socket"), "web.socket");
        assert_eq!(Unit::parse("web.socket").unwrap().kind, Kind::Socket);
        assert_eq!(
            Unit::parse("foo@bar.service")
                .unwrap()
                .template()
                .as_deref(),
            Some("foo@.service")
        );
        assert_eq!(Unit::parse("foo@.service").unwrap().template(), None);
        assert_eq!(Unit::parse("foo.service").unwrap().template(), None);
    }

    #[test]
    fn refuses_other_types_and_bad_names() {
        for bad in [
            "x.timer",
            "y.mount",
            "a b",
            "a;rm -rf /",
            "@x.service",
            "a@b@c",
            "-x",
            "",
            "dir/",
        ] {
            assert!(Unit::parse(bad).is_err(), "{bad}");
        }
    }
}
