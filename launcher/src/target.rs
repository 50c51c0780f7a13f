//! What kind of program a command line names: `run` and `check` both ask
//! here, and [`crate::policy`] turns the answer into a mode.
//!
//! [`inspect`] finds PROG the way execvp(3) does (through PATH unless the
//! name has a `/`), reads its ELF headers with the `object` crate (is there a
//! `PT_INTERP`? a `.go.buildinfo` section and which Go wrote it?), follows a
//! `#!` line to the interpreter that really runs, and notes set-user-ID,
//! set-group-ID and file capabilities.

use object::elf::{FileHeader32, FileHeader64, PT_INTERP};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind, ReadCache, ReadRef, StringTable};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
    /// Its class and machine (a preloaded library must match them).
    pub id: Option<ElfId>,
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

    /// "a Go program built with go1.19.8", for the policy's reasons.
    pub fn describe(&self) -> String {
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

/// Why PROG cannot be executed: `NotFound` is env(1)'s 127, the rest 126.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not found (through PATH when the name has no `/`), or its `#!`
    /// interpreter or ELF loader is missing.
    #[error("{}: {why}", .name.to_string_lossy())]
    NotFound { name: OsString, why: String },
    /// Found, but the system refuses to execute it, in the system's words.
    #[error("{}: {why}", .name.to_string_lossy())]
    CannotExecute { name: OsString, why: String },
}

impl Error {
    /// True for a missing PROG, interpreter or loader (127), false for one
    /// that exists but cannot be executed (126).
    pub fn not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Why execve(2) failed for `prog`, as a shell would say it.
    pub fn from_exec(err: &io::Error, prog: &OsStr) -> Error {
        let name = prog.into();
        let has_slash = prog.as_bytes().contains(&b'/');
        match err.raw_os_error() {
            Some(libc::ENOENT) if !has_slash => Error::NotFound {
                name,
                why: "command not found".into(),
            },
            Some(libc::ENOENT) if Path::new(prog).exists() => Error::NotFound {
                name,
                why: "its interpreter (#!) or ELF loader was not found".into(),
            },
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Error::NotFound {
                name,
                why: "no such file".into(),
            },
            _ => Error::CannotExecute {
                name,
                why: format!("cannot execute: {}", words(err)),
            },
        }
    }
}

/// The system's words for an error: strerror's text, lower-cased as in the
/// middle of a sentence, without std's " (os error N)".
pub fn words(err: &io::Error) -> String {
    let mut text = crate::say::short(err);
    if let Some(first) = text.get(..1) {
        let lower = first.to_ascii_lowercase();
        text.replace_range(..1, &lower);
    }
    text
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
    let not_found = |why: &str| Error::NotFound {
        name: prog.into(),
        why: why.into(),
    };
    let cannot = |why: String| Error::CannotExecute {
        name: prog.into(),
        why,
    };
    if prog.is_empty() {
        return Err(not_found("no such file"));
    }
    if prog.as_bytes().contains(&b'/') {
        let path = PathBuf::from(prog);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(cannot("not a regular file".into())),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                Err(not_found("no such file"))
            }
            // EACCES, ELOOP, ENAMETOOLONG…: it may exist, the system says why not.
            Err(e) => Err(cannot(words(&e))),
        };
    }
    // execvp's own check: no directory entry can have a longer name.
    if prog.len() > NAME_MAX {
        return Err(cannot(words(&io::Error::from_raw_os_error(
            libc::ENAMETOOLONG,
        ))));
    }
    let path_var =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/bin:/usr/bin"));
    let mut refused = None;
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
                refused.get_or_insert((candidate, libc::EACCES));
            }
            // Like execvp: a directory we may not search is remembered, and
            // the search goes on.
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                refused.get_or_insert((candidate, libc::EACCES));
            }
            _ => {}
        }
    }
    match refused {
        Some((path, errno)) => Err(Error::CannotExecute {
            name: path.into_os_string(),
            why: words(&io::Error::from_raw_os_error(errno)),
        }),
        None => Err(not_found("command not found")),
    }
}

