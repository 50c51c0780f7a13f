//! What kind of program a command line names, and which mode reaches its
//! sockets: `run --mode auto` and `check` both ask here.
//!
//! [`inspect`] finds PROG the way execvp(3) does (through PATH unless the
//! name has a `/`), reads its ELF headers with the `object` crate (is there a
//! `PT_INTERP`? a `.go.buildinfo` section and which Go wrote it?), follows a
//! `#!` line to the interpreter that really runs, and notes set-user-ID,
//! set-group-ID and file capabilities. [`choose_mode`] turns that into a
//! [`Mode`] and a sentence saying why; [`privilege_obstacle`] says when a
//! mode cannot work on the target at all.

use object::elf::{FileHeader32, FileHeader64, PT_INTERP};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind, ReadCache, ReadRef};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How the launcher makes a program's TCP sockets MPTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `LD_PRELOAD` of the shim (and `GODEBUG=multipathtcp=1` for Go 1.21+):
    /// reaches dynamically linked programs that call libc's `socket()`.
    Preload,
    /// A seccomp filter and a supervisor process: reaches every `socket()`
    /// system call of the whole process tree, however it is made.
    Seccomp,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Preload => "preload",
            Mode::Seccomp => "seccomp",
        })
    }
}

/// A program as the kernel will execute it.
#[derive(Clone, Debug)]
pub struct Target {
    /// The file executed: PROG itself or the PATH entry it resolved to.
    pub path: PathBuf,
    /// What the file is.
    pub kind: Kind,
    /// Set-user-ID, set-group-ID and file capabilities of the file.
    pub privileges: Privileges,
}

/// What an executable file is.
#[derive(Clone, Debug)]
pub enum Kind {
    /// An ELF executable.
    Elf(Elf),
    /// A `#!` script: the kernel runs `interpreter [argument] path …`.
    Script {
        interpreter: PathBuf,
        argument: Option<OsString>,
        /// The program that really runs: the interpreter, or for
        /// `#!/usr/bin/env NAME` the NAME that env finds through PATH. `None`
        /// when it cannot be read (or the `#!` chain is deeper than the
        /// kernel follows).
        runs: Option<Box<Target>>,
    },
    /// Neither ELF nor `#!` (execvp hands such files to /bin/sh).
    Other,
}

/// What the ELF headers say.
#[derive(Clone, Debug, Default)]
pub struct Elf {
    /// `PT_INTERP`, the dynamic loader; `None` for a statically linked program.
    pub interpreter: Option<PathBuf>,
    /// Present when the program was written in Go (it has `.go.buildinfo`).
    pub go: Option<GoBuild>,
}

/// The Go toolchain that built a program, from its `.go.buildinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoBuild {
    /// `go1.19.8`, `devel …`; empty for Go before 1.18, whose build info
    /// holds pointers instead of the version text.
    pub version: String,
}

impl GoBuild {
    /// `(1, 19)` for `go1.19.8`; `None` for a development or unknown version.
    pub fn release(&self) -> Option<(u32, u32)> {
        let rest = self.version.strip_prefix("go")?;
        let mut parts = rest.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        Some((major, minor))
    }

    /// True when the Go runtime makes its sockets MPTCP itself under
    /// `GODEBUG=multipathtcp=1` (Go 1.21 and later, and development builds).
    pub fn has_multipathtcp(&self) -> bool {
        if self.version.is_empty() {
            return false; // before Go 1.18
        }
        match self.release() {
            Some(release) => release >= (1, 21),
            None => true,
        }
    }

    fn describe(&self) -> String {
        if self.version.is_empty() {
            "a Go program built before Go 1.18".to_string()
        } else {
            format!("a Go program built with {}", self.version)
        }
    }
}

/// Bits of the file's mode and attributes that change credentials at exec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Privileges {
    /// Set-user-ID: the owner's uid.
    pub setuid: Option<u32>,
    /// Set-group-ID: the group's gid.
    pub setgid: Option<u32>,
    /// The file has a `security.capability` attribute (file capabilities).
    pub file_caps: bool,
}

