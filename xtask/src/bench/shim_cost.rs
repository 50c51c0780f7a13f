//! The shim's costs (the core issue's benchmark): instructions added per
//! socket() call and at load, counted by callgrind (exact, unlike timings
//! on a shared machine), and the launcher's wall time against mptcpd's
//! `mptcpize run`, as a ratio measured in one hyperfine run.
//!
//! Each variant is a command prefix placed before `valgrind … PROG`: the
//! preload variants are `env LD_PRELOAD=…`; another mode of the launcher is
//! one more row in [`variants`] (see the note there for `--mode seccomp`).

use mptcpize_tests::artifacts::{built, workspace};
use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, shim, Netns};
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The launcher as `make install` installs it (linked statically, the shim
/// in `../lib/mptcpize-rs/`): what users run, so what is measured. Its
/// symbols are kept (`INSTALL_STRIP=`) so that callgrind can stop at its
/// `execve`.
fn launcher() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dest = built().join("bench-install");
            let mut make = Command::new("make");
            make.current_dir(workspace())
                .args(["install", "INSTALL_STRIP="])
                .arg(format!("DESTDIR={}", dest.display()));
            let out = run(make, Duration::from_secs(900));
            assert!(out.status.success(), "make install failed:\n{out}");
            dest.join("usr/local/bin/mptcpize-rs")
        })
        .clone()
}

/// mptcpd's preload library (Debian package libmptcpwrap0).
pub const LIBMPTCPWRAP: &str = "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0";
/// socket() calls of the two socket-loop runs whose difference is counted.
const N1: u64 = 2_000;
const N2: u64 = 12_000;

/// One way of running a program under test.
struct Variant {
    name: &'static str,
    /// Placed before the program (or before valgrind).
    prefix: Vec<OsString>,
    /// Whether its load cost (instructions of /bin/true) is measured: only
    /// for preload libraries, whose load is what the prefix adds.
    load: bool,
}

fn env_preload(lib: &Path) -> Vec<OsString> {
    let mut v = OsString::from("LD_PRELOAD=");
    v.push(lib);
    vec!["env".into(), v]
}

/// The rows of the per-call table, the first being the baseline.
fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "no preload",
            prefix: vec!["env".into()],
            load: true,
        },
        Variant {
            name: "mptcpize-rs shim (LD_PRELOAD)",
            prefix: env_preload(&shim()),
            load: true,
        },
        // The report's own library, as `run --report=/dev/null` loads it
        // (before the shim), for never-connected sockets: its cost is
        // measured here, apart from the shim every program carries.
        Variant {
            name: "report library (--report=/dev/null)",
            prefix: vec![
                "env".into(),
                format!("LD_PRELOAD={}", mptcpize_tests::preload_with_report()).into(),
                "MPTCPIZE_REPORT=/dev/null".into(),
            ],
            load: true,
        },
        Variant {
            name: "mptcpize-rs run",
            prefix: vec![launcher().into(), "run".into(), "--".into()],
            load: false,
        },
        Variant {
            name: "libmptcpwrap (mptcpize)",
            prefix: env_preload(Path::new(LIBMPTCPWRAP)),
            load: true,
        },
        // Issue 6 (`mptcpize-rs run --mode seccomp`) adds its row here:
        // Variant { name: "mptcpize-rs run --mode seccomp",
        //           prefix: vec![launcher().into(), "run".into(), "--mode".into(),
        //                        "seccomp".into(), "--".into()], load: false },
        // (the filter is installed before valgrind starts and inherited by
        // the program; callgrind counts user-space instructions only, so
        // also report that mode's kernel-side cost, e.g. with perf stat).
    ]
}

#[derive(Serialize, Debug)]
pub struct PerCall {
    pub variant: String,
    /// Instructions per socket() + close() iteration of socket-loop.
    pub per_call: f64,
    /// Added over "no preload".
    pub added: f64,
}

/// The shim's cost per successful `setsockopt()` (issue 15).
#[derive(Serialize, Debug)]
pub struct PerSetsockopt {
    /// `tcp`: on a converted (MPTCP) socket, recorded in the fd table;
    /// `udp`: on a socket the shim left alone, which needs nothing.
    pub socket: String,
    /// Instructions added per setsockopt() over "no preload".
    pub added: f64,
}

