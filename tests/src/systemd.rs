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

use crate::common::{CounterWatch, Counters, ScratchDir};
use crate::proc::{run, Child, Output};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
        let mut cmd = crate::mptcpize(args);
        cmd.arg("--root").arg(self.root());
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

/// The boot script, run as PID 1 of the new namespaces by `sh -c`. It checks
/// it is not in the host's mount and network namespaces, makes /run, /tmp,
/// /var/tmp and /etc/systemd/system private, checks that took, moves into a
/// cgroup of its own and only then executes systemd. The directories named
/// after its first four arguments (the checkout and the build's directory)
/// stay where they are even when they are under /tmp (CI clones into a
/// `mktemp -d` directory): they are bound aside on a private tmpfs on /mnt
/// first and bound back at their paths inside the fresh /tmp, which is then
/// made root's alone (mode 0755) so that the build's shim passes the rule
/// for system services as an installed one does.
const BOOT: &str = r#"
set -eu
etc=$1 cg=$2 host_mnt=$3 host_net=$4
shift 4
die() { echo "boot: $*" >&2; exit 1; }
[ "$$" = 1 ] || die "not PID 1 of a new PID namespace"
[ "$(readlink /proc/self/ns/mnt)" != "$host_mnt" ] || die "still in the host's mount namespace"
[ "$(readlink /proc/self/ns/net)" != "$host_net" ] || die "still in the host's network namespace"
mount --make-rprivate /
[ -d /mnt ] || die "no /mnt to keep the test's directories aside on"
mount -t tmpfs -o mode=0700 mptcpize-keep /mnt
n=0
for k in "$@"; do
  n=$((n + 1))
  mkdir "/mnt/$n"
  mount --rbind "$k" "/mnt/$n"
done
mount -t tmpfs -o mode=0755 mptcpize-test /run
mount -t tmpfs -o mode=1777 mptcpize-test /tmp
mount -t tmpfs -o mode=1777 mptcpize-test /var/tmp
for d in /run /tmp /var/tmp; do
  [ "$(findmnt -n -o FSTYPE --mountpoint "$d")" = tmpfs ] || die "$d is not a private tmpfs"
  # Fresh: nothing in it but what mount(8) itself keeps in /run/mount.
  [ -z "$(ls -A "$d" | grep -vx mount)" ] || die "$d is not empty"
done
n=0
for k in "$@"; do
  n=$((n + 1))
  if [ ! -d "$k" ]; then
    mkdir -p "$k"
    mount --rbind "/mnt/$n" "$k"
    # The shim rule refuses a shim below a directory others may write to:
    # the private /tmp (or /var/tmp, /run) that now holds it is root's alone.
    chmod 0755 "/$(echo "$k" | cut -d/ -f2)"
  fi
done
umount -l /mnt
mount --bind "$etc" /etc/systemd/system
[ -e /etc/systemd/system/.mptcpize-test ] || die "/etc/systemd/system is not the test's own"
# A cgroup subtree of its own (cgroup2, or the hybrid layout's named and
# unified hierarchies), which systemd takes as its root.
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  hiers=/sys/fs/cgroup
else
  hiers="/sys/fs/cgroup/systemd /sys/fs/cgroup/unified"
fi
for h in $hiers; do
  [ -d "$h" ] || continue
  mkdir "$h/$cg"
  echo 1 > "$h/$cg/cgroup.procs"
done
grep -q "/$cg\$" /proc/self/cgroup || die "not in the test's own cgroup"
exec env -i container=mptcpize-test PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --system --unit=mptcpize-test.target \
  --log-target=console --log-level=notice --show-status=no
"#;

/// Units masked so that nothing of sysinit (or the journal) starts.
const MASKED: &[&str] = &[
    "sysinit.target",
    "basic.target",
    "default.target",
    "multi-user.target",
    "graphical.target",
    "getty.target",
    "getty@.service",
    "serial-getty@.service",
    "console-getty.service",
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-tmpfiles-clean.service",
    "systemd-tmpfiles-clean.timer",
    "systemd-binfmt.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-journald.service",
    "systemd-journald.socket",
    "systemd-journald-dev-log.socket",
    "systemd-journald-audit.socket",
    "systemd-journal-flush.service",
    "systemd-random-seed.service",
    "systemd-sysctl.service",
    "systemd-modules-load.service",
    "systemd-remount-fs.service",
    "systemd-networkd.service",
    "systemd-resolved.service",
    "systemd-timesyncd.service",
    "systemd-logind.service",
];