/// Why PROG cannot be inspected (or executed).
#[derive(Debug)]
pub enum Error {
    /// Not found (through PATH when the name has no `/`).
    NotFound { name: OsString, searched_path: bool },
    /// Found but not an executable regular file, or unreadable.
    NotExecutable { path: PathBuf, why: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound {
                name,
                searched_path: true,
            } => write!(f, "{}: command not found", name.to_string_lossy()),
            Error::NotFound { name, .. } => write!(f, "{}: no such file", name.to_string_lossy()),
            Error::NotExecutable { path, why } => write!(f, "{}: {why}", path.display()),
        }
    }
}

/// How deep `#!` chains are followed (the kernel's own limit is 4 levels).
const MAX_SCRIPT_DEPTH: usize = 4;

/// Finds `prog` as execvp(3) would and inspects it.
pub fn inspect(prog: &OsStr) -> Result<Target, Error> {
    let path = resolve(prog)?;
    Ok(inspect_file(&path, 0))
}

/// The file `execvp` would run for `prog`: `prog` itself when it has a `/`,
/// else the first executable regular file of that name in `$PATH` (or the
/// default path `/usr/local/bin:/bin:/usr/bin` when PATH is unset).
pub fn resolve(prog: &OsStr) -> Result<PathBuf, Error> {
    if prog.is_empty() {
        return Err(Error::NotFound {
            name: prog.into(),
            searched_path: false,
        });
    }
    if prog.as_bytes().contains(&b'/') {
        let path = PathBuf::from(prog);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(Error::NotExecutable {
                path,
                why: "not a regular file".into(),
            }),
            Err(_) => Err(Error::NotFound {
                name: prog.into(),
                searched_path: false,
            }),
        };
    }
    let path_var =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/bin:/usr/bin"));
    let mut found_unexecutable = None;
    for dir in std::env::split_paths(&path_var) {
        // An empty PATH entry means the current directory.
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(prog);
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && is_executable(&candidate) => return Ok(candidate),
            Ok(meta) if meta.is_file() => {
                found_unexecutable.get_or_insert(candidate);
            }
            _ => {}
        }
    }
    match found_unexecutable {
        Some(path) => Err(Error::NotExecutable {
            path,
            why: "permission denied (not executable?)".into(),
        }),
        None => Err(Error::NotFound {
            name: prog.into(),
            searched_path: true,
        }),
    }
}