/// setsockopt() calls per socket in the setsockopt runs.
const SETS: u32 = 4;

#[derive(Serialize, Debug)]
pub struct Load {
    pub variant: String,
    /// Instructions of /bin/true.
    pub instructions: u64,
    /// Added over "no preload".
    pub added: i64,
}

/// What a launcher costs before the program starts.
#[derive(Serialize, Debug)]
pub struct Launch {
    pub launcher: String,
    /// Instructions from the launcher's start to its first execve().
    pub instructions: u64,
}

#[derive(Serialize, Debug)]
pub struct Wall {
    pub command: String,
    pub mean_ms: f64,
    pub stddev_ms: f64,
    pub runs: u64,
}

#[derive(Serialize, Debug)]
pub struct ShimCost {
    pub per_call: Vec<PerCall>,
    pub per_setsockopt: Vec<PerSetsockopt>,
    pub load: Vec<Load>,
    pub launch: Vec<Launch>,
    pub wall: Vec<Wall>,
    /// `mptcpize-rs run true` over `mptcpize run true`, medians of
    /// [`INTERLEAVED`] runs of each, alternating (hyperfine runs all of one
    /// command, then all of the other, so drift on a shared machine skews
    /// its ratio of means).
    pub wall_ratio: Option<f64>,
    pub wall_median_ms: Vec<(String, f64)>,
    /// hyperfine's ratio of means, as a cross-check.
    pub hyperfine_ratio: Option<f64>,
    /// The functions that cost most in the shim's socket loop (callgrind_annotate).
    pub hot_functions: String,
}

impl ShimCost {
    pub fn added(&self, variant: &str) -> Option<f64> {
        self.per_call
            .iter()
            .find(|r| r.variant == variant)
            .map(|r| r.added)
    }

    pub fn load_added(&self, variant: &str) -> Option<i64> {
        self.load
            .iter()
            .find(|r| r.variant == variant)
            .map(|r| r.added)
    }
}