/// The longest name of a directory entry (linux/limits.h).
const NAME_MAX: usize = 255;

fn is_executable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
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
        match env_program(&interpreter, argument.as_deref()) {
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

/// For `#!/usr/bin/env NAME` and `#!/usr/bin/env -S NAME ARGS`, the NAME
/// that env finds through PATH and runs; None when what runs is the `#!`
/// line's interpreter itself. (`enable --root` looks NAME up in the image.)
pub fn env_program(interpreter: &Path, argument: Option<&OsStr>) -> Option<OsString> {
    if interpreter.file_name() != Some(OsStr::new("env")) {
        return None;
    }
    env_command(argument?.as_bytes())
}

/// The command `env` runs for the one argument a `#!/usr/bin/env` line
/// gives it: the argument itself, or with `-S` (`#!/usr/bin/env -S busybox
/// sh`) the first word that is neither an option nor a `NAME=VALUE`.
fn env_command(arg: &[u8]) -> Option<OsString> {
    let Some(split) = arg.strip_prefix(b"-S") else {
        // Another option: env would refuse the line or do something else.
        return (!arg.starts_with(b"-")).then(|| OsString::from_vec(arg.to_vec()));
    };
    let mut words = split
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    while let Some(word) = words.next() {
        match word {
            // Options that take the next word as their value.
            b"-u" | b"-C" | b"--unset" | b"--chdir" => {
                words.next();
            }
            w if w.starts_with(b"-") || w.contains(&b'=') => {}
            w => return Some(OsString::from_vec(w.to_vec())),
        }
    }
    None
}

/// The class and machine of an ELF file: what ld.so matches a preloaded
/// library against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfId {
    pub class64: bool,
    pub machine: u16,
}

impl std::fmt::Display for ElfId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.machine {
            m if m == object::elf::EM_386.0 => "i386",
            m if m == object::elf::EM_X86_64.0 => "x86-64",
            m if m == object::elf::EM_AARCH64.0 => "aarch64",
            m if m == object::elf::EM_ARM.0 => "arm",
            m if m == object::elf::EM_PPC64.0 => "ppc64",
            m if m == object::elf::EM_S390.0 => "s390",
            m if m == object::elf::EM_RISCV.0 => "riscv",
            _ => "",
        };
        let bits = if self.class64 { 64 } else { 32 };
        if name.is_empty() {
            write!(f, "ELF{bits} machine {}", self.machine)
        } else {
            write!(f, "ELF{bits} {name}")
        }
    }
}

