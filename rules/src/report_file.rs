//! How a report file (`run --report=FILE`, `MPTCPIZE_REPORT=FILE`) is
//! opened: by the launcher, which checks it once before PROG starts, and by
//! the report library, which opens it once when it loads and keeps the
//! descriptor. One rule for both, so that what the launcher accepts is what
//! the library writes to.

/// `O_APPEND` (whole lines, never truncated), `O_CREAT`, `O_NOFOLLOW` (a
/// symbolic link as last component is refused), `O_NONBLOCK` (a FIFO or a
/// character device never holds the program up), `O_NOCTTY`, `O_CLOEXEC`.
pub const OPEN_FLAGS: i32 = libc::O_WRONLY
    | libc::O_APPEND
    | libc::O_CREAT
    | libc::O_NOFOLLOW
    | libc::O_NONBLOCK
    | libc::O_NOCTTY
    | libc::O_CLOEXEC;

/// The mode of a report file when it is created (less the umask): it names
/// the peers of the program's connections, for its owner only.
pub const CREATE_MODE: u32 = 0o600;

/// True when a file of this type (`st_mode & S_IFMT`) may take a report: a
/// regular file, a FIFO or a character device (`/dev/null`). Never a block
/// device (`O_APPEND` means nothing there: its first bytes would be
/// overwritten), a directory, a socket or a symbolic link.
pub const fn takes_report(kind: u32) -> bool {
    matches!(kind, libc::S_IFREG | libc::S_IFIFO | libc::S_IFCHR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_fifos_and_character_devices_take_a_report() {
        for (kind, takes) in [
            (libc::S_IFREG, true),
            (libc::S_IFIFO, true),
            (libc::S_IFCHR, true),
            (libc::S_IFBLK, false),
            (libc::S_IFDIR, false),
            (libc::S_IFSOCK, false),
            (libc::S_IFLNK, false),
        ] {
            assert_eq!(takes_report(kind), takes, "{kind:o}");
        }
        assert_eq!(OPEN_FLAGS & libc::O_TRUNC, 0);
    }
}
