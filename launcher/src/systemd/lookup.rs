//! Where unit files and drop-ins live. For writing: the drop-in base of
//! each manager (/etc/systemd/system, /run/systemd/system, the user's
//! ~/.config/systemd/user and $XDG_RUNTIME_DIR/systemd/user), inside the
//! image with `--root`. For reading offline (`--root`, no running systemd):
//! the system search path in systemd's priority order, the unit's fragment
//! (following aliases, recognising masks) and its drop-ins: the unit's own,
//! its template's, its prefixes' (`app-.service.d/` for `app-web.service`,
//! systemd 246 and later) and its type's (`service.d/`). Every path is
//! resolved inside the image ([`Root`]).

use super::error::{Error, Result};
use super::safefs::{Dir, Root};
use super::unit::Unit;
use super::unitfile::Settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which service manager and which of its directories a command is about.
pub struct Manager {
    pub user: bool,
    pub runtime: bool,
    /// The services' `/`: the host's, or the image's with `--root`.
    pub fs: Root,
}

impl Manager {
    /// True with `--root` (no running manager is asked).
    pub fn offline(&self) -> bool {
        self.fs.image_dir().is_some()
    }

    /// `path` (as the services see it) as the user finds it, for messages.
    pub fn shown(&self, path: &Path) -> PathBuf {
        self.fs.shown(path)
    }

    /// `--user`, or nothing, for the commands we suggest.
    pub fn scope(&self) -> &'static str {
        if self.user {
            "--user "
        } else {
            ""
        }
    }

    /// The persistent and the runtime drop-in base of this manager.
    fn bases(&self) -> Result<[PathBuf; 2]> {
        if !self.user {
            return Ok([
                PathBuf::from("/etc/systemd/system"),
                PathBuf::from("/run/systemd/system"),
            ]);
        }
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let config = env("XDG_CONFIG_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".config")))
            .ok_or_else(|| {
                Error::Usage("--user: neither XDG_CONFIG_HOME nor HOME is set".into())
            })?;
        let runtime = env("XDG_RUNTIME_DIR").unwrap_or_else(|| {
            PathBuf::from(format!("/run/user/{}", rustix::process::getuid().as_raw()))
        });
        Ok([config.join("systemd/user"), runtime.join("systemd/user")])
    }

    /// Where `enable` writes and `disable` removes drop-ins.
    pub fn dropin_base(&self) -> Result<PathBuf> {
        let [persistent, runtime] = self.bases()?;
        Ok(if self.runtime { runtime } else { persistent })
    }

    /// Every base `status` looks in.
    pub fn all_bases(&self) -> Result<Vec<PathBuf>> {
        Ok(self.bases()?.to_vec())
    }
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

/// One directory of the search path, open.
struct SearchDir {
    path: PathBuf,
    dir: Dir,
}

/// The system unit search path inside the root, highest priority first; a
/// directory reached twice (/lib → usr/lib) is kept once.
fn search_dirs(root: &Root) -> Vec<SearchDir> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for path in [
        "/etc/systemd/system.control",
        "/run/systemd/system.control",
        "/run/systemd/transient",
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
    ] {
        let path = PathBuf::from(path);
        let Ok(dir) = root.dir(&path) else {
            continue;
        };
        let Ok(st) = rustix::fs::fstat(dir.fd()) else {
            continue;
        };
        if seen.contains(&(st.st_dev, st.st_ino)) {
            continue;
        }
        seen.push((st.st_dev, st.st_ino));
        out.push(SearchDir { path, dir });
    }
    out
}

/// The drop-in directory names of unit `id`, most specific first: its own,
/// its template's, its prefixes' (longest first), its type's.
pub fn dropin_dir_names(id: &Unit) -> Vec<String> {
    let mut out = vec![format!("{}.d", id.name)];
    out.extend(id.template().map(|t| format!("{t}.d")));
    let stem = id.template().map_or(id.stem().to_string(), |t| {
        t.rsplit_once('.').map(|(s, _)| s.to_string()).unwrap_or(t)
    });
    let suffix = id.suffix();
    let mut cut = stem.trim_end_matches('@').to_string();
    while let Some(i) = cut.trim_end_matches('-').rfind('-') {
        cut.truncate(i + 1);
        out.push(format!("{cut}.{suffix}.d"));
        cut.truncate(i);
    }
    out.push(format!("{suffix}.d"));
    out
}

