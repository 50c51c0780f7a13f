//! The file system as the services see it, without being fooled by it.
//!
//! [`Root`] is the `/` of the services: the host's, or with `--root` the
//! image's. Every path "as the services see it" (unit files, drop-in
//! directories, the shim) is opened through it with the kernel's
//! `openat2(RESOLVE_IN_ROOT)`, so that `..` and absolute symlinks inside an
//! image stay inside it, as the image's own root would resolve them.
//! Kernels before 5.6 (RHEL 8's 4.18) lack openat2; there [`Root::walk`]
//! does the same one component at a time (`openat(O_PATH|O_NOFOLLOW)`,
//! `readlinkat`), and it is also how the shim's ownership check sees every
//! directory and symlink on the way.
//!
//! [`Dir`] is an open directory in which drop-ins are read, written and
//! removed one file name at a time (`openat`, `renameat`, `unlinkat` with
//! `O_NOFOLLOW`), so a symlink planted as the `.d` directory or as the
//! drop-in itself is never followed. A file is written atomically: a
//! temporary file in the same directory, `fsync`, `rename` over the final
//! name, `fsync` of the directory; new directories get mode 0755 whatever
//! the umask.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// How many symlinks one lookup may follow (the kernel's limit).
const MAX_LINKS: usize = 40;

/// The root directory the services see: `/`, or an image's.
pub struct Root {
    fd: OwnedFd,
    /// The image's path on the host, or None for the host's own root.
    image: Option<PathBuf>,
}

/// The path `path` (absolute, as the services see it) relative to the root:
/// "." for the root itself.
fn relative(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

impl Root {
    /// The host's own root.
    pub fn host() -> io::Result<Root> {
        Ok(Root {
            fd: rfs::open("/", dir_flags(), Mode::empty())?,
            image: None,
        })
    }

    /// The image at `dir` (the user named it: symlinks in `dir` itself are
    /// followed, as any command-line path is).
    pub fn image(dir: &Path) -> io::Result<Root> {
        let fd = rfs::open(dir, dir_flags(), Mode::empty())?;
        let image = std::fs::canonicalize(dir)?;
        Ok(Root {
            fd,
            image: Some(image),
        })
    }

    /// The image's directory on the host, if this is an image.
    pub fn image_dir(&self) -> Option<&Path> {
        self.image.as_deref()
    }

    /// `path` (as the services see it) as the user finds it on this host,
    /// for messages: below the image's directory for an image.
    pub fn shown(&self, path: &Path) -> PathBuf {
        match &self.image {
            Some(img) => img.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }

    /// Opens `path` inside the root with `flags`, following symlinks the
    /// way the services' root would.
    pub fn open(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC;
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        match rfs::openat2(&self.fd, relative(path), flags, Mode::empty(), resolve) {
            // No openat2 (Linux < 5.6), or a seccomp policy that hides it.
            Err(Errno::NOSYS) | Err(Errno::PERM) => self.open_walking(path, flags),
            other => Ok(other?),
        }
    }

    /// [`Root::open`] without openat2: [`Root::walk`] to the last
    /// component, then an `openat` of it that follows nothing more.
    fn open_walking(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let end = self.walk(path, |_, _| Ok(()))?;
        let fd = match &end.last {
            Some((parent, name)) => rfs::openat(
                parent.as_ref().map_or(self.fd.as_fd(), |p| p.as_fd()),
                name.as_os_str(),
                flags | OFlags::NOFOLLOW,
                Mode::empty(),
            )?,
            None => rfs::openat(&self.fd, ".", flags, Mode::empty())?,
        };
        Ok(fd)
    }

    /// The directory `path` inside the root.
    pub fn dir(&self, path: &Path) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.open(path, dir_flags())?,
            path: self.shown(path),
        })
    }

    /// Metadata of `path` inside the root (symlinks followed).
    pub fn stat(&self, path: &Path) -> io::Result<Stat> {
        Ok(rfs::fstat(self.open(path, OFlags::PATH)?)?)
    }

    /// The text of the regular file `path` inside the root, or None when
    /// there is no such file.
    pub fn read(&self, path: &Path) -> io::Result<Option<String>> {
        match self.open(path, OFlags::RDONLY | OFlags::NONBLOCK) {
            Ok(fd) => read_regular(fd).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the directory `path` inside the root and any missing parent
    /// (each 0755 whatever the umask); symlinks on the way are followed
    /// inside the root.
    pub fn create_dirs(&self, path: &Path) -> io::Result<()> {
        match self.dir(path) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        };
        self.create_dirs(parent)?;
        match self.dir(parent)?.mkdir(&name.to_string_lossy()) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    }

    /// Resolves `path` inside the root one component at a time, as the
    /// kernel would, calling `visit` with the real path and the metadata
    /// (not following it) of every entry it passes: the root, each
    /// directory, each symlink and the final entry. Returns the real path
    /// of the final entry (no symlink left in it).
    pub fn walk(
        &self,
        path: &Path,
        mut visit: impl FnMut(&Path, &Stat) -> io::Result<()>,
    ) -> io::Result<Walked> {
        visit(Path::new("/"), &rfs::fstat(&self.fd)?)?;
        // The directories entered below the root, with their names.
        let mut stack: Vec<(OwnedFd, OsString)> = Vec::new();
        let mut todo: VecDeque<OsString> = components(path).collect();
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                // `..` of the root is the root, as in a chroot.
                stack.pop();
                continue;
            }
            let here = stack.last().map_or(self.fd.as_fd(), |(fd, _)| fd.as_fd());
            let fd = rfs::openat(
                here,
                name.as_os_str(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let st = rfs::fstat(&fd)?;
            let real: PathBuf = Path::new("/")
                .join(
                    stack
                        .iter()
                        .map(|(_, n)| n.as_os_str())
                        .collect::<PathBuf>(),
                )
                .join(&name);
            visit(&real, &st)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::LOOP.into());
                }
                let target = rfs::readlinkat(&fd, "", Vec::new())?;
                let target = PathBuf::from(OsStr::from_bytes(target.to_bytes()));
                if target.is_absolute() {
                    stack.clear();
                }
                for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    todo.push_front(c);
                }
                continue;
            }
            if !todo.is_empty() && FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                return Err(Errno::NOTDIR.into());
            }
            stack.push((fd, name));
        }
        let real = Path::new("/").join(
            stack
                .iter()
                .map(|(_, n)| n.as_os_str())
                .collect::<PathBuf>(),
        );
        let last = stack
            .pop()
            .map(|(_, name)| (stack.pop().map(|(fd, _)| fd), name));
        Ok(Walked { real, last })
    }
}