/// A real systemd booted as PID 1 in namespaces of its own.
pub struct BootedSystemd {
    /// `/etc/systemd/system` as that systemd sees it (a directory of ours).
    pub etc: PathBuf,
    /// For the test's other files (logs, data); not /tmp.
    pub dir: ScratchDir,
    /// Host pid of that systemd (PID 1 inside).
    pub pid: i32,
    unshare: Option<Child>,
    cgroups: Vec<PathBuf>,
}

fn ns_link(what: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{what}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The cgroup directories the boot script makes for `name`.
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        vec![root.join(name)]
    } else {
        ["systemd", "unified"]
            .iter()
            .map(|h| root.join(h).join(name))
            .collect()
    }
}

impl BootedSystemd {
    /// Boots systemd with `units` (name, text) in its /etc/systemd/system,
    /// and waits until it runs.
    pub fn boot(units: &[(&str, &str)]) -> BootedSystemd {
        let dir = ScratchDir::new();
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join(".mptcpize-test"), "").unwrap();
        std::fs::write(
            etc.join("mptcpize-test.target"),
            "[Unit]\nDescription=mptcpize-rs test\nDefaultDependencies=no\n",
        )
        .unwrap();
        for unit in MASKED {
            std::os::unix::fs::symlink("/dev/null", etc.join(unit)).unwrap();
        }
        for (name, text) in units {
            std::fs::write(etc.join(name), text).unwrap();
        }
        let cgroup = format!("mptcpize-test-{}", crate::netns::unique_name());
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--mount",
            "--mount-proc",
            "--net",
            "--uts",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            BOOT,
            "boot",
        ])
        .arg(&etc)
        .arg(&cgroup)
        .arg(ns_link("mnt"))
        .arg(ns_link("net"))
        .arg(std::fs::canonicalize(crate::artifacts::workspace()).expect("the checkout"))
        .arg(crate::artifacts::built());
        let unshare = Child::spawn(cmd);
        let mut booted = BootedSystemd {
            etc,
            dir,
            pid: 0,
            cgroups: cgroup_dirs(&cgroup),
            unshare: Some(unshare),
        };
        booted.pid = booted.wait_for_pid1();
        booted.wait_running();
        booted
    }

    fn wait_for_pid1(&self) -> i32 {
        let outer = self.unshare.as_ref().unwrap().pid();
        let children = format!("/proc/{outer}/task/{outer}/children");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next() {
                return pid.parse().unwrap();
            }
            let exited = std::fs::metadata(format!("/proc/{outer}/task/{outer}")).is_err()
                || std::fs::read_to_string(format!("/proc/{outer}/stat"))
                    .is_ok_and(|s| s.contains(") Z "));
            assert!(
                !exited && Instant::now() < deadline,
                "unshare started no PID 1:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_running(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let comm =
                std::fs::read_to_string(format!("/proc/{}/comm", self.pid)).unwrap_or_default();
            if comm.trim() == "systemd" {
                let mut cmd = self.cmd("systemctl");
                cmd.arg("is-system-running");
                let out = run(cmd, Duration::from_secs(10));
                if matches!(out.stdout.trim(), "running" | "degraded") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "systemd did not come up in 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The cgroup directories this systemd runs in (removed on drop).
    pub fn cgroups(&self) -> &[PathBuf] {
        &self.cgroups
    }

    /// What the boot script and systemd printed so far.
    pub fn log(&self) -> String {
        match &self.unshare {
            Some(c) => {
                let (out, err) = c.output_so_far();
                format!("--- boot stdout ---\n{out}--- boot stderr ---\n{err}")
            }
            None => String::new(),
        }
    }

    /// `program` to run inside all of systemd's namespaces.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid.to_string(), "-a", "--"])
            .arg(program);
        cmd
    }

    /// Runs `program args…` inside and returns its output (whatever its exit).
    pub fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        let mut cmd = self.cmd(program);
        cmd.args(args);
        run(cmd, Duration::from_secs(60))
    }

    /// `systemctl args…` inside, which must succeed.
    #[track_caller]
    pub fn systemctl(&self, args: &[&str]) -> String {
        let out = self.run("systemctl", args);
        assert!(
            out.status.success(),
            "systemctl {args:?} failed:\n{out}\n{}",
            self.log()
        );
        out.stdout
    }

    /// Starts root's user service manager inside, with `home` as HOME, so
    /// that `--user` commands (see [`BootedSystemd::user_cmd`]) have one. It
    /// runs as a transient service of the system manager (`Delegate=yes`),
    /// so its cgroups are inside the test's subtree; it boots
    /// `mptcpize-test.target`, which `home` must hold in
    /// `.config/systemd/user`.
    pub fn start_user_manager(&self, home: &Path) {
        let out = self.run("mkdir", &["-p", "-m", "0700", "/run/user/0"]);
        assert!(out.status.success(), "{out}");
        let env_home = format!("HOME={}", home.display());
        let out = self.run(
            "systemd-run",
            &[
                "--unit=mptcpize-test-user",
                "--property=Type=notify",
                "--property=DefaultDependencies=no",
                "--property=Delegate=yes",
                "--setenv",
                &env_home,
                "--setenv=XDG_RUNTIME_DIR=/run/user/0",
                "/lib/systemd/systemd",
                "--user",
                "--unit=mptcpize-test.target",
                "--log-target=console",
            ],
        );
        assert!(
            out.status.success(),
            "the user manager did not start:\n{out}"
        );
        let mut cmd = self.user_cmd(home, "systemctl");
        cmd.args(["--user", "is-system-running"]);
        let out = run(cmd, Duration::from_secs(30));
        assert!(
            matches!(out.stdout.trim(), "running" | "degraded"),
            "user manager not running:\n{out}"
        );
    }

    /// `program` to run inside with the user manager's HOME and
    /// XDG_RUNTIME_DIR, for `--user` commands.
    pub fn user_cmd(&self, home: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.cmd("env");
        cmd.args(["-u", "XDG_CONFIG_HOME"])
            .arg(format!("HOME={}", home.display()))
            .arg("XDG_RUNTIME_DIR=/run/user/0")
            .arg(program);
        cmd
    }

    /// The network namespace's counters (`MPTcpExtMPCapableSYNRX`, …).
    pub fn counter(&self, name: &str) -> u64 {
        let out = self.run("cat", &["/proc/net/netstat", "/proc/net/snmp"]);
        crate::netns::parse_counters(&out.stdout)
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Reads counter `name` inside now, to assert later how much it grew.
    pub fn watch(&self, name: &'static str) -> CounterWatch<'_> {
        CounterWatch::new(self, name)
    }

    /// Runs `mptcpize-rs ARGS…` inside (see [`crate::mptcpize`]) and
    /// returns its output, whatever its exit.
    pub fn mptcpize(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd(crate::launcher());
        crate::common::clean_env(&mut cmd);
        cmd.args(args);
        run(cmd, Duration::from_secs(60))
    }
}

impl Counters for BootedSystemd {
    fn counter(&self, name: &str) -> u64 {
        BootedSystemd::counter(self, name)
    }
}

impl Drop for BootedSystemd {
    fn drop(&mut self) {
        // Killing PID 1 of the namespace kills everything in it.
        if self.pid > 0 {
            // SAFETY: kill() on the namespace's init, a descendant of ours.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        // unshare reaps it and exits; then its group is gone too.
        if let Some(mut unshare) = self.unshare.take() {
            unshare.wait_timeout(Duration::from_secs(10));
        }
        for top in &self.cgroups {
            let deadline = Instant::now() + Duration::from_secs(10);
            while top.exists() && Instant::now() < deadline {
                remove_cgroup_tree(top);
                if top.exists() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// rmdir of a cgroup directory and its sub-cgroups, deepest first.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