/// Finds `unit`'s fragment and drop-ins inside the root, as systemd would.
pub fn find_offline(root: &Root, unit: &Unit) -> Offline {
    let dirs = search_dirs(root);
    let mut names = vec![unit.name.clone()];
    names.extend(unit.template());
    let mut found = None;
    'search: for name in &names {
        for d in &dirs {
            let Ok(st) = d.dir.lstat(name) else {
                continue;
            };
            let mut target_name = name.clone();
            if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
                let Ok(target) = d.dir.read_link(name) else {
                    continue;
                };
                if target == Path::new("/dev/null") {
                    return Offline::Masked;
                }
                if let Some(n) = target.file_name() {
                    target_name = n.to_string_lossy().into_owned();
                }
            }
            let path = d.path.join(name);
            match root.stat(&path) {
                Ok(s) if is_file(&s) && s.st_size == 0 => return Offline::Masked,
                Ok(s) if is_file(&s) => {
                    found = Some((path, target_name));
                    break 'search;
                }
                _ => continue,
            }
        }
    }
    let Some((fragment, target_name)) = found else {
        return Offline::Missing;
    };
    // An alias (a symlink to another unit's file) is that other unit, unless
    // the link goes to a template of the same instance.
    let id = if names.contains(&target_name) || Unit::parse(&target_name).is_err() {
        unit.name.clone()
    } else {
        target_name
    };
    let id_unit = Unit::parse(&id).unwrap_or_else(|_| unit.clone());
    let dropin_dirs = dropin_dir_names(&id_unit);
    // The first file of a name wins (higher-priority directory, then the
    // more specific unit name); all are applied in the order of their names.
    let mut confs: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut masked = Vec::new();
    for d in &dirs {
        for dd in &dropin_dirs {
            let Ok(sub) = root.dir(&d.path.join(dd)) else {
                continue;
            };
            for name in sub.names().unwrap_or_default() {
                if !name.ends_with(".conf") || confs.contains_key(&name) || masked.contains(&name) {
                    continue;
                }
                let path = d.path.join(dd).join(&name);
                if sub
                    .read_link(&name)
                    .is_ok_and(|t| t == Path::new("/dev/null"))
                {
                    masked.push(name);
                } else {
                    confs.insert(name, path);
                }
            }
        }
    }
    Offline::Files {
        id,
        fragment,
        dropins: confs.into_values().collect(),
    }
}

fn is_file(st: &rustix::fs::Stat) -> bool {
    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
}

/// The socket units inside the root that start `service`: `<stem>.socket`
/// unless it names another service, and any socket with `Service=service`.
pub fn sockets_for_offline(root: &Root, service: &Unit) -> Vec<String> {
    let mut out = Vec::new();
    let own = format!("{}.socket", service.stem());
    for d in search_dirs(root) {
        for name in d.dir.names().unwrap_or_default() {
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
            let settings = read_settings(root, &fragment, &dropins, |_| true);
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

/// The settings of a unit from its fragment and the drop-ins `keep` accepts,
/// each read inside the root.
pub fn read_settings(
    root: &Root,
    fragment: &Path,
    dropins: &[PathBuf],
    keep: impl Fn(&Path) -> bool,
) -> Settings {
    let mut s = Settings::default();
    for file in std::iter::once(fragment).chain(dropins.iter().map(PathBuf::as_path)) {
        if !keep(file) || file.as_os_str().is_empty() {
            continue;
        }
        if let Ok(Some(text)) = root.read(file) {
            s.apply(&text, file);
        }
    }
    s
}

/// The version of the systemd installed inside the root, from the name of
/// its shared library (`libsystemd-shared-252.so`); None when not found.
pub fn offline_version(root: &Root) -> Option<u32> {
    let mut dirs = vec![
        PathBuf::from("/usr/lib/systemd"),
        PathBuf::from("/usr/lib64/systemd"),
    ];
    for lib in ["/usr/lib", "/usr/lib64"] {
        if let Ok(d) = root.dir(Path::new(lib)) {
            dirs.extend(
                d.names()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| Path::new(lib).join(n).join("systemd")),
            );
        }
    }
    dirs.iter()
        .filter_map(|d| root.dir(d).ok())
        .flat_map(|d| d.names().unwrap_or_default())
        .filter_map(|name| {
            name.strip_prefix("libsystemd-shared-")?
                .strip_suffix(".so")?
                .parse()
                .ok()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropin_directories_follow_systemd_s_order() {
        let names = |u: &str| dropin_dir_names(&Unit::parse(u).unwrap());
        assert_eq!(names("web.service"), ["web.service.d", "service.d"]);
        assert_eq!(
            names("app-web-1.service"),
            [
                "app-web-1.service.d",
                "app-web-.service.d",
                "app-.service.d",
                "service.d"
            ]
        );
        assert_eq!(
            names("a-b@x.service"),
            [
                "a-b@x.service.d",
                "a-b@.service.d",
                "a-.service.d",
                "service.d"
            ]
        );
        assert_eq!(names("e.socket"), ["e.socket.d", "socket.d"]);
    }
}
