//! `mptcpize-rs enable|disable|status` against a real systemd (Debian's
//! 252) booted as PID 1 in namespaces of its own (see
//! `mptcpize_tests::systemd::BootedSystemd` for how the host is protected).
//! A unit runs python3's http.server; after `enable --now` its listener is
//! MPTCP and a client under `mptcpize-rs run` negotiates MPTCP with it;
//! after `disable --now` it is TCP again and /etc/systemd/system is as it was.

use mptcpize_tests::systemd::{snapshot, BootedSystemd};
use mptcpize_tests::{
    launcher, require_program, require_root_mptcp, ScratchDir, MP_CAPABLE_SYN_RX,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PORT: &str = "8080";

/// What every test here needs: root with MPTCP, and the tools
/// `BootedSystemd` boots with (skipped without them, outside CI).
macro_rules! require_booted_systemd {
    () => {
        require_root_mptcp!();
        require_program!("nsenter");
        require_program!("unshare");
    };
}

fn web_unit(root: &std::path::Path) -> String {
    format!(
        "[Unit]\nDescription=mptcpize-rs test web server\nDefaultDependencies=no\n\
         [Service]\nEnvironment=\"LD_PRELOAD=\" KEEP=1\n\
         ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory {} {PORT}\n\
         StandardOutput=null\nStandardError=null\n",
        root.display()
    )
}

/// Waits until `ss ARGS` inside lists the test port (or never, for `want` false).
#[track_caller]
fn wait_listener(sd: &BootedSystemd, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = sd.run("ss", args).stdout;
        if out.contains(&format!("127.0.0.1:{PORT}")) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "no listener on {PORT} in `ss {}`:\n{out}",
            args.join(" ")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mptcp_listeners(sd: &BootedSystemd) -> String {
    sd.run("ss", &["-Mln"]).stdout
}

/// Fetches the test file with curl under `mptcpize-rs run`; returns the body.
fn fetch(sd: &BootedSystemd) -> Vec<u8> {
    let out = sd.dir.join("fetched");
    let _ = std::fs::remove_file(&out);
    let r = sd.mptcpize(&[
        "run",
        "curl",
        "-sS",
        "--max-time",
        "20",
        "-o",
        out.to_str().unwrap(),
        &format!("http://127.0.0.1:{PORT}/blob"),
    ]);
    r.assert_success();
    std::fs::read(&out).unwrap()
}

#[test]
fn enable_now_makes_a_running_service_listen_with_mptcp_and_disable_undoes_it() {
    require_booted_systemd!();
    require_program!("python3");
    require_program!("curl");
    assert!(
        std::path::Path::new("/lib/systemd/systemd").exists() || mptcpize_tests::require::in_ci(),
        "systemd is not installed"
    );
    let data_dir = ScratchDir::new();
    let blob = mptcpize_tests::write_pattern(&data_dir.join("blob"), 2_000_000);

    let sd = BootedSystemd::boot(&[("mzweb.service", &web_unit(data_dir.path()))]);
    sd.systemctl(&["start", "mzweb.service"]);
    wait_listener(&sd, &["-ltn"]);
    assert!(!mptcp_listeners(&sd).contains(PORT), "MPTCP before enable");
    let etc_before = snapshot(&sd.etc);

    // enable without --now: in place, not yet in effect.
    let out = sd.mptcpize(&["enable", "mzweb"]);
    out.assert_success();
    assert!(out.stdout.contains("from its next start"), "{out}");
    let status = sd.mptcpize(&["status", "mzweb"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status
            .stdout
            .contains("mzweb.service: enabled, takes effect on restart"),
        "{status}"
    );
    // daemon-reload ran: the manager sees our drop-in and its environment,
    // with the unit's own KEEP=1 still there.
    let env = sd.systemctl(&["show", "-p", "Environment,DropInPaths", "mzweb.service"]);
    assert!(
        env.contains("/etc/systemd/system/mzweb.service.d/90-mptcpize.conf"),
        "{env}"
    );
    assert!(
        env.contains("LD_PRELOAD=/") && env.contains("KEEP=1") && env.contains("multipathtcp=1"),
        "{env}"
    );

    // enable --now: idempotent, and the restarted server listens with MPTCP.
    let out = sd.mptcpize(&["enable", "--now", "mzweb.service"]);
    out.assert_success();
    assert!(out.stdout.contains("already enabled"), "{out}");
    wait_listener(&sd, &["-Mln"]);
    let status = sd.mptcpize(&["status", "mzweb"]);
    assert!(status.stdout.contains("mzweb.service: active"), "{status}");
    assert!(status.stdout.contains("shim mapped"), "{status}");
    assert!(
        status
            .stdout
            .contains(&format!("listening: 127.0.0.1:{PORT} MPTCP")),
        "{status}"
    );
    // Without UNIT: one line for each unit we enabled, with its processes.
    let listing = sd.mptcpize(&["status"]);
    assert_eq!(listing.stdout.lines().count(), 1, "{listing}");
    assert!(
        listing
            .stdout
            .starts_with("mzweb.service  active; shim mapped in 1 of 1 processes"),
        "{listing}"
    );

    let handshakes = sd.watch(MP_CAPABLE_SYN_RX);
    assert_eq!(fetch(&sd), blob, "the file arrived damaged");
    handshakes.assert_grew_by(
        1,
        "the MPTCP listener saw no MP_CAPABLE SYN from the client",
    );

    // disable --now: TCP again, and /etc/systemd/system as it was.
    let out = sd.mptcpize(&["disable", "--now", "mzweb"]);
    out.assert_success();
    assert_eq!(
        snapshot(&sd.etc),
        etc_before,
        "disable left something behind"
    );
    wait_listener(&sd, &["-ltn"]);
    assert!(
        !mptcp_listeners(&sd).contains(PORT),
        "still MPTCP after disable:\n{}",
        mptcp_listeners(&sd)
    );
    let handshakes = sd.watch(MP_CAPABLE_SYN_RX);
    assert_eq!(fetch(&sd), blob);
    handshakes.assert_grew_by(0, "an MPTCP listener answered after disable");
    let status = sd.mptcpize(&["status", "mzweb"]);
    assert_eq!(status.code(), 3, "{status}");
    assert!(status.stdout.contains("not enabled"), "{status}");
}

/// The harness itself: a test that panics with systemd booted leaves no
/// process, cgroup or file of it behind.
#[test]
fn a_failing_test_leaves_no_systemd_behind() {
    require_booted_systemd!();
    let seen = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sd = BootedSystemd::boot(&[]);
        *seen.lock().unwrap() = Some((sd.pid, sd.cgroups().to_vec(), sd.etc.clone()));
        panic!("deliberate failure with systemd running");
    }));
    assert!(result.is_err());
    let (pid, cgroups, etc) = seen.into_inner().unwrap().expect("systemd booted");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_ne!(comm.trim(), "systemd", "systemd (pid {pid}) still runs");
    assert!(!cgroups.is_empty());
    for cg in cgroups {
        assert!(!cg.exists(), "{} was left behind", cg.display());
    }
    assert!(!etc.exists(), "{} was left behind", etc.display());
}

