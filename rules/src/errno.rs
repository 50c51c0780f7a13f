//! errno values in words: the symbolic name of the errors a `socket()` (or
//! `setsockopt()`) can meet, and what a fallback error says about the host.
//! The debug lines of the shim and of the seccomp supervisor, the report and
//! `check` all name errors from here.

/// What an MPTCP `socket()` error in [`crate::FALLBACK_ERRNOS`] says about
/// the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// `ENOPROTOOPT`: built in, but `net.mptcp.enabled=0`.
    Disabled,
    /// `EPROTONOSUPPORT`: the kernel was built without MPTCP.
    NotBuiltIn,
    /// `EINVAL`: a kernel older than 5.6 does not know protocol 262.
    TooOld,
}

impl Unavailable {
    /// Why MPTCP is unavailable, for an error the rules fall back on;
    /// `None` for any other error.
    pub const fn from_errno(errno: i32) -> Option<Unavailable> {
        if !crate::is_fallback_errno(errno) {
            return None;
        }
        Some(match errno {
            libc::ENOPROTOOPT => Unavailable::Disabled,
            libc::EPROTONOSUPPORT => Unavailable::NotBuiltIn,
            _ => Unavailable::TooOld,
        })
    }

    /// A few words for a log line: `net.mptcp.enabled=0`, …
    pub const fn reason(self) -> &'static str {
        match self {
            Unavailable::Disabled => "net.mptcp.enabled=0",
            Unavailable::NotBuiltIn => "kernel without MPTCP",
            Unavailable::TooOld => "kernel older than 5.6",
        }
    }
}

/// The symbolic name of `errno` (`ENOPROTOOPT`), for the errors that
/// `socket()` and `setsockopt()` return, and opening a report file; `None` for others (write them as
/// `errno N`: see [`crate::names::write_errno`]).
pub const fn name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        // Opening a report file.
        libc::ENXIO => "ENXIO",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EROFS => "EROFS",
        libc::ENOSPC => "ENOSPC",
        libc::ELOOP => "ELOOP",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_fallback_errors_say_why_mptcp_is_unavailable() {
        assert_eq!(
            Unavailable::from_errno(libc::ENOPROTOOPT),
            Some(Unavailable::Disabled)
        );
        assert_eq!(
            Unavailable::from_errno(libc::EPROTONOSUPPORT),
            Some(Unavailable::NotBuiltIn)
        );
        assert_eq!(
            Unavailable::from_errno(libc::EINVAL),
            Some(Unavailable::TooOld)
        );
        for e in 0..200 {
            assert_eq!(
                Unavailable::from_errno(e).is_some(),
                crate::is_fallback_errno(e),
                "{e}"
            );
        }
    }

    #[test]
    fn names_are_the_headers_names() {
        assert_eq!(name(libc::ENOPROTOOPT), Some("ENOPROTOOPT"));
        assert_eq!(name(libc::EPROTONOSUPPORT), Some("EPROTONOSUPPORT"));
        assert_eq!(name(libc::EINVAL), Some("EINVAL"));
        assert_eq!(name(libc::EMFILE), Some("EMFILE"));
        assert_eq!(name(libc::EOPNOTSUPP), Some("EOPNOTSUPP"));
        assert_eq!(name(0), None);
        assert_eq!(name(4095), None);
    }
}
