//! What we ship, as users get it: `make install` into a scratch DESTDIR and
//! the Debian and RPM packages (built with the release profile, as the
//! Makefile does); the glibc symbol versions each ELF file needs; and a
//! Debian 11 (bullseye, glibc 2.31) root built with debootstrap to run them
//! in, each run in a private overlay so the root stays as debootstrap left it.

use crate::artifacts::{workspace, ScratchDir};
use crate::proc::{run, Output};
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{elf, Endianness};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The newest glibc symbol version anything we ship may need (RHEL 8).
pub const GLIBC_FLOOR: (u32, u32, u32) = (2, 28, 0);

/// The preload libraries `make install` puts in the libraries' directory.
pub const PRELOAD_LIBRARIES: &[&str] = &["libmptcpize.so", "libmptcpize_report.so"];

/// A release build, a package or a debootstrap under load takes minutes.
const LONG: Duration = Duration::from_secs(3600);

/// `target/`, where the cached root, the packages and the lock live.
fn target_dir() -> PathBuf {
    workspace().join("target")
}

/// Holds an exclusive lock on `target/<name>.lock` (across processes too)
/// while alive: the release builds of the Makefile share one output
/// directory, and a build for one prefix must not replace the launcher
/// another test is about to install.
pub struct Lock(#[allow(dead_code)] std::fs::File);

pub fn lock(name: &str) -> Lock {
    std::fs::create_dir_all(target_dir()).unwrap();
    let file = std::fs::File::create(target_dir().join(format!("{name}.lock"))).unwrap();
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
    Lock(file)
}

/// Runs `make -C <workspace> args…` (serialized with every other make of
/// the tests) and asserts it succeeded.
pub fn make(args: &[&str]) -> Output {
    let _lock = lock("make");
    let mut cmd = Command::new("make");
    cmd.arg("-s").arg("-C").arg(workspace()).args(args);
    let out = run(cmd, LONG);
    out.assert_success();
    out
}

/// `make install PREFIX=prefix DESTDIR=<scratch>`: a release build for
/// that prefix, installed as a user's `sudo make install` would.
pub fn install(prefix: &str) -> ScratchDir {
    let dest = ScratchDir::new();
    make(&[
        "install",
        &format!("PREFIX={prefix}"),
        &format!("DESTDIR={}", dest.path().display()),
    ]);
    dest
}

/// The ELF files under `dir`, recursively (symlinks not followed).
pub fn elf_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(elf_files(&path));
        } else if kind.is_file() {
            let head = std::fs::read(&path).unwrap();
            if head.starts_with(b"\x7fELF") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// What an ELF file asks of the dynamic loader.
#[derive(Debug)]
pub struct Needs {
    /// PT_INTERP: a dynamically linked program.
    pub interp: bool,
    /// DT_NEEDED libraries.
    pub libraries: Vec<String>,
    /// Every symbol version it needs, as `file: VERSION`.
    pub versions: Vec<(String, String)>,
}

impl Needs {
    /// The newest `GLIBC_x.y[.z]` version needed, if any.
    pub fn newest_glibc(&self) -> Option<(u32, u32, u32)> {
        self.versions
            .iter()
            .filter_map(|(_, v)| glibc_version(v))
            .max()
    }

    /// Statically linked: nothing for the loader to do.
    pub fn is_static(&self) -> bool {
        !self.interp && self.libraries.is_empty() && self.versions.is_empty()
    }
}

/// `GLIBC_2.2.5` → (2, 2, 5); None for other version names.
pub fn glibc_version(name: &str) -> Option<(u32, u32, u32)> {
    let mut parts = name.strip_prefix("GLIBC_")?.split('.');
    let mut next = || parts.next().map(|p| p.parse::<u32>().ok());
    let major = next()??;
    let minor = next()??;
    let patch = next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// "2.28" for (2, 28, 0).
pub fn show_version(v: (u32, u32, u32)) -> String {
    match v {
        (a, b, 0) => format!("{a}.{b}"),
        (a, b, c) => format!("{a}.{b}.{c}"),
    }
}

/// Reads the program headers, DT_NEEDED entries and version needs
/// (`.gnu.version_r`) of a 64-bit ELF file.
pub fn needs(path: &Path) -> Needs {
    let data = std::fs::read(path).unwrap();
    let file = ElfFile64::<Endianness>::parse(&*data)
        .unwrap_or_else(|e| panic!("{}: not a 64-bit ELF file: {e}", path.display()));
    let endian = file.endian();
    let interp = file
        .elf_program_headers()
        .iter()
        .any(|ph| ph.p_type(endian) == elf::PT_INTERP);
    let sections = file.elf_section_table();
    let dynamic = sections.dynamic_table(endian, &*data).unwrap();
    let libraries = dynamic
        .iter()
        .filter(|d| d.tag == elf::DT_NEEDED)
        .map(|d| String::from_utf8_lossy(dynamic.string(d).unwrap()).into_owned())
        .collect();
    let mut versions = Vec::new();
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, &*data).unwrap() {
        let strings = sections.strings(endian, &*data, link).unwrap();
        while let Some((need, mut auxes)) = needs.next().unwrap() {
            let file = String::from_utf8_lossy(need.file(endian, strings).unwrap()).into_owned();
            while let Some(aux) = auxes.next().unwrap() {
                let name = aux.name(endian, strings).unwrap();
                versions.push((file.clone(), String::from_utf8_lossy(name).into_owned()));
            }
        }
    }
    Needs {
        interp,
        libraries,
        versions,
    }
}

/// Asserts that no ELF file under `dir` needs a glibc newer than the floor
/// and that the programs among them are static; returns one line per file
/// (`path: newest GLIBC_ version`) for the test's output.
pub fn assert_glibc_floor(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for path in elf_files(dir) {
        let needs = needs(&path);
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let newest = needs.newest_glibc();
        if let Some(v) = newest {
            assert!(
                v <= GLIBC_FLOOR,
                "{rel} needs GLIBC_{} (floor: GLIBC_{}): {:?}",
                show_version(v),
                show_version(GLIBC_FLOOR),
                needs.versions
            );
        }
        if rel.contains("/bin/") {
            assert!(
                needs.is_static(),
                "{rel} must be statically linked: {needs:?}"
            );
        }
        lines.push(format!(
            "{rel}: {}",
            match newest {
                Some(v) => format!("GLIBC_{}", show_version(v)),
                None if needs.is_static() => "static".into(),
                None => "no glibc version".into(),
            }
        ));
    }
    lines
}

/// The Debian 11 root (`debootstrap --variant=minbase bullseye`), kept
/// under `target/debian11-root` so that local reruns reuse it; in CI
/// (`CI=true`) built fresh by each run. It is never written to afterwards:
/// [`Debian11::run`] works in an overlay.
pub fn debian11_root() -> PathBuf {
    let root = target_dir().join("debian11-root");
    let _lock = lock("debian11-root");
    static FRESH: std::sync::Once = std::sync::Once::new();
    let mut rebuild = !root.join("etc/debian_version").is_file();
    FRESH.call_once(|| rebuild |= crate::require::in_ci());
    if rebuild {
        let tmp = target_dir().join("debian11-root.tmp");
        for dir in [&tmp, &root] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).unwrap();
            }
        }
        let mut cmd = Command::new("debootstrap");
        cmd.args(["--variant=minbase", "bullseye"])
            .arg(&tmp)
            .arg(debian_mirror());
        run(cmd, LONG).assert_success();
        std::fs::rename(&tmp, &root).unwrap();
    }
    root
}

