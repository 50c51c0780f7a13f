//! Writing and removing drop-ins without being fooled by the file system: a
//! drop-in directory is opened with `O_NOFOLLOW` and every later step works
//! relative to that open directory (`openat`, `renameat`, `unlinkat`), so a
//! symlink planted as the `.d` directory or as the drop-in itself is never
//! followed. A file is written atomically: a temporary file in the same
//! directory, `fsync`, `rename` over the final name, `fsync` of the directory.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// An open directory; file names given to its methods are single components.
pub struct Dir {
    fd: OwnedFd,
    pub path: PathBuf,
}

fn cstr(name: &str) -> io::Result<CString> {
    if name.is_empty() || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a single file name",
        ));
    }
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Dir {
    /// Opens the directory at `path` (symlinks in `path` itself are
    /// followed: it is a base such as /etc/systemd/system).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: `c` is a valid NUL-terminated string; the fd returned is
        // owned by the OwnedFd below.
        let fd = check(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        Ok(Dir {
            // SAFETY: `fd` was just opened and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
        })
    }

    /// Opens the subdirectory `name`, refusing a symlink (ELOOP/ENOTDIR).
    pub fn subdir(&self, name: &str) -> io::Result<Dir> {
        let c = cstr(name)?;
        // SAFETY: valid dirfd and NUL-terminated name; the fd is owned below.
        let fd = check(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        Ok(Dir {
            // SAFETY: `fd` was just opened and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: self.path.join(name),
        })
    }

    /// Creates the subdirectory `name` with mode 0755.
    pub fn mkdir(&self, name: &str) -> io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), 0o755) })?;
        Ok(())
    }

    /// The contents of the regular file `name`, or None when there is no
    /// such file. A symlink is an error (ELOOP), never followed.
    pub fn read(&self, name: &str) -> io::Result<Option<String>> {
        let c = cstr(name)?;
        // SAFETY: valid dirfd and NUL-terminated name; the fd is owned below.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                _ => Err(e),
            };
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(Some(text))
    }

    /// Writes `name` atomically with mode 0644: temporary file beside it,
    /// fsync, rename over `name`, fsync of the directory. A symlink at
    /// `name` is replaced, not followed.
    pub fn write_atomic(&self, name: &str, contents: &str) -> io::Result<()> {
        let tmp = format!(".{name}.{}.tmp", std::process::id());
        let ctmp = cstr(&tmp)?;
        let cname = cstr(name)?;
        // SAFETY: valid dirfd and NUL-terminated name; the fd is owned below.
        let fd = check(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                ctmp.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            )
        })?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let written = (|| {
            // The umask may have taken bits away from 0644.
            // SAFETY: fchmod on the fd we own.
            check(unsafe { libc::fchmod(file.as_raw_fd(), 0o644) })?;
            file.write_all(contents.as_bytes())?;
            file.sync_all()?;
            // SAFETY: valid dirfd for both names, NUL-terminated names.
            check(unsafe {
                libc::renameat(
                    self.fd.as_raw_fd(),
                    ctmp.as_ptr(),
                    self.fd.as_raw_fd(),
                    cname.as_ptr(),
                )
            })?;
            Ok(())
        })();
        if let Err(e) = written {
            // SAFETY: valid dirfd and NUL-terminated name.
            unsafe { libc::unlinkat(self.fd.as_raw_fd(), ctmp.as_ptr(), 0) };
            return Err(e);
        }
        self.sync()
    }

    /// Removes the file `name` (a symlink itself, never its target).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) })?;
        self.sync()
    }

    /// Removes the empty subdirectory `name`.
    pub fn rmdir(&self, name: &str) -> io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), libc::AT_REMOVEDIR) })?;
        self.sync()
    }

    /// True when the directory has no entries.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(
            std::fs::read_dir(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))?
                .next()
                .is_none(),
        )
    }

    fn sync(&self) -> io::Result<()> {
        // SAFETY: fsync on the directory fd we own.
        check(unsafe { libc::fsync(self.fd.as_raw_fd()) })?;
        Ok(())
    }
}

/// Whether the calling user may create entries in `path`, or in its nearest
/// existing ancestor when it does not exist yet.
pub fn can_write(path: &Path) -> bool {
    let mut p = path;
    loop {
        if p.exists() {
            let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
                return false;
            };
            // SAFETY: NUL-terminated path; access() only reads it.
            return unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        // Kept out of /tmp, like every test file of this project.
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/unit-scratch")
            .join(format!("safefs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_atomically_with_mode_0644_and_refuses_symlinks() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let d = scratch();
        let dir = Dir::open(&d).unwrap();
        dir.mkdir("a.d").unwrap();
        let sub = dir.subdir("a.d").unwrap();
        sub.write_atomic("x.conf", "one\n").unwrap();
        sub.write_atomic("x.conf", "two\n").unwrap();
        assert_eq!(sub.read("x.conf").unwrap().as_deref(), Some("two\n"));
        let mode = std::fs::metadata(d.join("a.d/x.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(d.join("a.d")).unwrap().count(), 1);

        symlink(d.join("a.d"), d.join("b.d")).unwrap();
        assert!(dir.subdir("b.d").is_err());
        std::fs::write(d.join("target"), "keep").unwrap();
        symlink(d.join("target"), d.join("a.d/y.conf")).unwrap();
        assert!(sub.read("y.conf").is_err());
        sub.write_atomic("y.conf", "mine").unwrap();
        assert_eq!(std::fs::read_to_string(d.join("target")).unwrap(), "keep");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
