//! The client/server pairs of the compatibility matrix: for each, how to start
//! the server, what the client runs, and how to tell that the data arrived
//! intact. Every program of the matrix appears at least once.
//!
//! Each pair has its own testbed and scratch directory; [`Ctx`] says where
//! things are and which port this case's server listens on.

use crate::compat::programs::fixture;
use crate::proc::Output;
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The binary test file every HTTP/ssh/socat pair moves (4 MiB).
pub const BLOB_LEN: usize = 4 << 20;
/// The text value of the redis round (1 MiB, a redis-cli argument).
pub const TEXT_LEN: usize = 1 << 20;

/// Where one case runs.
pub struct Ctx {
    /// The pair's scratch directory.
    pub dir: PathBuf,
    /// The server's address (path 0 of the testbed) and this case's port.
    pub ip: Ipv4Addr,
    pub port: u16,
    /// Index of the case, so files of different cases do not mix.
    pub case: usize,
}

impl Ctx {
    /// The directory the HTTP servers serve: `blob` and the git repository.
    pub fn www(&self) -> PathBuf {
        self.dir.join("www")
    }
    pub fn blob(&self) -> PathBuf {
        self.www().join("blob")
    }
    pub fn text(&self) -> PathBuf {
        self.dir.join("text")
    }
    /// A file this case writes (the client's download, socat's capture).
    pub fn out(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{what}-{}", self.case))
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}/{path}", self.ip, self.port)
    }
    fn addr(&self) -> String {
        self.ip.to_string()
    }
    fn port(&self) -> String {
        self.port.to_string()
    }
}

/// One program start: the program (looked up by [`super::programs::locate`]),
/// its arguments, and optionally a file on stdin and extra environment.
pub struct Launch {
    pub program: &'static str,
    pub args: Vec<OsString>,
    pub stdin: Option<PathBuf>,
    pub env: Vec<(&'static str, OsString)>,
}

impl Launch {
    fn new<I, S>(program: &'static str, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Launch {
            program,
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
            env: Vec::new(),
        }
    }

    fn stdin(mut self, file: PathBuf) -> Launch {
        self.stdin = Some(file);
        self
    }

    fn env(mut self, key: &'static str, value: impl Into<OsString>) -> Launch {
        self.env.push((key, value.into()));
        self
    }

    fn arg_str(mut self, arg: impl Into<String>) -> Launch {
        self.args.push(arg.into().into());
        self
    }
    fn arg_path(mut self, arg: PathBuf) -> Launch {
        self.args.push(arg.into_os_string());
        self
    }
    fn args(mut self, more: &[&str]) -> Launch {
        self.args.extend(more.iter().map(OsString::from));
        self
    }
}

/// One side of a pair as the table names it.
#[derive(Clone, Copy)]
pub struct Side {
    /// How the table calls it: `python3 -m http.server`, `git clone (HTTP)`.
    pub label: &'static str,
    /// The binary to locate, and the arguments that make it print its version.
    pub binary: &'static str,
    pub version_args: &'static [&'static str],
}

/// A client and the server it talks to.
pub struct Pair {
    pub client: Side,
    pub server: Side,
    /// What moves, as the table says it.
    pub moves: &'static str,
    /// Extra files the pair needs, made once (keys, repositories).
    pub prepare: fn(&Path),
    /// The server, listening on `ctx.ip:ctx.port`.
    pub serve: fn(&Ctx) -> Launch,
    /// The client's commands, run one after the other.
    pub fetch: fn(&Ctx) -> Vec<Launch>,
    /// Checks what arrived, given the clients' outputs.
    pub check: fn(&Ctx, &[Output]) -> Result<(), String>,
}