/// The Debian mirror apt is configured with (deb822 `URIs:` in
/// /etc/apt/sources.list.d/*.sources, or a `deb URL suite` line in
/// /etc/apt/sources.list): the one place this machine may download from.
pub fn debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(text);
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        {
            texts.push(std::fs::read_to_string(path).unwrap_or_default());
        }
    }
    for text in &texts {
        for line in text.lines().map(str::trim) {
            let url = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| !w.starts_with('['))
            } else {
                None
            };
            if let Some(url) = url.filter(|u| u.ends_with("/debian") || u.ends_with("/debian/")) {
                return url.to_string();
            }
        }
    }
    panic!("no Debian mirror (a URL ending in /debian) in /etc/apt/sources.list or sources.list.d/*.sources");
}

/// A Debian 11 system to run what we ship: the cached root, seen through an
/// overlay whose upper layer is a scratch directory, so that each test's
/// files (and what the test's programs write) vanish with it.
pub struct Debian11 {
    root: PathBuf,
    scratch: ScratchDir,
}

impl Debian11 {
    pub fn new() -> Debian11 {
        let root = debian11_root();
        let scratch = ScratchDir::new();
        for d in ["upper", "work", "merged", "add"] {
            std::fs::create_dir_all(scratch.join(d)).unwrap();
        }
        Debian11 { root, scratch }
    }

    /// A directory whose contents are copied over the root's `/` at each
    /// [`run`](Self::run) (a DESTDIR, a package).
    pub fn add(&self) -> PathBuf {
        self.scratch.join("add")
    }

    /// Copies the contents of `dir` (a DESTDIR) into [`add`](Self::add).
    pub fn add_tree(&self, dir: &Path) {
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(dir.join(".")).arg(self.add());
        run(cp, Duration::from_secs(120)).assert_success();
    }

    /// Runs `script` with /bin/sh inside the root: in new mount and PID
    /// namespaces (`unshare --mount --pid --fork`), with the overlay and a
    /// private /proc mounted there, then `chroot`.
    pub fn run(&self, script: &str) -> Output {
        let merged = self.scratch.join("merged");
        let setup = format!(
            "set -e; mount -t overlay overlay -o lowerdir={root},upperdir={upper},workdir={work} {merged}; \
             cp -a {add}/. {merged}/; mount -t proc proc {merged}/proc; \
             exec chroot {merged} /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin /bin/sh -c \"$0\"",
            root = self.root.display(),
            upper = self.scratch.join("upper").display(),
            work = self.scratch.join("work").display(),
            merged = merged.display(),
            add = self.add().display(),
        );
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount", "--pid", "--fork", "--", "/bin/sh", "-c", &setup, script,
        ]);
        run(cmd, Duration::from_secs(300))
    }
}

impl Default for Debian11 {
    fn default() -> Self {
        Debian11::new()
    }
}

/// `ar`/`dpkg-deb` and `rpm2cpio | cpio` unpack a package into a scratch
/// directory, for [`assert_glibc_floor`].
pub fn unpack_deb(deb: &Path) -> ScratchDir {
    let dir = ScratchDir::new();
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(deb).arg(dir.path());
    run(cmd, Duration::from_secs(120)).assert_success();
    dir
}

pub fn unpack_rpm(rpm: &Path) -> ScratchDir {
    let dir = ScratchDir::new();
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir.path()).args([
        "-c",
        "rpm2cpio \"$0\" | cpio -idm --quiet",
        rpm.to_str().unwrap(),
    ]);
    run(cmd, Duration::from_secs(120)).assert_success();
    dir
}

/// The one file `make <target>` leaves under `dir` whose name ends with `suffix`.
pub fn built_package(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {suffix} in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}