/// Where [`Root::walk`] ended.
pub struct Walked {
    /// The real path, inside the root.
    pub real: PathBuf,
    /// The directory holding the final entry (None: the root) and its name;
    /// None when the walk ended at the root itself.
    last: Option<(Option<OwnedFd>, OsString)>,
}

/// The normal and `..` components of `path` (`.` and `/` dropped).
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// The text of the open file `fd`, which must be a regular file.
fn read_regular(fd: OwnedFd) -> io::Result<String> {
    let mut file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Refuses anything but a single file name.
fn single(name: &str) -> io::Result<&str> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a single file name",
        ));
    }
    Ok(name)
}

/// An open directory; file names given to its methods are single components.
pub struct Dir {
    fd: OwnedFd,
    /// Its path on this host, for messages.
    pub path: PathBuf,
}

impl Dir {
    /// Opens the directory at `path` on the host (symlinks in `path` itself
    /// are followed: it is a base such as ~/.config/systemd/user).
    #[cfg(test)]
    pub fn open(path: &Path) -> io::Result<Dir> {
        Ok(Dir {
            fd: rfs::open(path, dir_flags(), Mode::empty())?,
            path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the subdirectory `name`, refusing a symlink (ELOOP/ENOTDIR).
    pub fn subdir(&self, name: &str) -> io::Result<Dir> {
        let fd = rfs::openat(
            &self.fd,
            single(name)?,
            dir_flags() | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// Creates the subdirectory `name` with mode 0755, whatever the umask.
    pub fn mkdir(&self, name: &str) -> io::Result<()> {
        rfs::mkdirat(&self.fd, single(name)?, Mode::from_raw_mode(0o755))?;
        rfs::fchmod(self.subdir(name)?.fd, Mode::from_raw_mode(0o755))?;
        self.sync()
    }

    /// The contents of the regular file `name`, or None when there is no
    /// such file. A symlink is an error (ELOOP), never followed.
    pub fn read(&self, name: &str) -> io::Result<Option<String>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        match rfs::openat(&self.fd, single(name)?, flags, Mode::empty()) {
            Ok(fd) => read_regular(fd).map(Some),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Metadata of the entry `name` itself (a symlink is not followed).
    pub fn lstat(&self, name: &str) -> io::Result<Stat> {
        Ok(rfs::statat(
            &self.fd,
            single(name)?,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &str) -> io::Result<PathBuf> {
        let target = rfs::readlinkat(&self.fd, single(name)?, Vec::new())?;
        Ok(PathBuf::from(OsStr::from_bytes(target.to_bytes())))
    }

    /// The names in the directory, sorted ("." and ".." left out).
    pub fn names(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in rfs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "." && name != ".." {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes `name` atomically with mode 0644: temporary file beside it,
    /// fsync, rename over `name`, fsync of the directory. A symlink at
    /// `name` is replaced, not followed.
    pub fn write_atomic(&self, name: &str, contents: &str) -> io::Result<()> {
        let name = single(name)?;
        let tmp = format!(".{name}.{}.tmp", std::process::id());
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rfs::openat(&self.fd, tmp.as_str(), flags, Mode::from_raw_mode(0o644))?;
        let mut file = File::from(fd);
        let written = (|| -> io::Result<()> {
            // The umask may have taken bits away from 0644.
            rfs::fchmod(&file, Mode::from_raw_mode(0o644))?;
            file.write_all(contents.as_bytes())?;
            file.sync_all()?;
            rfs::renameat(&self.fd, tmp.as_str(), &self.fd, name)?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = rfs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
            return Err(e);
        }
        self.sync()
    }

    /// Removes the file `name` (a symlink itself, never its target).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        rfs::unlinkat(&self.fd, single(name)?, AtFlags::empty())?;
        self.sync()
    }

    /// Removes the empty subdirectory `name`.
    pub fn rmdir(&self, name: &str) -> io::Result<()> {
        rfs::unlinkat(&self.fd, single(name)?, AtFlags::REMOVEDIR)?;
        self.sync()
    }

    /// True when the directory has no entries.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.names()?.is_empty())
    }

    /// Whether the calling user may create entries here.
    pub fn writable(&self) -> bool {
        rfs::accessat(
            &self.fd,
            ".",
            rfs::Access::WRITE_OK | rfs::Access::EXEC_OK,
            AtFlags::empty(),
        )
        .is_ok()
    }

    fn sync(&self) -> io::Result<()> {
        Ok(rfs::fsync(&self.fd)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn scratch(name: &str) -> PathBuf {
        // Kept out of /tmp, like every test file of this project.
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/unit-scratch")
            .join(format!("safefs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_atomically_with_mode_0755_dirs_0644_files_and_refuses_symlinks() {
        let d = scratch("write");
        let dir = Dir::open(&d).unwrap();
        // A umask that takes every bit from group and others (restored below).
        let old = rustix::process::umask(Mode::from_raw_mode(0o077));
        dir.mkdir("a.d").unwrap();
        let sub = dir.subdir("a.d").unwrap();
        sub.write_atomic("x.conf", "one\n").unwrap();
        rustix::process::umask(old);
        sub.write_atomic("x.conf", "two\n").unwrap();
        assert_eq!(sub.read("x.conf").unwrap().as_deref(), Some("two\n"));
        let mode = |p: &str| std::fs::metadata(d.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("a.d/x.conf"), 0o644);
        assert_eq!(mode("a.d"), 0o755);
        assert_eq!(sub.names().unwrap(), ["x.conf"]);

        symlink(d.join("a.d"), d.join("b.d")).unwrap();
        assert!(dir.subdir("b.d").is_err());
        std::fs::write(d.join("target"), "keep").unwrap();
        symlink(d.join("target"), d.join("a.d/y.conf")).unwrap();
        assert!(sub.read("y.conf").is_err());
        sub.write_atomic("y.conf", "mine").unwrap();
        assert_eq!(std::fs::read_to_string(d.join("target")).unwrap(), "keep");
        assert!(sub.read("../target").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Absolute and relative symlinks and `..` stay inside an image, with
    /// openat2 and with the component walk alike.
    #[test]
    fn paths_resolve_inside_the_image_only() {
        let d = scratch("root");
        let img = d.join("img");
        std::fs::create_dir_all(img.join("real/sub")).unwrap();
        std::fs::write(img.join("real/sub/f"), "inside").unwrap();
        std::fs::write(d.join("f"), "outside").unwrap();
        symlink("/real", img.join("abs")).unwrap();
        symlink("../../../../../real/sub", img.join("real/up")).unwrap();
        symlink(&d, img.join("host")).unwrap();
        let root = Root::image(&img).unwrap();
        for p in ["/abs/sub/f", "/real/up/f", "/../../real/sub/f"] {
            let text = root.read(Path::new(p)).unwrap();
            assert_eq!(text.as_deref(), Some("inside"), "{p}");
            let walked = root.walk(Path::new(p), |_, _| Ok(())).unwrap();
            assert_eq!(walked.real, Path::new("/real/sub/f"), "{p}");
            let fd = root.open_walking(Path::new(p), OFlags::RDONLY).unwrap();
            assert_eq!(read_regular(fd).unwrap(), "inside");
        }
        // The host path the link names is read inside the image: not there.
        assert_eq!(root.read(Path::new("/host/f")).unwrap(), None);
        assert!(root
            .open_walking(Path::new("/host/f"), OFlags::RDONLY)
            .is_err());
        let mut seen = Vec::new();
        root.walk(Path::new("/abs/sub"), |p, _| {
            seen.push(p.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["/", "/abs", "/real", "/real/sub"].map(PathBuf::from));
        root.create_dirs(Path::new("/abs/new/deeper")).unwrap();
        assert!(img.join("real/new/deeper").is_dir());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