/// Every pair of the matrix.
pub fn all() -> Vec<Pair> {
    vec![
        Pair {
            client: CURL,
            server: NGINX,
            moves: "4 MiB file over HTTP",
            prepare: nothing,
            serve: nginx,
            fetch: |c| {
                vec![Launch::new("curl", args(["-sS", "--max-time", "60", "-o"]))
                    .arg_path(c.out("got"))
                    .arg_str(c.url("blob"))]
            },
            check: got_blob,
        },
        Pair {
            client: WGET,
            server: PYTHON_HTTP,
            moves: "4 MiB file over HTTP",
            prepare: nothing,
            serve: python_http,
            fetch: |c| {
                vec![
                    Launch::new("wget", args(["-q", "--tries=1", "--timeout=60", "-O"]))
                        .arg_path(c.out("got"))
                        .arg_str(c.url("blob")),
                ]
            },
            check: got_blob,
        },
        Pair {
            client: PYTHON_URLLIB,
            server: NODE_SERVER,
            moves: "4 MiB file over HTTP",
            prepare: nothing,
            serve: |c| {
                Launch::new("node", [fixture("serve.js").into_os_string()])
                    .arg_str(c.addr())
                    .arg_str(c.port())
                    .arg_path(c.blob())
            },
            fetch: |c| {
                vec![
                    Launch::new("python3", [fixture("fetch.py").into_os_string()])
                        .arg_str(c.url("blob"))
                        .arg_path(c.out("got")),
                ]
            },
            check: got_blob,
        },
        Pair {
            client: NODE_CLIENT,
            server: JAVA_SERVER,
            moves: "4 MiB file over HTTP",
            prepare: nothing,
            serve: |c| {
                java("Serve.java")
                    .arg_str(c.addr())
                    .arg_str(c.port())
                    .arg_path(c.blob())
            },
            fetch: |c| {
                vec![Launch::new("node", [fixture("fetch.js").into_os_string()])
                    .arg_str(c.url("blob"))
                    .arg_path(c.out("got"))]
            },
            check: got_blob,
        },
        Pair {
            client: JAVA_CLIENT,
            server: NGINX,
            moves: "4 MiB file over HTTP",
            prepare: nothing,
            serve: nginx,
            fetch: |c| {
                vec![java("Fetch.java")
                    .arg_str(c.url("blob"))
                    .arg_path(c.out("got"))]
            },
            check: got_blob,
        },
        Pair {
            client: GIT,
            server: PYTHON_HTTP,
            moves: "git clone of a repository holding the 4 MiB file (dumb HTTP)",
            prepare: git_repository,
            serve: python_http,
            fetch: |c| {
                vec![Launch::new("git", args(["clone", "-q"]))
                    .arg_str(c.url("repo.git"))
                    .arg_path(c.out("clone"))
                    .env("HOME", c.dir.clone())
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GIT_TERMINAL_PROMPT", "0")]
            },
            check: |c, _| same_file(&c.out("clone").join("blob"), &c.blob()),
        },
        Pair {
            client: NCAT_CLIENT,
            server: SOCAT_SERVER,
            moves: "4 MiB stream, client to server",
            prepare: nothing,
            serve: |c| {
                let listen = format!("TCP-LISTEN:{},bind={},reuseaddr", c.port, c.ip);
                let to = format!("CREATE:{}", c.out("socat-got").display());
                Launch::new("socat", ["-u".to_string(), listen, to])
            },
            fetch: |c| {
                vec![Launch::new("ncat", args(["--send-only"]))
                    .arg_str(c.addr())
                    .arg_str(c.port())
                    .stdin(c.blob())]
            },
            // socat writes the file as the bytes come; wait until all have.
            check: |c, _| arrived(&c.out("socat-got"), &c.blob()),
        },
        Pair {
            client: SOCAT_CLIENT,
            server: NCAT_SERVER,
            moves: "4 MiB stream, server to client",
            prepare: nothing,
            serve: |c| {
                Launch::new("ncat", args(["-l", "--send-only"]))
                    .arg_str(c.addr())
                    .arg_str(c.port())
                    .stdin(c.blob())
            },
            fetch: |c| {
                let from = format!("TCP:{}:{}", c.ip, c.port);
                let to = format!("CREATE:{}", c.out("got").display());
                vec![Launch::new("socat", ["-u".to_string(), from, to])]
            },
            check: got_blob,
        },
        Pair {
            client: IPERF3_CLIENT,
            server: IPERF3_SERVER,
            moves: "4 MiB iperf3 test, sizes as iperf3 reports them",
            prepare: nothing,
            serve: |c| {
                Launch::new("iperf3", args(["-s", "-1", "-B"]))
                    .arg_str(c.addr())
                    .arg_str("-p")
                    .arg_str(c.port())
            },
            fetch: |c| {
                vec![Launch::new("iperf3", args(["-J", "-n", "4M", "-c"]))
                    .arg_str(c.addr())
                    .arg_str("-p")
                    .arg_str(c.port())]
            },
            check: |_, out| {
                let json = &out[0].stdout;
                let sent = json_bytes_after(json, "\"sum_sent\"");
                let received = json_bytes_after(json, "\"sum_received\"");
                match (sent, received) {
                    // iperf3 checks its -n limit between writes, so it may send
                    // a block more; and its receiver stops counting when the
                    // test ends on the control connection, which can be before
                    // the last blocks are read. iperf3 checks no content.
                    (Some(s), Some(r)) if s >= BLOB_LEN as u64 && r > 0 && r <= s => Ok(()),
                    _ => Err(format!(
                        "iperf3 reports sent {sent:?}, received {received:?}; wanted {BLOB_LEN} sent"                    )),
                }
            },
        },
        Pair {
            client: SSH,
            server: SSHD,
            moves: "4 MiB through `ssh host 'cat > file'`",
            prepare: ssh_keys,
            serve: sshd,
            fetch: |c| {
                let key = c.dir.join("ssh/client_key");
                let remote = format!("cat > '{}'", c.out("ssh-got").display());
                vec![Launch::new("ssh", args(["-F", "/dev/null", "-i"]))
                    .arg_path(key)
                    .args(&[
                        "-o",
                        "BatchMode=yes",
                        "-o",
                        "StrictHostKeyChecking=no",
                        "-o",
                        "UserKnownHostsFile=/dev/null",
                        "-o",
                        "LogLevel=ERROR",
                        "-o",
                        "ConnectTimeout=30",
                        "-p",
                    ])
                    .arg_str(c.port())
                    .arg_str(format!("root@{}", c.ip))
                    .arg_str(remote)
                    .stdin(c.blob())]
            },
            check: |c, _| same_file(&c.out("ssh-got"), &c.blob()),
        },
        Pair {
            client: REDIS_CLI,
            server: REDIS_SERVER,
            moves: "1 MiB value, SET then GET",
            prepare: nothing,
            serve: |c| {
                Launch::new("redis-server", args(["--bind"]))
                    .arg_str(c.addr())
                    // The client is not on loopback and there is no password.
                    .args(&["--protected-mode", "no", "--save", "", "--appendonly", "no"])
                    .arg_str("--port")
                    .arg_str(c.port())
                    .arg_str("--dir")
                    .arg_path(c.dir.clone())
            },
            fetch: |c| {
                let redis_cli = |rest: &[&str]| {
                    Launch::new("redis-cli", args(["-h"]))
                        .arg_str(c.addr())
                        .arg_str("-p")
                        .arg_str(c.port())
                        .args(rest)
                };
                vec![
                    redis_cli(&["-x", "SET", "compat:text"]).stdin(c.text()),
                    redis_cli(&["--raw", "GET", "compat:text"]),
                ]
            },
            check: |c, out| {
                let want = std::fs::read_to_string(c.text()).map_err(|e| e.to_string())?;
                if out[0].stdout.trim() != "OK" {
                    return Err(format!("SET answered {:?}", out[0].stdout.trim()));
                }
                if out[1].stdout.trim_end_matches('\n') != want {
                    return Err(format!(
                        "GET returned {} bytes, not the {} set",
                        out[1].stdout.len(),
                        want.len()
                    ));
                }
                Ok(())
            },
        },
    ]
}

const CURL: Side = side("curl", "curl", &["--version"]);
const WGET: Side = side("wget", "wget", &["--version"]);
const PYTHON_URLLIB: Side = side("python3 urllib", "python3", &["--version"]);
const NODE_CLIENT: Side = side("node http.get", "node", &["--version"]);
const JAVA_CLIENT: Side = side("Java HttpClient", "java", &["-version"]);
const GIT: Side = side("git clone (HTTP)", "git", &["--version"]);
const NCAT_CLIENT: Side = side("ncat", "ncat", &["--version"]);
const SOCAT_CLIENT: Side = side("socat", "socat", &["-V"]);
const IPERF3_CLIENT: Side = side("iperf3 -c", "iperf3", &["--version"]);
const SSH: Side = side("ssh", "ssh", &["-V"]);
const REDIS_CLI: Side = side("redis-cli", "redis-cli", &["--version"]);

const PYTHON_HTTP: Side = side("python3 -m http.server", "python3", &["--version"]);
const NGINX: Side = side("nginx", "nginx", &["-v"]);
const IPERF3_SERVER: Side = side("iperf3 -s", "iperf3", &["--version"]);
const NCAT_SERVER: Side = side("ncat -l", "ncat", &["--version"]);
const SOCAT_SERVER: Side = side("socat TCP-LISTEN", "socat", &["-V"]);
const REDIS_SERVER: Side = side("redis-server", "redis-server", &["--version"]);
const SSHD: Side = side("sshd", "sshd", &["-V"]);
const NODE_SERVER: Side = side("node http.createServer", "node", &["--version"]);
const JAVA_SERVER: Side = side("Java com.sun.net.httpserver", "java", &["-version"]);

const fn side(
    label: &'static str,
    binary: &'static str,
    version_args: &'static [&'static str],
) -> Side {
    Side {
        label,
        binary,
        version_args,
    }
}