/// Against the running manager: socket activation on systemd 252 (said
/// plainly, no socket drop-in), --runtime, --dry-run, and the refusals
/// systemctl's view gives (unknown, masked), each writing nothing.
#[test]
fn socket_activation_runtime_and_refusals_with_a_running_manager() {
    require_booted_systemd!();
    let sd = BootedSystemd::boot(&[
        (
            "mzecho.socket",
            "[Unit]\nDefaultDependencies=no\n[Socket]\nListenStream=127.0.0.1:8081\n",
        ),
        (
            "mzecho.service",
            "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 30\n",
        ),
        (
            "mzweb.service",
            "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 30\n",
        ),
    ]);
    std::os::unix::fs::symlink("/dev/null", sd.etc.join("mzmasked.service")).unwrap();
    sd.systemctl(&["daemon-reload"]);
    sd.systemctl(&["start", "mzecho.socket"]);
    let before = snapshot(&sd.etc);

    for (args, what) in [
        (&["enable", "nosuch"][..], "unit nosuch.service not found"),
        (&["enable", "mzmasked"][..], "mzmasked.service is masked"),
        (
            &[
                "enable",
                "mzecho.socket",
                "--shim",
                "/nonexistent/libmptcpize.so",
            ][..],
            "does not exist",
        ),
    ] {
        let out = sd.mptcpize(args);
        assert_eq!(out.code(), 1, "{args:?}: {out}");
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        assert!(out.stderr.contains(what), "{args:?}: {out}");
        assert_eq!(snapshot(&sd.etc), before, "{args:?} wrote something");
    }

    // Socket activation on 252: the service gets the shim, the listener
    // stays TCP, and the user is told so.
    let out = sd.mptcpize(&["enable", "mzecho.socket"]);
    out.assert_success();
    assert!(out.stdout.contains("started by mzecho.socket"), "{out}");
    assert!(
        out.stdout.contains("stays TCP") && out.stdout.contains("systemd 252"),
        "{out}"
    );
    assert!(sd.etc.join("mzecho.service.d/90-mptcpize.conf").exists());
    assert!(!sd.etc.join("mzecho.socket.d").exists());
    sd.mptcpize(&["disable", "mzecho"]).assert_success();
    assert_eq!(snapshot(&sd.etc), before);

    // --dry-run names the reload it would do, and writes nothing.
    let out = sd.mptcpize(&["enable", "--dry-run", "--now", "mzweb"]);
    out.assert_success();
    assert!(
        out.stdout.contains("would run: systemctl daemon-reload"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("would run: systemctl restart mzweb.service"),
        "{out}"
    );
    assert_eq!(snapshot(&sd.etc), before);

    // --no-reload: written, but the manager (which has the unit loaded, as
    // it runs) has not read it yet.
    sd.systemctl(&["start", "mzweb.service"]);
    sd.mptcpize(&["enable", "--no-reload", "mzweb"])
        .assert_success();
    assert!(sd.etc.join("mzweb.service.d/90-mptcpize.conf").exists());
    let paths = sd.systemctl(&["show", "-p", "DropInPaths", "mzweb.service"]);
    assert!(
        !paths.contains("90-mptcpize.conf"),
        "reloaded despite --no-reload: {paths}"
    );
    sd.systemctl(&["daemon-reload"]);
    let paths = sd.systemctl(&["show", "-p", "DropInPaths", "mzweb.service"]);
    assert!(paths.contains("90-mptcpize.conf"), "{paths}");
    sd.mptcpize(&["disable", "mzweb"]).assert_success();
    let paths = sd.systemctl(&["show", "-p", "DropInPaths", "mzweb.service"]);
    assert!(
        !paths.contains("90-mptcpize.conf"),
        "disable did not reload: {paths}"
    );
    sd.systemctl(&["stop", "mzweb.service"]);
    assert_eq!(snapshot(&sd.etc), before);

    // --runtime: in /run/systemd/system, seen by the manager, then gone.
    let runtime = "/run/systemd/system/mzweb.service.d/90-mptcpize.conf";
    sd.mptcpize(&["enable", "--runtime", "mzweb"])
        .assert_success();
    assert!(sd.run("test", &["-f", runtime]).status.success());
    let paths = sd.systemctl(&["show", "-p", "DropInPaths", "mzweb.service"]);
    assert!(paths.contains(runtime), "{paths}");
    let status = sd.mptcpize(&["status", "mzweb"]);
    assert!(status.stdout.contains(runtime), "{status}");
    sd.mptcpize(&["disable", "--runtime", "mzweb"])
        .assert_success();
    assert!(!sd
        .run("test", &["-e", "/run/systemd/system/mzweb.service.d"])
        .status
        .success());
    assert_eq!(snapshot(&sd.etc), before);
}

/// `--user`: against a real user manager (root's, HOME in a scratch
/// directory), the drop-in goes in ~/.config/systemd/user, the running
/// service gets the shim, and the root-only shim rule does not apply; a
/// system unit with the same shim is refused.
#[test]
fn user_units_get_their_dropin_in_the_users_config() {
    require_booted_systemd!();
    let sd = BootedSystemd::boot(&[(
        "mzsys.service",
        "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 60\n",
    )]);
    let home = user_manager(
        &sd,
        "mzuser.service",
        "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 60\n",
    );
    let user_dir = home.join(".config/systemd/user");
    // A shim in a directory anyone can write to: fine for your own
    // services, refused for system ones (they run as root).
    let open = sd.dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let shim = open.join("libmptcpize.so");
    std::fs::copy(mptcpize_tests::shim(), &shim).unwrap();
    let shim = shim.to_str().unwrap();

    let before = snapshot(&home);
    let user = |args: &[&str]| as_user(&sd, &home, launcher(), args);
    user(&["enable", "--user", "--now", "--shim", shim, "mzuser"]).assert_success();
    let text = std::fs::read_to_string(user_dir.join("mzuser.service.d/90-mptcpize.conf")).unwrap();
    assert!(text.contains(&format!("LD_PRELOAD={shim}")), "{text}");
    let status = user(&["status", "--user", "mzuser"]);
    assert!(status.stdout.contains("mzuser.service: active"), "{status}");
    assert!(status.stdout.contains("shim mapped"), "{status}");

    let out = sd.mptcpize(&["enable", "--shim", shim, "mzsys"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("is writable by others"), "{out}");
    assert!(!sd.etc.join("mzsys.service.d").exists());

    user(&["disable", "--user", "--now", "mzuser"]).assert_success();
    assert_eq!(
        snapshot(&home),
        before,
        "disable --user left something behind"
    );
    let status = user(&["status", "--user", "mzuser"]);
    assert_eq!(status.code(), 3, "{status}");
}

/// Issue 16 on the real systemd: a static busybox httpd service gets an
/// MPTCP listener after `enable --now` (seccomp mode, the supervisor in the
/// unit), a client under `mptcpize-rs run` negotiates MPTCP with it, and
/// `disable --now` brings TCP back; a Type=notify service wrapped this way
/// reaches active; a SystemCallFilter= without seccomp() really stops
/// seccomp mode (which is why enable refuses such units).
#[test]
fn a_static_service_gets_mptcp_through_seccomp_mode() {
    require_booted_systemd!();
    require_program!("curl");
    require_program!("python3");
    assert!(
        std::path::Path::new("/bin/busybox").exists() || mptcpize_tests::require::in_ci(),
        "busybox-static is not installed"
    );
    let data_dir = ScratchDir::new();
    let blob = mptcpize_tests::write_pattern(&data_dir.join("blob"), 500_000);
    let launcher = launcher();
    let notify = String::from(
        "[Unit]\nDefaultDependencies=no\n[Service]\nType=notify\nTimeoutStartSec=20\n\
         ExecStart=/usr/bin/python3 -c \"import os,socket,time; a=os.environ['NOTIFY_SOCKET']; \
         s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); \
         s.connect('\\\\0'+a[1:] if a[0]=='@' else a); s.send(b'READY=1'); time.sleep(120)\"\n",
    );
    let sandboxed = format!(
        "[Unit]\nDefaultDependencies=no\n[Service]\nSystemCallFilter=@system-service\n\
         ExecStart={} run --mode seccomp -- /bin/busybox sleep 60\n",
        launcher.display()
    );
    let sd = BootedSystemd::boot(&[
        (
            "mzstatic.service",
            &format!(
                "[Unit]\nDefaultDependencies=no\n[Service]\n\
                 ExecStart=/bin/busybox httpd -f -p 127.0.0.1:{PORT} -h {}\n",
                data_dir.path().display()
            ),
        ),
        ("mznotify.service", &notify),
        ("mzsandboxed.service", &sandboxed),
        (
            "mzfork.service",
            &format!(
                "[Unit]\nDefaultDependencies=no\n[Service]\nType=forking\nPIDFile=/run/mzfork.pid\n\
                 ExecStart=/bin/busybox sh -c '/bin/busybox httpd -f -p 127.0.0.1:8082 -h {} & echo $! > /run/mzfork.pid'\n",
                data_dir.path().display()
            ),
        ),
    ]);
    sd.systemctl(&["start", "mzstatic.service"]);
    wait_listener(&sd, &["-ltn"]);
    assert!(!mptcp_listeners(&sd).contains(PORT), "MPTCP before enable");
    let etc_before = snapshot(&sd.etc);

    let out = sd.mptcpize(&["enable", "--now", "mzstatic"]);
    out.assert_success();
    assert!(
        out.stdout
            .contains("/bin/busybox: seccomp (/bin/busybox is statically linked"),
        "{out}"
    );
    wait_listener(&sd, &["-Mln"]);
    let status = sd.mptcpize(&["status", "mzstatic"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status.stdout.contains("mzstatic.service: active"),
        "{status}"
    );
    assert!(status.stdout.contains("supervisor: running"), "{status}");
    assert!(
        status
            .stdout
            .contains(&format!("listening: 127.0.0.1:{PORT} MPTCP")),
        "{status}"
    );
    let listing = sd.mptcpize(&["status"]);
    assert!(
        listing.stdout.contains("seccomp supervisor running"),
        "{listing}"
    );

    let handshakes = sd.watch(MP_CAPABLE_SYN_RX);
    assert_eq!(fetch(&sd), blob, "the file arrived damaged");
    handshakes.assert_grew_by(
        1,
        "the MPTCP listener saw no MP_CAPABLE SYN from the client",
    );

    sd.mptcpize(&["disable", "--now", "mzstatic"])
        .assert_success();
    assert_eq!(
        snapshot(&sd.etc),
        etc_before,
        "disable left something behind"
    );
    wait_listener(&sd, &["-ltn"]);
    assert!(
        !mptcp_listeners(&sd).contains(PORT),
        "still MPTCP after disable"
    );
    let status = sd.mptcpize(&["status", "mzstatic"]);
    assert!(
        status
            .stdout
            .contains(&format!("listening: 127.0.0.1:{PORT} TCP")),
        "{status}"
    );

    // Type=notify, wrapped: the notification comes from the program, which
    // the launcher executes in its own place: the main process, as before
    // (NotifyAccess= left as the unit has it).
    let out = sd.mptcpize(&["enable", "--mode", "seccomp", "--now", "mznotify"]);
    out.assert_success();
    let state = sd.systemctl(&["show", "-p", "ActiveState,NotifyAccess", "mznotify.service"]);
    assert!(
        state.contains("ActiveState=active") && state.contains("NotifyAccess=main"),
        "{state}"
    );
    sd.mptcpize(&["disable", "--now", "mznotify"])
        .assert_success();

    // Type=forking with PIDFile=: the launcher exits with the shell's
    // status, systemd takes the daemon from the PID file, and the
    // supervisor keeps serving it: its listener is MPTCP.
    sd.mptcpize(&["enable", "--now", "mzfork"]).assert_success();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !mptcp_listeners(&sd).contains("127.0.0.1:8082") {
        assert!(
            Instant::now() < deadline,
            "no MPTCP listener of the forking service:\n{}",
            mptcp_listeners(&sd)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let state = sd.systemctl(&["show", "-p", "ActiveState,MainPID", "mzfork.service"]);
    let from_file = sd.run("cat", &["/run/mzfork.pid"]).stdout;
    assert!(
        state.contains("ActiveState=active")
            && state.contains(&format!("MainPID={}", from_file.trim())),
        "{state} (PID file: {from_file})"
    );
    let status = sd.mptcpize(&["status", "mzfork"]);
    assert!(
        status.stdout.contains("listening: 127.0.0.1:8082 MPTCP"),
        "{status}"
    );
    sd.mptcpize(&["disable", "--now", "mzfork"])
        .assert_success();

    // What enable refuses: SystemCallFilter=@system-service really stops
    // seccomp mode (the unit runs the launcher itself here).
    let _ = sd.run("systemctl", &["start", "mzsandboxed.service"]);
    std::thread::sleep(Duration::from_millis(500));
    let state = sd.systemctl(&["show", "-p", "ActiveState,Result", "mzsandboxed.service"]);
    assert!(
        !state.contains("ActiveState=active") && state.contains("Result=signal"),
        "seccomp mode ran despite the filter: {state}"
    );
}

/// Starts root's user manager in `sd` with HOME in a scratch directory
/// holding the target it boots and the user unit `name` (`text`); returns
/// that HOME.
fn user_manager(sd: &BootedSystemd, name: &str, text: &str) -> PathBuf {
    let home = sd.dir.join("home");
    let user_dir = home.join(".config/systemd/user");
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::write(
        user_dir.join("mptcpize-test.target"),
        "[Unit]\nDefaultDependencies=no\n",
    )
    .unwrap();
    std::fs::write(user_dir.join(name), text).unwrap();
    sd.start_user_manager(&home);
    home
}

/// Runs `program ARGS…` in `sd` as the user manager's user does.
fn as_user(
    sd: &BootedSystemd,
    home: &Path,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
) -> mptcpize_tests::Output {
    let mut cmd = sd.user_cmd(home, program);
    cmd.args(args);
    mptcpize_tests::proc::run(cmd, Duration::from_secs(60))
}

/// The pids in `top --once --json` output.
fn top_pids(out: &mptcpize_tests::Output) -> Vec<u64> {
    out.assert_success();
    let conns: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("top --json printed no JSON ({e}):\n{out}"));
    let mut pids: Vec<u64> = conns
        .as_array()
        .unwrap_or_else(|| panic!("not an array:\n{out}"))
        .iter()
        .map(|c| c["pid"].as_u64().expect("pid"))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// `top --user --unit`: a service of a real user manager (root's) holding
/// MPTCP connections is picked by its control group under the user
/// manager's, and a process outside it holding connections too is left
/// out; without `--user` the system manager has no such unit.
#[test]
fn top_user_unit_shows_the_user_services_connections_only() {
    require_booted_systemd!();
    let sd = BootedSystemd::boot(&[]);
    // hold keeps its connections until its stdin closes: a pipe from sleep.
    let hold = mptcpize_tests::bin("hold");
    let unit = format!(
        "[Unit]\nDefaultDependencies=no\n[Service]\n\
         ExecStart=/bin/sh -c 'sleep 600 | exec {} run {} 3'\n",
        launcher().display(),
        hold.display()
    );
    let home = user_manager(&sd, "mzhold.service", &unit);
    let user = |args: &[&str]| as_user(&sd, &home, launcher(), args);
    as_user(
        &sd,
        &home,
        "systemctl",
        &["--user", "start", "mzhold.service"],
    )
    .assert_success();
    // Another process with MPTCP connections, outside the unit.
    let mut outside = sd.cmd(launcher());
    outside.arg("run").arg(&hold).arg("2");
    let mut outside =
        mptcpize_tests::Child::spawn_with_stdin(outside, std::process::Stdio::piped());
    outside.wait_for_line("holding 2 connections", Duration::from_secs(30));

    // Both hold processes are seen without a filter (once the unit's has
    // connected).
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let pids = top_pids(&sd.mptcpize(&["top", "--once", "--json"]));
        if pids.len() >= 2 || Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        all.len(),
        2,
        "not two processes holding connections: {all:?}"
    );
    let unit = top_pids(&user(&[
        "top", "--once", "--json", "--user", "--unit", "mzhold",
    ]));
    assert_eq!(unit.len(), 1, "{unit:?} of {all:?}");
    let cgroup = sd
        .run("cat", &[&format!("/proc/{}/cgroup", unit[0])])
        .stdout;
    // The user manager runs as mptcpize-test-user.service here (on a host:
    // user@UID.service); its unit's cgroup is below it.
    assert!(
        cgroup.contains("/mptcpize-test-user.service/app.slice/mzhold.service\n"),
        "top --user --unit picked a process outside the unit: {cgroup}"
    );

    let out = user(&["top", "--once", "--json", "--unit", "mzhold"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr.contains("mzhold.service is not running"),
        "{out}"
    );
}