/// Runs `prefix… valgrind --tool=callgrind PROG ARGS` in `ns` and returns
/// the instructions callgrind counted (and its output file).
fn callgrind(
    ns: &Netns,
    dir: &Path,
    tag: &str,
    prefix: &[OsString],
    prog: &Path,
    args: &[&str],
) -> Result<(u64, std::path::PathBuf), String> {
    let out_file = dir.join(format!("callgrind.{tag}.out"));
    let mut cmd = ns.cmd(&prefix[0]);
    cmd.args(&prefix[1..])
        .arg("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(prog)
        .args(args);
    let out = run(cmd, Duration::from_secs(300));
    if !out.status.success() {
        return Err(format!(
            "callgrind of {} failed ({tag}):\n{out}",
            prog.display()
        ));
    }
    let text =
        std::fs::read_to_string(&out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let total = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals: ")
                .or_else(|| l.strip_prefix("summary: "))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{} has no totals", out_file.display()))?;
    Ok((total, out_file))
}

/// Runs of each command in the interleaved wall-time loop.
pub const INTERLEAVED: usize = 1000;

/// Median wall time of `mptcpize-rs run true` and of `mptcpize run true`,
/// run alternately [`INTERLEAVED`] times each.
fn interleaved() -> Result<Vec<(String, f64)>, String> {
    let commands: [(&str, Vec<OsString>); 2] = [
        (
            "mptcpize-rs run true",
            vec![launcher().into(), "run".into(), "true".into()],
        ),
        (
            "mptcpize run true",
            vec!["mptcpize".into(), "run".into(), "true".into()],
        ),
    ];
    let mut times = vec![Vec::with_capacity(INTERLEAVED); commands.len()];
    for _ in 0..INTERLEAVED {
        for (k, (name, argv)) in commands.iter().enumerate() {
            let start = std::time::Instant::now();
            let status = Command::new(&argv[0])
                .args(&argv[1..])
                .status()
                .map_err(|e| format!("{name}: {e}"))?;
            times[k].push(start.elapsed().as_secs_f64() * 1e3);
            if !status.success() {
                return Err(format!("{name} failed: {status}"));
            }
        }
    }
    Ok(commands
        .iter()
        .zip(times)
        .map(|((name, _), mut t)| {
            t.sort_by(f64::total_cmp);
            (name.to_string(), t[t.len() / 2])
        })
        .collect())
}

/// Instructions of `argv` until its first execve() (callgrind dumps its
/// counts there: `--dump-before=execve`, first dump file `.1`).
fn until_exec(dir: &Path, tag: &str, argv: &[OsString]) -> Result<u64, String> {
    let base = dir.join(format!("launch.{tag}"));
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--tool=callgrind",
        "--trace-children=yes",
        "--dump-before=execve",
    ])
    .arg(format!("--callgrind-out-file={}", base.display()))
    .args(argv);
    let out = run(cmd, Duration::from_secs(120));
    if !out.status.success() {
        return Err(format!("callgrind of {argv:?} failed:\n{out}"));
    }
    let first = dir.join(format!("launch.{tag}.1"));
    let text = std::fs::read_to_string(&first).map_err(|e| format!("{}: {e}", first.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals: ")
                .or_else(|| l.strip_prefix("summary: "))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{} has no totals", first.display()))
}

fn hyperfine(dir: &Path) -> Result<(Vec<Wall>, Option<f64>), String> {
    let json = dir.join("hyperfine.json");
    let ours = format!("{} run true", launcher().display());
    let mut cmd = Command::new("hyperfine");
    cmd.args(["-N", "--warmup", "50", "--runs", "1000", "--export-json"])
        .arg(&json)
        .args([ours.as_str(), "mptcpize run true", "true"]);
    let out = run(cmd, Duration::from_secs(600));
    if !out.status.success() {
        return Err(format!("hyperfine failed:\n{out}"));
    }
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?,
    )
    .map_err(|e| format!("hyperfine JSON: {e}"))?;
    let wall: Vec<Wall> = v["results"]
        .as_array()
        .ok_or("hyperfine JSON has no results")?
        .iter()
        .map(|r| Wall {
            command: r["command"]
                .as_str()
                .unwrap_or("")
                .replace(&*launcher().to_string_lossy(), "mptcpize-rs"),
            mean_ms: r["mean"].as_f64().unwrap_or(0.0) * 1e3,
            stddev_ms: r["stddev"].as_f64().unwrap_or(0.0) * 1e3,
            runs: r["times"].as_array().map_or(0, |t| t.len() as u64),
        })
        .collect();
    let ratio = match wall.as_slice() {
        [ours, theirs, ..] if theirs.mean_ms > 0.0 => Some(ours.mean_ms / theirs.mean_ms),
        _ => None,
    };
    Ok((wall, ratio))
}

pub fn measure() -> Result<ShimCost, String> {
    for p in ["valgrind", "callgrind_annotate", "hyperfine", "mptcpize"] {
        if !mptcpize_tests::require::on_path(p) {
            return Err(format!(
                "{p} is not installed: apt-get install valgrind hyperfine mptcpize"
            ));
        }
    }
    if !Path::new(LIBMPTCPWRAP).exists() {
        return Err(format!(
            "{LIBMPTCPWRAP} is missing: apt-get install libmptcpwrap0"
        ));
    }
    let ns = Netns::new();
    let dir = mptcpize_tests::artifacts::ScratchDir::new();
    let socket_loop = bin("socket-loop");
    let (n1, n2) = (N1.to_string(), N2.to_string());
    let mut per_call = Vec::new();
    let mut load = Vec::new();
    let mut hot_functions = String::new();
    for (k, v) in variants().into_iter().enumerate() {
        let (a, _) = callgrind(
            &ns,
            dir.path(),
            &format!("{k}.n1"),
            &v.prefix,
            &socket_loop,
            &[&n1],
        )?;
        let (b, file) = callgrind(
            &ns,
            dir.path(),
            &format!("{k}.n2"),
            &v.prefix,
            &socket_loop,
            &[&n2],
        )?;
        // Rounded to 0.1: the loop's instructions are the same in every run.
        let each = ((b as f64 - a as f64) / (N2 - N1) as f64 * 10.0).round() / 10.0;
        let base = per_call.first().map_or(each, |r: &PerCall| r.per_call);
        eprintln!(
            "  {:32} {each:8.1} instructions per socket()+close() ({:+.1})",
            v.name,
            each - base
        );
        if v.name == "mptcpize-rs shim (LD_PRELOAD)" {
            hot_functions = annotate(&file);
        }
        per_call.push(PerCall {
            variant: v.name.into(),
            per_call: each,
            added: each - base,
        });
        if v.load {
            let (t, _) = callgrind(
                &ns,
                dir.path(),
                &format!("{k}.true"),
                &v.prefix,
                Path::new("/bin/true"),
                &[],
            )?;
            let base = load.first().map_or(t, |r: &Load| r.instructions);
            load.push(Load {
                variant: v.name.into(),
                instructions: t,
                added: t as i64 - base as i64,
            });
        }
    }
    let per_setsockopt = setsockopt_cost(&ns, dir.path(), &socket_loop)?;
    let launch = vec![
        Launch {
            launcher: "mptcpize-rs run true".into(),
            instructions: until_exec(
                dir.path(),
                "rs",
                &[launcher().into(), "run".into(), "true".into()],
            )?,
        },
        Launch {
            launcher: "mptcpize run true".into(),
            instructions: until_exec(
                dir.path(),
                "mptcpize",
                &["mptcpize".into(), "run".into(), "true".into()],
            )?,
        },
    ];
    let (wall, hyperfine_ratio) = hyperfine(dir.path())?;
    let wall_median_ms = interleaved()?;
    let wall_ratio = Some(wall_median_ms[0].1 / wall_median_ms[1].1);
    Ok(ShimCost {
        per_call,
        per_setsockopt,
        load,
        launch,
        wall,
        wall_ratio,
        wall_median_ms,
        hyperfine_ratio,
        hot_functions,
    })
}

/// Instructions per loop iteration of `socket-loop N KIND SETS` under
/// `prefix`: the difference of an N1 and an N2 run.
fn per_iteration(
    ns: &Netns,
    dir: &Path,
    tag: &str,
    prefix: &[OsString],
    socket_loop: &Path,
    kind: &str,
    sets: u32,
) -> Result<f64, String> {
    let sets = sets.to_string();
    let (n1, n2) = (N1.to_string(), N2.to_string());
    let (a, _) = callgrind(
        ns,
        dir,
        &format!("{tag}.n1"),
        prefix,
        socket_loop,
        &[&n1, kind, &sets],
    )?;
    let (b, _) = callgrind(
        ns,
        dir,
        &format!("{tag}.n2"),
        prefix,
        socket_loop,
        &[&n2, kind, &sets],
    )?;
    Ok((b as f64 - a as f64) / (N2 - N1) as f64)
}

/// What the shim adds per successful setsockopt(), on a converted TCP
/// socket and on a UDP socket: (with SETS calls − without) / SETS, shim
/// minus no preload.
fn setsockopt_cost(
    ns: &Netns,
    dir: &Path,
    socket_loop: &Path,
) -> Result<Vec<PerSetsockopt>, String> {
    let plain = vec![OsString::from("env")];
    let shimmed = env_preload(&shim());
    let mut rows = Vec::new();
    for kind in ["tcp", "udp"] {
        let mut per_set = [0.0; 2];
        for (k, prefix) in [&plain, &shimmed].into_iter().enumerate() {
            let with = per_iteration(
                ns,
                dir,
                &format!("sets.{kind}.{k}.with"),
                prefix,
                socket_loop,
                kind,
                SETS,
            )?;
            let without = per_iteration(
                ns,
                dir,
                &format!("sets.{kind}.{k}.without"),
                prefix,
                socket_loop,
                kind,
                0,
            )?;
            per_set[k] = (with - without) / f64::from(SETS);
        }
        let added = ((per_set[1] - per_set[0]) * 10.0).round() / 10.0;
        eprintln!("  setsockopt() on a {kind} socket: {added:+.1} instructions with the shim");
        rows.push(PerSetsockopt {
            socket: kind.into(),
            added,
        });
    }
    Ok(rows)
}

/// The top lines of callgrind_annotate for one run, to see what dominates.
fn annotate(file: &Path) -> String {
    let out = Command::new("callgrind_annotate")
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .skip_while(|l| !l.contains("file:function"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .take(12)
        .collect::<Vec<_>>()
        .join("\n")
}