fn is_executable(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access() reads a NUL-terminated path we own.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

fn inspect_file(path: &Path, depth: usize) -> Target {
    let privileges = privileges(path);
    let kind = match File::open(path) {
        Ok(mut file) => {
            // The kernel reads the first 256 bytes for `#!` (BINPRM_BUF_SIZE).
            let mut head = Vec::with_capacity(256);
            let _ = (&mut file).take(256).read_to_end(&mut head);
            if head.starts_with(b"#!") {
                script(&head, depth)
            } else {
                // The ELF reader reads only the parts it needs.
                match elf(&ReadCache::new(file)) {
                    Some(elf) => Kind::Elf(elf),
                    None => Kind::Other,
                }
            }
        }
        Err(_) => Kind::Other,
    };
    Target {
        path: path.to_path_buf(),
        kind,
        privileges,
    }
}

/// Parses `#!interpreter [argument]` the way the kernel does: one optional
/// argument, the rest of the line included, surrounding blanks removed.
fn script(bytes: &[u8], depth: usize) -> Kind {
    let line = bytes[2..].split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.trim_ascii();
    let (interp, arg) = match line.iter().position(|b| *b == b' ' || *b == b'\t') {
        Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
        None => (line, None),
    };
    let interpreter = PathBuf::from(OsString::from_vec(interp.to_vec()));
    let argument = arg
        .filter(|a| !a.is_empty())
        .map(|a| OsString::from_vec(a.to_vec()));
    let runs = if depth + 1 >= MAX_SCRIPT_DEPTH || interp.is_empty() {
        None
    } else {
        // `#!/usr/bin/env NAME`: what runs is NAME, found through PATH.
        let via_env = interpreter.file_name() == Some(OsStr::new("env"));
        let name = match (&argument, via_env) {
            (Some(name), true) if !name.as_bytes().starts_with(b"-") => Some(name.clone()),
            _ => None,
        };
        match name {
            Some(name) => resolve(&name).ok(),
            None => Some(interpreter.clone()),
        }
        .map(|p| Box::new(inspect_file(&p, depth + 1)))
    };
    Kind::Script {
        interpreter,
        argument,
        runs,
    }
}

/// The interpreter and Go build of an ELF file; `None` if it is not ELF.
fn elf<'a, R: ReadRef<'a>>(bytes: R) -> Option<Elf> {
    match FileKind::parse(bytes).ok()? {
        FileKind::Elf32 => elf_of::<FileHeader32<Endianness>, R>(bytes),
        FileKind::Elf64 => elf_of::<FileHeader64<Endianness>, R>(bytes),
        _ => None,
    }
}

fn elf_of<'a, H: FileHeader<Endian = Endianness>, R: ReadRef<'a>>(bytes: R) -> Option<Elf> {
    let header = H::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let mut out = Elf::default();
    for ph in header.program_headers(endian, bytes).ok()? {
        if ph.p_type(endian) == PT_INTERP {
            let data = ph.data(endian, bytes).ok()?;
            let data = data.split(|&b| b == 0).next().unwrap_or_default();
            out.interpreter = Some(PathBuf::from(OsString::from_vec(data.to_vec())));
        }
    }
    if let Ok(sections) = header.sections(endian, bytes) {
        if let Some((_, section)) = sections.section_by_name(endian, b".go.buildinfo") {
            let data = section.data(endian, bytes).unwrap_or_default();
            out.go = Some(GoBuild {
                version: go_version(data).unwrap_or_default(),
            });
        }
    }
    Some(out)
}

/// The version string of a `.go.buildinfo` section in the format of Go
/// 1.18+: a 32-byte header (`\xff Go buildinf:`, pointer size, flags with
/// bit 2 meaning "strings inline"), then the version as a varint-prefixed
/// string. Older Go stores pointers instead: `None`.
fn go_version(data: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    const FLAGS_INLINE: u8 = 2;
    if !data.starts_with(MAGIC) || data.len() < 32 || data[15] & FLAGS_INLINE == 0 {
        return None;
    }
    let mut rest = &data[32..];
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let (&b, tail) = rest.split_first()?;
        rest = tail;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    let text = rest.get(..len)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

fn privileges(path: &Path) -> Privileges {
    let Ok(meta) = std::fs::metadata(path) else {
        return Privileges::default();
    };
    let mode = meta.mode();
    Privileges {
        setuid: (mode & libc::S_ISUID != 0).then_some(meta.uid()),
        setgid: (mode & libc::S_ISGID != 0 && mode & libc::S_IXGRP != 0).then_some(meta.gid()),
        file_caps: has_file_caps(path),
    }
}

fn has_file_caps(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: getxattr with a NUL-terminated path and name, and a null buffer
    // of size 0: it only returns the attribute's size (or -1).
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

impl Target {
    /// The ELF program that really runs: this file, or the interpreter
    /// (or env's NAME) of a script.
    pub fn program(&self) -> Option<(&Target, &Elf)> {
        match &self.kind {
            Kind::Elf(elf) => Some((self, elf)),
            Kind::Script { runs: Some(t), .. } => t.program(),
            _ => None,
        }
    }
}

/// The mode `--mode auto` picks, and why, in words for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub mode: Mode,
    pub reason: String,
}

/// Chooses how to reach `target`'s sockets: preload for dynamically linked
/// programs and Go 1.21+ (which reads `GODEBUG=multipathtcp=1`); seccomp for
/// statically linked programs and Go before 1.21, which make the socket
/// system call themselves. A script is judged by the program that runs it.
pub fn choose_mode(target: &Target) -> Choice {
    let via = match &target.kind {
        Kind::Script { .. } => match target.program() {
            Some((runs, _)) => format!(", run by {}", runs.path.display()),
            None => String::new(),
        },
        _ => String::new(),
    };
    let Some((program, elf)) = target.program() else {
        return Choice {
            mode: Mode::Preload,
            reason: format!(
                "{} is not an ELF program mptcpize-rs can read; using the preload library",
                target.path.display()
            ),
        };
    };
    let name = program.path.display();
    let (mode, why) = match (&elf.go, &elf.interpreter) {
        (Some(go), _) if !go.has_multipathtcp() => (
            Mode::Seccomp,
            format!(
                "{name} is {}: Go before 1.21 makes its own socket system calls",
                go.describe()
            ),
        ),
        (Some(go), _) => (
            Mode::Preload,
            format!(
                "{name} is {}: GODEBUG=multipathtcp=1 turns its sockets to MPTCP",
                go.describe()
            ),
        ),
        (None, None) => (
            Mode::Seccomp,
            format!("{name} is statically linked (no PT_INTERP): LD_PRELOAD cannot reach it"),
        ),
        (None, Some(interp)) => (
            Mode::Preload,
            format!("{name} is dynamically linked (loader {})", interp.display()),
        ),
    };
    Choice {
        mode,
        reason: format!("{why}{via}"),
    }
}

/// Why `mode` cannot work on `target` when the current user runs it, or
/// `None` when it can: the exec would change credentials (set-user-ID or
/// set-group-ID to someone else, file capabilities for a non-root user).
/// Under preload, ld.so then runs in secure-execution mode and ignores
/// `LD_PRELOAD`; under seccomp, `no_new_privs` makes the kernel ignore the
/// set-ID bits and capabilities, so the program would run without them.
pub fn privilege_obstacle(target: &Target, mode: Mode) -> Option<String> {
    let (program, _) = target.program().unwrap_or((target, &NO_ELF));
    let p = program.privileges;
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let what = if let Some(owner) = p.setuid.filter(|&o| o != uid) {
        format!("set-user-ID (to uid {owner})")
    } else if let Some(group) = p.setgid.filter(|&g| g != gid) {
        format!("set-group-ID (to gid {group})")
    } else if p.file_caps && uid != 0 {
        "given file capabilities".to_string()
    } else {
        return None;
    };
    let name = program.path.display();
    Some(match mode {
        Mode::Preload => format!(
            "{name} is {what}: ld.so ignores LD_PRELOAD in secure-execution mode, so its sockets would stay TCP; run mptcpize-rs as that user instead"
        ),
        Mode::Seccomp => format!(
            "{name} is {what}: seccomp mode sets no_new_privs, so the kernel would run it without those privileges; run mptcpize-rs as that user instead"
        ),
    })
}

static NO_ELF: Elf = Elf {
    interpreter: None,
    go: None,
};

/// Why a program that `mode` was forced onto will not have its sockets
/// converted, or `None`: a statically linked, non-Go program under preload.
pub fn mode_mismatch(target: &Target, mode: Mode) -> Option<String> {
    let (program, elf) = target.program()?;
    match (mode, &elf.go, &elf.interpreter) {
        (Mode::Preload, None, None) => Some(format!(
            "{} is statically linked: LD_PRELOAD cannot reach it and its sockets stay TCP (use --mode seccomp)",
            program.path.display()
        )),
        (Mode::Preload, Some(go), _) if !go.has_multipathtcp() => Some(format!(
            "{} is {}, which makes its own socket system calls: its sockets stay TCP (use --mode seccomp)",
            program.path.display(),
            go.describe()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buildinfo(version: &str) -> Vec<u8> {
        let mut d = b"\xff Go buildinf:".to_vec();
        d.push(8); // pointer size
        d.push(2); // flags: inline strings
        d.resize(32, 0);
        d.push(version.len() as u8);
        d.extend_from_slice(version.as_bytes());
        d
    }

    #[test]
    fn reads_the_go_version_of_inline_buildinfo() {
        assert_eq!(go_version(&buildinfo("go1.19.8")).unwrap(), "go1.19.8");
        let mut old = buildinfo("x");
        old[15] = 0; // Go < 1.18: pointers
        assert_eq!(go_version(&old), None);
        assert_eq!(go_version(b"junk"), None);
    }

    #[test]
    fn go_121_and_later_have_multipathtcp() {
        let go = |v: &str| GoBuild { version: v.into() };
        assert!(!go("go1.19.8").has_multipathtcp());
        assert!(!go("go1.20").has_multipathtcp());
        assert!(!go("").has_multipathtcp());
        assert!(go("go1.21.0").has_multipathtcp());
        assert!(go("go1.22rc1").has_multipathtcp());
        assert!(go("go2.0").has_multipathtcp());
        assert!(go("devel go1.23-abc").has_multipathtcp());
        assert_eq!(go("go1.22rc1").release(), Some((1, 22)));
    }

    #[test]
    fn parses_shebang_lines_like_the_kernel() {
        let Kind::Script {
            interpreter,
            argument,
            ..
        } = script(b"#! /bin/sh -e -x \nrest", 0)
        else {
            panic!()
        };
        assert_eq!(interpreter, Path::new("/bin/sh"));
        assert_eq!(argument.unwrap(), "-e -x");
    }

    #[test]
    fn auto_picks_seccomp_for_static_and_old_go_and_preload_otherwise() {
        let t = |elf: Elf| Target {
            path: "/p".into(),
            kind: Kind::Elf(elf),
            privileges: Privileges::default(),
        };
        let dynamic = Elf {
            interpreter: Some("/lib/ld.so".into()),
            go: None,
        };
        let go = |v: &str, interp: Option<&str>| Elf {
            interpreter: interp.map(PathBuf::from),
            go: Some(GoBuild { version: v.into() }),
        };
        assert_eq!(choose_mode(&t(dynamic)).mode, Mode::Preload);
        assert_eq!(choose_mode(&t(Elf::default())).mode, Mode::Seccomp);
        assert_eq!(choose_mode(&t(go("go1.19.8", None))).mode, Mode::Seccomp);
        assert_eq!(
            choose_mode(&t(go("go1.20", Some("/lib/ld.so")))).mode,
            Mode::Seccomp
        );
        assert_eq!(choose_mode(&t(go("go1.21.1", None))).mode, Mode::Preload);
    }

    /// A scratch directory under target/ (never /tmp), removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/unit-scratch")
                .join(format!("{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
            use std::os::unix::fs::PermissionsExt;
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn inspects_a_dynamic_program_found_through_path() {
        let t = inspect(OsStr::new("sh")).unwrap();
        assert!(t.path.is_absolute(), "{t:?}");
        let (_, elf) = t.program().expect("sh is ELF or a link to one");
        assert!(elf.interpreter.is_some(), "{t:?}");
        assert_eq!(choose_mode(&t).mode, Mode::Preload);
    }

    #[test]
    fn follows_a_script_to_its_interpreter_and_reports_set_id_bits() {
        let dir = Scratch::new("script");
        let script = dir.file("s", "#!/bin/sh -e\necho hi\n", 0o6755);
        let t = inspect(script.as_os_str()).unwrap();
        let Kind::Script {
            interpreter,
            argument,
            runs,
        } = &t.kind
        else {
            panic!("{t:?}")
        };
        assert_eq!(interpreter, Path::new("/bin/sh"));
        assert_eq!(argument.as_deref(), Some(OsStr::new("-e")));
        assert_eq!(runs.as_ref().unwrap().path, Path::new("/bin/sh"));
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        assert_eq!(t.privileges.setuid, Some(uid));
        assert_eq!(t.privileges.setgid, Some(gid));
        // The kernel ignores set-ID bits on scripts; the interpreter's count.
        if uid == 0 {
            use std::os::unix::fs::PermissionsExt;
            // chown clears the set-ID bits: set them again.
            std::os::unix::fs::chown(&script, Some(65534), None).unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o6755)).unwrap();
            let t = inspect(script.as_os_str()).unwrap();
            assert_eq!(t.privileges.setuid, Some(65534));
            assert_eq!(privilege_obstacle(&t, Mode::Preload), None);
        }
    }

    #[test]
    fn says_what_is_missing_or_not_executable() {
        let dir = Scratch::new("errors");
        let plain = dir.file("plain", "data", 0o644);
        assert!(matches!(
            inspect(OsStr::new("no-such-program-mz")),
            Err(Error::NotFound {
                searched_path: true,
                ..
            })
        ));
        assert!(matches!(
            inspect(dir.0.join("missing").as_os_str()),
            Err(Error::NotFound {
                searched_path: false,
                ..
            })
        ));
        assert!(matches!(
            inspect(dir.0.as_os_str()),
            Err(Error::NotExecutable { .. })
        ));
        // A file that is not ELF nor #!: preload (execvp hands it to sh).
        let t = inspect(plain.as_os_str()).unwrap();
        assert!(matches!(t.kind, Kind::Other));
        assert_eq!(choose_mode(&t).mode, Mode::Preload);
    }
}
