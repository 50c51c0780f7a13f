//! systemd for the tests of `mptcpize-rs enable|disable|status`.
//!
//! [`Image`]: a tree of unit files under a [`ScratchDir`], for `--root`, and
//! [`snapshot`] to compare a tree byte for byte before and after.
//!
//! [`BootedSystemd`]: the real systemd booted as PID 1 in new PID, mount,
//! network and UTS namespaces. It shares the host's file systems, so before
//! systemd starts the boot script mounts private tmpfs on /run, /tmp and
//! /var/tmp, bind-mounts a scratch directory over /etc/systemd/system, and
//! checks all of that took; systemd then boots a target of ours
//! (`DefaultDependencies=no`, via `--unit=`) with `container=` set and
//! sysinit's services (tmpfiles, binfmt, udev, getty, journald) masked, so
//! nothing of the host's is started or touched. Its cgroups live in a
//! subtree of their own. Drop kills the namespace's PID 1 (and with it
//! everything inside) and removes that cgroup subtree, also when the test
//! panics.

use crate::artifacts::ScratchDir;
use crate::proc::{run, Output};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// An offline system image: `etc/systemd/system`, `usr/lib/systemd/system`
/// and a shim installed where `enable --root` looks by default.
pub struct Image {
    pub dir: ScratchDir,
}

/// Where the image's shim is, as the image sees it.
pub const IMAGE_SHIM: &str = "/usr/local/lib/mptcpize-rs/libmptcpize.so";

impl Image {
    /// An image with systemd `version`'s shared library (None: no systemd).
    pub fn new(version: Option<u32>) -> Image {
        let dir = ScratchDir::new();
        for d in [
            "etc/systemd/system",
            "usr/lib/systemd/system",
            "usr/local/lib/mptcpize-rs",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::copy(crate::shim(), dir.join(&IMAGE_SHIM[1..])).unwrap();
        if let Some(v) = version {
            let lib = dir.join("usr/lib/x86_64-linux-gnu/systemd");
            std::fs::create_dir_all(&lib).unwrap();
            std::fs::write(lib.join(format!("libsystemd-shared-{v}.so")), b"").unwrap();
        }
        let image = Image { dir };
        image.chmod("", 0o755);
        image
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `rel` (creating directories).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A vendor unit in usr/lib/systemd/system.
    pub fn unit(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!("usr/lib/systemd/system/{name}"), text)
    }

    pub fn symlink(&self, target: &str, rel: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    pub fn chmod(&self, rel: &str, mode: u32) {
        std::fs::set_permissions(self.dir.join(rel), std::fs::Permissions::from_mode(mode))
            .unwrap();
    }

    /// The text of `rel`.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Runs `mptcpize-rs ARGS… --root IMAGE`.
    pub fn mptcpize(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(crate::launcher());
        cmd.args(args).arg("--root").arg(self.root());
        run(cmd, Duration::from_secs(30))
    }

    pub fn snapshot(&self) -> Snapshot {
        snapshot(self.root())
    }
}

/// One entry of a [`Snapshot`].
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32, uid: u32 },
    File { mode: u32, uid: u32, bytes: Vec<u8> },
    Symlink(PathBuf),
}

/// Every path below a directory with its type, mode, owner and contents.
pub type Snapshot = BTreeMap<PathBuf, Entry>;

/// A [`Snapshot`] of `dir`.
pub fn snapshot(dir: &Path) -> Snapshot {
    fn walk(base: &Path, dir: &Path, out: &mut Snapshot) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let meta = path.symlink_metadata().unwrap();
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            let (mode, uid) = (meta.mode() & 0o7777, meta.uid());
            if meta.file_type().is_symlink() {
                out.insert(rel, Entry::Symlink(std::fs::read_link(&path).unwrap()));
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir { mode, uid });
                walk(base, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(rel, Entry::File { mode, uid, bytes });
            }
        }
    }
    let mut out = Snapshot::new();
    walk(dir, dir, &mut out);
    out
}