/// The identity of an ELF shared object (or executable) from its header;
/// `None` when `head` is not ELF, or not a shared object when `shared`.
pub fn elf_id(head: &[u8], shared: bool) -> Option<ElfId> {
    use object::elf::{FileHeader32, FileHeader64, ET_DYN};
    use object::read::elf::FileHeader;
    use object::{Endianness, FileKind};
    fn id<H: FileHeader<Endian = Endianness>>(head: &[u8], shared: bool) -> Option<ElfId> {
        let h = H::parse(head).ok()?;
        let e = h.endian().ok()?;
        (!shared || h.e_type(e) == ET_DYN).then(|| ElfId {
            class64: h.is_class_64(),
            machine: h.e_machine(e).0,
        })
    }
    match FileKind::parse(head).ok()? {
        FileKind::Elf32 => id::<FileHeader32<Endianness>>(head, shared),
        FileKind::Elf64 => id::<FileHeader64<Endianness>>(head, shared),
        _ => None,
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
    let mut out = Elf {
        id: Some(ElfId {
            class64: header.is_class_64(),
            machine: header.e_machine(endian).0,
        }),
        ..Elf::default()
    };
    for ph in header.program_headers(endian, bytes).ok()? {
        if ph.p_type(endian) == PT_INTERP {
            let data = ph.data(endian, bytes).ok()?;
            let data = data.split(|&b| b == 0).next().unwrap_or_default();
            out.interpreter = Some(PathBuf::from(OsString::from_vec(data.to_vec())));
        }
    }
    if let Ok(sections) = header.sections(endian, bytes) {
        // The section names, read in one piece: looked up in the file one by
        // one (`section_by_name`), each name is one more read and cache
        // entry, ~40,000 instructions of every `run` for a small program.
        let names = header
            .section_strings_index(endian, bytes)
            .and_then(|i| sections.section(i))
            .and_then(|s| s.data(endian, bytes))
            .unwrap_or_default();
        let names = StringTable::new(names, 0, names.len() as u64);
        let go = sections
            .iter()
            .find(|s| s.name(endian, names) == Ok(&b".go.buildinfo"[..]));
        if let Some(section) = go {
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
    rustix::fs::getxattr_query(path, "security.capability").is_ok_and(|n| n > 0)
}

impl Target {
    /// Why execve(2) would refuse a script's `#!` interpreter, before it is
    /// even tried: missing (127), or there but not usable (126).
    pub fn interpreter_error(&self) -> Option<Error> {
        let Kind::Script { interpreter, .. } = &self.kind else {
            return None;
        };
        let e = std::fs::metadata(interpreter).err()?;
        let name = self.path.clone().into_os_string();
        let why = format!("bad interpreter {}: {}", interpreter.display(), words(&e));
        Some(match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => Error::NotFound {
                name,
                why: format!("bad interpreter {}: no such file", interpreter.display()),
            },
            _ => Error::CannotExecute { name, why },
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{self, Mode};

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
    fn reads_the_go_release() {
        let go = |v: &str| GoBuild { version: v.into() };
        assert_eq!(go("go1.22rc1").release(), Some((1, 22)));
        assert_eq!(go("go1.20").release(), Some((1, 20)));
        assert_eq!(go("devel go1.23-abc").release(), None);
    }

    #[test]
    fn env_s_runs_its_first_command_word() {
        let cmd = |a: &str| env_command(a.as_bytes()).map(|c| c.into_string().unwrap());
        assert_eq!(cmd("python3").as_deref(), Some("python3"));
        assert_eq!(cmd("-S busybox sh").as_deref(), Some("busybox"));
        assert_eq!(cmd("-Sbusybox sh -e").as_deref(), Some("busybox"));
        assert_eq!(cmd("-S -i A=1 -u B perl -w").as_deref(), Some("perl"));
        assert_eq!(cmd("-i python3"), None);
        assert_eq!(cmd("-S A=1"), None);
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
        assert_eq!(policy::choose(&t).mode, Mode::Preload);
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
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
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
            assert_eq!(policy::privilege_obstacle(&t, Mode::Preload), None);
        }
    }

    #[test]
    fn says_what_is_missing_or_not_executable() {
        let dir = Scratch::new("errors");
        let plain = dir.file("plain", "data", 0o644);
        let why = |r: Result<Target, Error>| r.unwrap_err().to_string();
        assert_eq!(
            why(inspect(OsStr::new("no-such-program-mz"))),
            "no-such-program-mz: command not found"
        );
        let missing = dir.0.join("missing");
        assert!(why(inspect(missing.as_os_str())).ends_with("missing: no such file"));
        assert!(matches!(
            inspect(dir.0.as_os_str()),
            Err(Error::CannotExecute { .. })
        ));
        // The system's words for what is not "no such file".
        let long = dir.0.join("x".repeat(300));
        assert!(why(inspect(long.as_os_str())).ends_with(": file name too long"));
        assert!(why(inspect(OsStr::new(&"y".repeat(300)))).ends_with(": file name too long"));
        let looped = dir.0.join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        assert!(why(inspect(looped.as_os_str())).ends_with(": too many levels of symbolic links"));
        // A file that is not ELF nor #!: preload (execvp hands it to sh).
        let t = inspect(plain.as_os_str()).unwrap();
        assert!(matches!(t.kind, Kind::Other));
        assert_eq!(policy::choose(&t).mode, Mode::Preload);
    }
}
