//! One place a drop-in of ours goes, `<base>/<unit>.d/90-mptcpize.conf`
//! (paths as the services see them, resolved inside the services' root):
//! what is there now (nothing, ours, or something we must not touch, such as
//! a planted symlink or another's file of that name), whether we may write
//! there, and writing and removing it through [`safefs`](super::safefs).
//! A [`Transaction`] writes several drop-ins all or nothing: when one
//! cannot be written, the ones already written are put back as they were.

use super::dropin;
use super::error::{Error, Result};
use super::safefs::{Dir, Root};
use std::io;
use std::path::{Path, PathBuf};

/// The state of `<base>/<dir>/90-mptcpize.conf`.
pub struct Existing {
    pub dir_exists: bool,
    /// Our drop-in's text and what it records, if there is one.
    pub ours: Option<(String, dropin::Ours)>,
}

fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

fn is_planted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error()
            || code == rustix::io::Errno::NOTDIR.raw_os_error()
    )
}

/// Looks at one drop-in place without following symlinks, refusing files
/// that are not ours.
pub fn existing(root: &Root, base: &Path, dir: &str) -> Result<Existing> {
    let none = Existing {
        dir_exists: false,
        ours: None,
    };
    let b = match root.dir(base) {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => return Ok(none),
        Err(e) => return Err(Error::io(root.shown(base))(e)),
    };
    let shown = b.path.join(dir);
    let d = match b.subdir(dir) {
        Ok(d) => d,
        Err(e) if is_not_found(&e) => return Ok(none),
        Err(e) if is_planted(&e) => {
            return Err(Error::Refused(format!(
                "{} is a symlink or not a directory; drop-ins go in a real directory (remove it, and check who made it)",
                shown.display()
            )))
        }
        Err(e) => return Err(Error::io(shown)(e)),
    };
    let file = shown.join(dropin::FILE_NAME);
    match d.read(dropin::FILE_NAME) {
        Ok(None) => Ok(Existing {
            dir_exists: true,
            ours: None,
        }),
        Ok(Some(text)) => match dropin::parse(&text) {
            Some(ours) => Ok(Existing {
                dir_exists: true,
                ours: Some((text, ours)),
            }),
            None => Err(Error::Refused(format!(
                "{} exists and was not written by mptcpize-rs; leaving it alone (move it away if it is stale)",
                file.display()
            ))),
        },
        Err(e) if is_planted(&e) || e.kind() == io::ErrorKind::InvalidData => Err(Error::Refused(format!(
            "{} is a symlink or not a regular file; never following it (remove it, and check who made it)",
            file.display()
        ))),
        Err(e) => Err(Error::io(file)(e)),
    }
}

/// Fails unless we may create entries in `base` (or, when it does not
/// exist yet, in its nearest existing ancestor).
pub fn permission_check(root: &Root, base: &Path) -> Result<()> {
    let mut p = base;
    loop {
        match root.dir(p) {
            Ok(d) if d.writable() => return Ok(()),
            Ok(d) if read_only(&d) => return Err(Error::ReadOnly(root.shown(base))),
            Ok(_) => return Err(Error::Permission(root.shown(base))),
            Err(e) if is_not_found(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(Error::Permission(root.shown(base)))
            }
            Err(e) => return Err(Error::io(root.shown(p))(e)),
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => return Err(Error::Permission(root.shown(base))),
        }
    }
}