fn args<const N: usize>(list: [&str; N]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn nothing(_: &Path) {}

/// A single-file source launch of a Java fixture, tuned to start fast.
fn java(source: &str) -> Launch {
    Launch::new(
        "java",
        args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]),
    )
    .arg_path(fixture(source))
}

fn python_http(c: &Ctx) -> Launch {
    Launch::new("python3", args(["-m", "http.server", "--bind"]))
        .arg_str(c.addr())
        .arg_str("--directory")
        .arg_path(c.www())
        .arg_str(c.port())
}

/// nginx in the foreground with its configuration, pid and logs in scratch.
fn nginx(c: &Ctx) -> Launch {
    let prefix = c.dir.join(format!("nginx-{}", c.case));
    std::fs::create_dir_all(prefix.join("logs")).expect("nginx prefix");
    let conf = format!(
        "daemon off;\nuser root;\nworker_processes 1;\npid {p}/nginx.pid;\n\
         error_log stderr warn;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n\
         server {{ listen {ip}:{port}; root {www}; }}\n}}\n",
        p = prefix.display(),
        ip = c.ip,
        port = c.port,
        www = c.www().display()
    );
    let file = prefix.join("nginx.conf");
    std::fs::write(&file, conf).expect("write nginx.conf");
    Launch::new("nginx", args(["-e", "stderr", "-p"]))
        .arg_path(prefix)
        .arg_str("-c")
        .arg_path(file)
}

