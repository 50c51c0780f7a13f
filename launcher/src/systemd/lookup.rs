//! Where unit files and drop-ins live. For writing: the drop-in base of
//! each manager (/etc/systemd/system, /run/systemd/system, the user's
//! ~/.config/systemd/user and $XDG_RUNTIME_DIR/systemd/user), below `--root`
//! when given. For reading offline (`--root`, no running systemd): the
//! system search path in systemd's priority order, the unit's fragment
//! (following aliases, recognising masks) and its drop-ins.

use super::unit::Unit;
use super::unitfile::Settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which service manager and which of its directories a command is about.
#[derive(Debug, Clone)]
pub struct Manager {
    pub user: bool,
    pub runtime: bool,
    pub root: Option<PathBuf>,
}

impl Manager {
    /// `path` (absolute, as the services see it) on our side of `--root`.
    pub fn host_path(&self, path: &Path) -> PathBuf {
        match &self.root {
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }

    /// The persistent and the runtime drop-in base of this manager.
    fn bases(&self) -> Result<[PathBuf; 2], super::Error> {
        if !self.user {
            return Ok([
                self.host_path(Path::new("/etc/systemd/system")),
                self.host_path(Path::new("/run/systemd/system")),
            ]);
        }
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let config = env("XDG_CONFIG_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".config")))
            .ok_or_else(|| super::fail("--user: neither XDG_CONFIG_HOME nor HOME is set"))?;
        let runtime = env("XDG_RUNTIME_DIR")
            .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", current_uid())));
        Ok([config.join("systemd/user"), runtime.join("systemd/user")])
    }

    /// Where `enable` writes and `disable` removes drop-ins.
    pub fn dropin_base(&self) -> Result<PathBuf, super::Error> {
        let [persistent, runtime] = self.bases()?;
        Ok(if self.runtime { runtime } else { persistent })
    }

    /// Every base `status` looks in.
    pub fn all_bases(&self) -> Result<Vec<PathBuf>, super::Error> {
        Ok(self.bases()?.to_vec())
    }
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The unit files of a unit, found offline.
#[derive(Debug)]
pub enum Offline {
    Files {
        /// The unit's real name (an alias resolves to the unit it points to).
        id: String,
        fragment: PathBuf,
        dropins: Vec<PathBuf>,
    },
    Masked,
    Missing,
}

/// The system unit search path below `root`, highest priority first; a
/// directory reached twice (/lib → usr/lib) or leading out of `root`
/// (an absolute symlink) is skipped.
pub fn search_dirs(root: &Path) -> Vec<PathBuf> {
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for rel in [
        "etc/systemd/system.control",
        "run/systemd/system.control",
        "run/systemd/transient",
        "etc/systemd/system",
        "run/systemd/system",
        "usr/local/lib/systemd/system",
        "usr/lib/systemd/system",
        "lib/systemd/system",
    ] {
        let dir = root.join(rel);
        let Ok(canon) = dir.canonicalize() else {
            continue;
        };
        if !canon.starts_with(&canon_root) || seen.contains(&canon) {
            continue;
        }
        seen.push(canon);
        out.push(dir);
    }
    out
}

/// Resolves a symlink found at `link` in unit directory `dir` inside `root`.
fn resolve_link(root: &Path, dir: &Path, target: &Path) -> PathBuf {
    if target.is_absolute() {
        root.join(target.strip_prefix("/").unwrap_or(target))
    } else {
        dir.join(target)
    }
}

/// Finds `unit`'s fragment and drop-ins below `root`, as systemd would.
pub fn find_offline(root: &Path, unit: &Unit) -> Offline {
    let dirs = search_dirs(root);
    let mut names = vec![unit.name.clone()];
    names.extend(unit.template());
    let mut fragment = None;
    'search: for name in &names {
        for dir in &dirs {
            let path = dir.join(name);
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            let mut file = path.clone();
            if meta.file_type().is_symlink() {
                let Ok(target) = std::fs::read_link(&path) else {
                    continue;
                };
                if target == Path::new("/dev/null") {
                    return Offline::Masked;
                }
                file = resolve_link(root, dir, &target);
            }
            match std::fs::metadata(&file) {
                Ok(m) if m.is_file() && m.len() == 0 => return Offline::Masked,
                Ok(m) if m.is_file() => {
                    fragment = Some(file);
                    break 'search;
                }
                _ => continue,
            }
        }
    }
    let Some(fragment) = fragment else {
        return Offline::Missing;
    };
    // An alias (a symlink to another unit's file) is that other unit, unless
    // the link goes to a template of the same instance.
    let target_name = fragment
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let id = if names.contains(&target_name) || Unit::parse(&target_name).is_err() {
        unit.name.clone()
    } else {
        target_name
    };
    let id_unit = Unit::parse(&id).unwrap_or_else(|_| unit.clone());
    let mut dropin_dirs = vec![format!("{}.d", id_unit.name)];
    dropin_dirs.extend(id_unit.template().map(|t| format!("{t}.d")));
    dropin_dirs.push(format!("{}.d", id_unit.suffix()));
    let mut confs: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &dirs {
        for d in &dropin_dirs {
            let Ok(entries) = std::fs::read_dir(dir.join(d)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") && !confs.contains_key(&name) {
                    confs.insert(name, e.path());
                }
            }
        }
    }
    let dropins = confs
        .into_values()
        .filter(|p| std::fs::read_link(p).map_or(true, |t| t != Path::new("/dev/null")))
        .collect();
    Offline::Files {
        id,
        fragment,
        dropins,
    }
}

/// The socket units below `root` that start `service`: `<stem>.socket`
/// unless it names another service, and any socket with `Service=service`.
pub fn sockets_for_offline(root: &Path, service: &Unit) -> Vec<String> {
    let mut out = Vec::new();
    let own = format!("{}.socket", service.stem());
    for dir in search_dirs(root) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".socket") || out.contains(&name) {
                continue;
            }
            let Ok(socket) = Unit::parse(&name) else {
                continue;
            };
            let Offline::Files {
                fragment, dropins, ..
            } = find_offline(root, &socket)
            else {
                continue;
            };
            let settings = read_settings(&fragment, &dropins, |_| true);
            let stem = &name[..name.len() - ".socket".len()];
            let triggers = match &settings.socket_service {
                Some(s) => s == &service.name,
                None if settings.accept => service.template() == Some(format!("{stem}@.service")),
                None => name == own,
            };
            if triggers {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// The settings of a unit from its fragment and the drop-ins `keep` accepts.
pub fn read_settings(
    fragment: &Path,
    dropins: &[PathBuf],
    keep: impl Fn(&Path) -> bool,
) -> Settings {
    let mut s = Settings::default();
    for file in std::iter::once(fragment).chain(dropins.iter().map(PathBuf::as_path)) {
        if !keep(file) {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(file) {
            s.apply(&text, file);
        }
    }
    s
}

/// The version of the systemd installed below `root`, from the name of its
/// shared library (`libsystemd-shared-252.so`); None when not found.
pub fn offline_version(root: &Path) -> Option<u32> {
    let mut dirs = vec![root.join("usr/lib/systemd"), root.join("usr/lib64/systemd")];
    for lib in ["usr/lib", "usr/lib64"] {
        if let Ok(entries) = std::fs::read_dir(root.join(lib)) {
            dirs.extend(entries.flatten().map(|e| e.path().join("systemd")));
        }
    }
    dirs.iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|e| e.flatten())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("libsystemd-shared-")?
                .strip_suffix(".so")?
                .parse()
                .ok()
        })
        .max()
}