/// True when `dir` is on a file system mounted read-only: nobody may write
/// there, root included, so "no permission" would be the wrong words.
fn read_only(dir: &Dir) -> bool {
    rustix::fs::fstatvfs(dir.fd())
        .is_ok_and(|st| st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// What one step of a [`Transaction`] changed, to put it back.
enum Undo {
    /// A directory made (by `create_dirs` or for a `.d`).
    MadeDir(PathBuf),
    /// Our drop-in in `dir` written over `previous` (None: there was none).
    Wrote {
        dir: PathBuf,
        previous: Option<String>,
    },
    /// Our drop-in `text` removed from `dir` (and `dir` itself, if emptied).
    Removed {
        dir: PathBuf,
        text: String,
        rmdir: bool,
    },
}

/// Drop-ins written or removed all or nothing: [`Transaction::rollback`]
/// puts back what the steps so far changed.
pub struct Transaction<'a> {
    root: &'a Root,
    done: Vec<Undo>,
}

impl<'a> Transaction<'a> {
    pub fn new(root: &'a Root) -> Self {
        Transaction {
            root,
            done: Vec::new(),
        }
    }

    /// Creates `path` and its missing parents (0755 each).
    pub fn create_dirs(&mut self, path: &Path) -> Result<()> {
        let missing: Vec<&Path> = path
            .ancestors()
            .take_while(|p| self.root.dir(p).is_err_and(|e| is_not_found(&e)))
            .collect();
        for p in missing.into_iter().rev() {
            self.root
                .create_dirs(p)
                .map_err(Error::io(self.root.shown(p)))?;
            self.done.push(Undo::MadeDir(p.to_path_buf()));
        }
        Ok(())
    }

    /// Writes `text` as our drop-in in `<base>/<dir>` (over `previous`, our
    /// older text there), creating `dir` first when `create_dir`.
    pub fn write(
        &mut self,
        base: &Path,
        dir: &str,
        text: &str,
        create_dir: bool,
        previous: Option<String>,
    ) -> Result<()> {
        let path = base.join(dir);
        let io = Error::io(self.root.shown(&path));
        let b = self
            .root
            .dir(base)
            .map_err(Error::io(self.root.shown(base)))?;
        if create_dir {
            b.mkdir(dir).map_err(Error::io(self.root.shown(&path)))?;
            self.done.push(Undo::MadeDir(path.clone()));
        }
        let d = b.subdir(dir).map_err(Error::io(self.root.shown(&path)))?;
        d.write_atomic(dropin::FILE_NAME, text).map_err(io)?;
        self.done.push(Undo::Wrote {
            dir: path,
            previous,
        });
        Ok(())
    }

    /// Removes our drop-in `text` from `<base>/<dir>`, and `dir` if we
    /// created it and it is left empty.
    pub fn remove(&mut self, base: &Path, dir: &str, text: &str, created_dir: bool) -> Result<()> {
        let path = base.join(dir);
        let io = || Error::io(self.root.shown(&path));
        let b: Dir = self.root.dir(base).map_err(io())?;
        let d = b.subdir(dir).map_err(io())?;
        d.remove(dropin::FILE_NAME).map_err(io())?;
        self.done.push(Undo::Removed {
            dir: path.clone(),
            text: text.to_string(),
            rmdir: false,
        });
        if created_dir && d.is_empty().map_err(io())? {
            b.rmdir(dir).map_err(io())?;
            if let Some(Undo::Removed { rmdir, .. }) = self.done.last_mut() {
                *rmdir = true;
            }
        }
        Ok(())
    }

    /// Puts back what was changed, newest first, as far as it can; returns
    /// what could not be put back.
    pub fn rollback(self) -> Vec<String> {
        let mut left = Vec::new();
        for undo in self.done.into_iter().rev() {
            let (path, result) = match &undo {
                Undo::MadeDir(p) => (p, rmdir(self.root, p)),
                Undo::Removed { dir, text, rmdir } => (dir, restore(self.root, dir, text, *rmdir)),
                Undo::Wrote { dir, previous } => (
                    dir,
                    self.root.dir(dir).and_then(|d| match previous {
                        Some(text) => d.write_atomic(dropin::FILE_NAME, text),
                        None => d.remove(dropin::FILE_NAME),
                    }),
                ),
            };
            if let Err(e) = result {
                left.push(format!("{}: {e}", self.root.shown(path).display()));
            }
        }
        left
    }
}

fn rmdir(root: &Root, path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    root.dir(parent)?.rmdir(&name.to_string_lossy())
}

fn restore(root: &Root, dir: &Path, text: &str, made: bool) -> io::Result<()> {
    if made {
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Ok(());
        };
        root.dir(parent)?.mkdir(&name.to_string_lossy())?;
    }
    root.dir(dir)?.write_atomic(dropin::FILE_NAME, text)
}
