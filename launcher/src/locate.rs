//! Finding the preload library, in this order: `$MPTCPIZE_LIB`; next to the
//! `mptcpize-rs` executable; `../lib/mptcpize-rs/` relative to it (the
//! install layout); the path compiled in (`MPTCPIZE_LIBDIR` at build time).
//! The report's library (`run --report`) is the one next to the shim found.

use crate::error::SUCCESS;
use crate::say::short;
use crate::target::{elf_id, ElfId};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The shim's file name.
pub const SHIM_NAME: &str = "libmptcpize.so";
/// The report library's file name; it lives next to the shim.
pub const REPORT_NAME: &str = "libmptcpize_report.so";

/// Where an installed shim lives when no other place has one.
pub const COMPILED_IN: &str = match option_env!("MPTCPIZE_LIBDIR") {
    Some(dir) => dir,
    None => "/usr/local/lib/mptcpize-rs",
};

/// The places to look, in order.
pub fn candidates(env_lib: Option<OsString>, exe: Option<PathBuf>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(lib) = env_lib.filter(|l| !l.is_empty()) {
        out.push(PathBuf::from(lib));
    }
    if let Some(dir) = exe.as_deref().and_then(Path::parent) {
        out.push(dir.join(SHIM_NAME));
        out.push(dir.join("../lib/mptcpize-rs").join(SHIM_NAME));
    }
    out.push(Path::new(COMPILED_IN).join(SHIM_NAME));
    out
}

/// Why there is no shim to preload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot find the preload library {SHIM_NAME}; tried {}. Set MPTCPIZE_LIB to its path, or reinstall", .tried.join(", "))]
    NotFound { tried: Vec<String> },
    #[error("{}: {}", .path.display(), short(.source))]
    Unusable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--report needs {REPORT_NAME} next to the shim: {} ({why}); reinstall, or run without --report", .path.display())]
    NoReportLibrary { path: PathBuf, why: String },
}

/// The absolute path of the first readable shim. When `$MPTCPIZE_LIB` is set
/// it is the only place looked at: a user who names a library means it.
pub fn shim() -> Result<PathBuf, Error> {
    let env_lib = std::env::var_os(mptcpize_rules::env::LIB).filter(|l| !l.is_empty());
    let explicit = env_lib.is_some();
    let exe = std::env::current_exe().ok();
    let mut tried = Vec::new();
    for path in candidates(env_lib, exe) {
        match File::open(&path).and_then(|f| f.metadata()) {
            Ok(meta) if meta.is_file() => {
                return std::fs::canonicalize(&path)
                    .map_err(|source| Error::Unusable { path, source });
            }
            Ok(_) => tried.push(format!("{} (not a file)", path.display())),
            Err(e) => tried.push(format!("{} ({})", path.display(), short(&e))),
        }
        if explicit {
            break;
        }
    }
    Err(Error::NotFound { tried })
}

/// The report library next to `shim` (found by [`shim`]).
pub fn report_library(shim: &Path) -> Result<PathBuf, Error> {
    let path = shim.with_file_name(REPORT_NAME);
    let why = match File::open(&path).and_then(|f| f.metadata()) {
        Ok(meta) if meta.is_file() => return Ok(path),
        Ok(_) => "not a file".to_string(),
        Err(e) => short(&e),
    };
    Err(Error::NoReportLibrary { path, why })
}

/// Why ld.so would not preload the shim into PROG (it would say so on
/// stderr, ignore it, and PROG's sockets would stay TCP).
#[derive(Debug, thiserror::Error)]
pub enum Unloadable {
    #[error("the preload library {} has a blank or a colon in its path, which LD_PRELOAD cannot carry; install it under a plain path, or point MPTCPIZE_LIB at one", .0.display())]
    Path(PathBuf),
    #[error("the preload library {} is not an ELF shared library", .0.display())]
    NotElf(PathBuf),
    #[error("the preload library {} is built for another machine ({shim}) than {} ({prog})", .path.display(), .prog_path.display())]
    Machine {
        path: PathBuf,
        shim: ElfId,
        prog_path: PathBuf,
        prog: ElfId,
    },
    #[error("cannot read the preload library {}: {}", .path.display(), short(.source))]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks that ld.so can preload `shim` into a program of identity `prog`
/// (`None`: not known, e.g. PROG is no ELF program of its own).
pub fn loadable(shim: &Path, prog: Option<(&Path, ElfId)>) -> Result<(), Unloadable> {
    use std::io::Read;
    let bytes = shim.as_os_str().as_encoded_bytes();
    if bytes
        .iter()
        .any(|b| matches!(b, b' ' | b':' | b'\t' | b'\n'))
    {
        return Err(Unloadable::Path(shim.to_path_buf()));
    }
    let mut head = Vec::with_capacity(64);
    File::open(shim)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|source| Unloadable::Unreadable {
            path: shim.to_path_buf(),
            source,
        })?;
    let id = elf_id(&head, true).ok_or_else(|| Unloadable::NotElf(shim.to_path_buf()))?;
    match prog {
        Some((prog_path, prog)) if prog != id => Err(Unloadable::Machine {
            path: shim.to_path_buf(),
            shim: id,
            prog_path: prog_path.to_path_buf(),
            prog,
        }),
        _ => Ok(()),
    }
}

/// `mptcpize-rs preload-path`: the path is the product, so failing to
/// write it is an error (exit 1), not a panic.
pub fn print_preload_path() -> Result<u8, crate::error::Error> {
    let path = shim()?;
    let mut line = path.into_os_string().into_encoded_bytes();
    line.push(b'\n');
    crate::say::out_bytes(&line)?;
    Ok(SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_env_then_beside_then_lib_then_compiled_in() {
        let c = candidates(
            Some("/x/l.so".into()),
            Some("/opt/m/bin/mptcpize-rs".into()),
        );
        assert_eq!(
            c,
            vec![
                PathBuf::from("/x/l.so"),
                PathBuf::from("/opt/m/bin/libmptcpize.so"),
                PathBuf::from("/opt/m/bin/../lib/mptcpize-rs/libmptcpize.so"),
                Path::new(COMPILED_IN).join(SHIM_NAME),
            ]
        );
        assert_eq!(
            candidates(Some("".into()), None),
            vec![Path::new(COMPILED_IN).join(SHIM_NAME)]
        );
    }
}