/// A host key and a client key, the client's public key authorized.
fn ssh_keys(dir: &Path) {
    let ssh = dir.join("ssh");
    std::fs::create_dir_all(&ssh).expect("ssh dir");
    for key in ["host_key", "client_key"] {
        let mut cmd = std::process::Command::new("ssh-keygen");
        cmd.args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "mptcpize-compat",
            "-f",
        ])
        .arg(ssh.join(key));
        crate::proc::run(cmd, Duration::from_secs(30)).assert_success();
    }
    std::fs::copy(ssh.join("client_key.pub"), ssh.join("authorized_keys")).expect("authorize");
    // sshd refuses to start without its privilege separation directory.
    std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
}

/// sshd in the foreground, logging to stderr, with keys from [`ssh_keys`].
fn sshd(c: &Ctx) -> Launch {
    let ssh = c.dir.join("ssh");
    let conf = format!(
        "ListenAddress {ip}:{port}\nHostKey {s}/host_key\nAuthorizedKeysFile {s}/authorized_keys\n\
         PidFile none\nStrictModes no\nUsePAM no\nUseDNS no\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
        ip = c.ip,
        port = c.port,
        s = ssh.display()
    );
    let file = ssh.join(format!("sshd_config-{}", c.case));
    std::fs::write(&file, conf).expect("write sshd_config");
    Launch::new("sshd", args(["-D", "-e", "-f"])).arg_path(file)
}

/// A bare repository holding `blob`, ready for a dumb-HTTP clone.
fn git_repository(dir: &Path) {
    let work = dir.join("git-work");
    let git = |args: &[&str], cwd: &Path| {
        let mut cmd = std::process::Command::new(super::programs::locate("git").expect("git"));
        cmd.args(args)
            .current_dir(cwd)
            .env("HOME", dir)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        crate::proc::run(cmd, Duration::from_secs(60)).assert_success();
    };
    std::fs::create_dir_all(&work).expect("git work dir");
    git(&["init", "-q", "-b", "main"], &work);
    std::fs::copy(dir.join("www/blob"), work.join("blob")).expect("copy blob");
    git(&["add", "blob"], &work);
    git(
        &[
            "-c",
            "user.name=compat",
            "-c",
            "user.email=compat@invalid",
            "commit",
            "-qm",
            "blob",
        ],
        &work,
    );
    let bare = dir.join("www/repo.git");
    git(
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
        dir,
    );
    git(&["update-server-info"], &bare);
}

fn got_blob(c: &Ctx, _: &[Output]) -> Result<(), String> {
    same_file(&c.out("got"), &c.blob())
}

/// `got` holds exactly the bytes of `want`.
fn same_file(got: &Path, want: &Path) -> Result<(), String> {
    let want = std::fs::read(want).map_err(|e| format!("{}: {e}", want.display()))?;
    let got = std::fs::read(got).map_err(|e| format!("{}: {e}", got.display()))?;
    if got == want {
        Ok(())
    } else {
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        Err(format!(
            "received {} bytes of {}, first difference at {first:?}",
            got.len(),
            want.len()
        ))
    }
}

/// Like [`same_file`], waiting (at most 20 s) for a server still writing.
fn arrived(got: &Path, want: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let result = same_file(got, want);
        if result.is_ok() || Instant::now() >= deadline {
            return result;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `"bytes":` number of the JSON object after `key` in iperf3's report.
fn json_bytes_after(json: &str, key: &str) -> Option<u64> {
    let rest = &json[json.rfind(key)?..];
    let rest = &rest[rest.find("\"bytes\":")? + "\"bytes\":".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The pair's shared files: the 4 MiB binary blob (served over HTTP, sent
/// through ssh and socat) and the 1 MiB text value for redis.
pub fn write_data(dir: &Path) {
    std::fs::create_dir_all(dir.join("www")).expect("www dir");
    crate::write_pattern(&dir.join("www/blob"), BLOB_LEN);
    let text = crate::common::pattern_text(TEXT_LEN);
    std::fs::write(dir.join("text"), text).expect("write text");
}
