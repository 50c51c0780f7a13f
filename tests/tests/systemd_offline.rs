//! `mptcpize-rs enable|disable|status --root`: the drop-ins written into an
//! offline image, what they carry over from the unit, idempotence, `disable`
//! restoring the tree byte for byte, and every refusal leaving the tree as
//! it was. The images are made of real unit files under target/; the shim
//! security rule needs root-owned files, so these tests run as root.

use mptcpize_tests::proc::Output;
use mptcpize_tests::systemd::{snapshot, Image, IMAGE_SHIM};
use mptcpize_tests::{require_program, require_root};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

const DROPIN: &str = "90-mptcpize.conf";

fn dropin(unit: &str) -> String {
    format!("etc/systemd/system/{unit}.d/{DROPIN}")
}

/// Asserts a refusal: exit 1, one `mptcpize-rs: …` line containing `what`.
#[track_caller]
fn assert_refused(out: &Output, what: &str) {
    assert_eq!(out.code(), 1, "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{out}");
    assert!(lines[0].starts_with("mptcpize-rs: "), "{out}");
    assert!(lines[0].contains(what), "expected {what:?}:\n{out}");
}

const WEB: &str = "[Unit]\nDescription=web\n[Service]\nExecStart=/usr/bin/python3 -m http.server\n";

#[test]
fn plain_service_gets_a_dropin_and_disable_restores_the_tree_byte_for_byte() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    let before = img.snapshot();

    let out = img.mptcpize(&["enable", "web"]);
    out.assert_success();
    let text = img.read(&dropin("web.service"));
    assert!(
        text.contains(&format!(
            "[Service]\nEnvironment=\"LD_PRELOAD={IMAGE_SHIM}\"\nEnvironment=\"GODEBUG=multipathtcp=1\"\n"
        )),
        "{text}"
    );
    let meta = std::fs::metadata(img.dir.join(dropin("web.service"))).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o644);
    assert_eq!(
        img.read("usr/lib/systemd/system/web.service"),
        WEB,
        "the unit file was edited"
    );

    // Idempotent: the same bytes, nothing else written.
    let enabled = img.snapshot();
    let again = img.mptcpize(&["enable", "web.service"]);
    again.assert_success();
    assert!(again.stdout.contains("already enabled"), "{again}");
    assert_eq!(img.snapshot(), enabled);

    let status = img.mptcpize(&["status", "web"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status
            .stdout
            .contains(&format!("shim: {IMAGE_SHIM} (present)")),
        "{status}"
    );

    img.mptcpize(&["disable", "web"]).assert_success();
    assert_eq!(img.snapshot(), before, "disable did not restore the tree");
    let status = img.mptcpize(&["status", "web"]);
    assert_eq!(status.code(), 3, "{status}");
    assert!(status.stdout.contains("not enabled"), "{status}");
}

#[test]
fn existing_ld_preload_and_godebug_are_carried_over() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit(
        "app.service",
        "[Service]\nEnvironment=LD_PRELOAD=/opt/a.so \"GODEBUG=http2client=0\" KEEP=1\nExecStart=/bin/true\n",
    );
    // A packaged drop-in adds another preload after the unit's own.
    img.write(
        "usr/lib/systemd/system/app.service.d/10-jemalloc.conf",
        "[Service]\nEnvironment=\"LD_PRELOAD=/opt/a.so /usr/lib/libjemalloc.so\"\n",
    );
    let before = img.snapshot();
    img.mptcpize(&["enable", "app"]).assert_success();
    let text = img.read(&dropin("app.service"));
    assert!(
        text.contains(&format!(
            "Environment=\"LD_PRELOAD=/opt/a.so /usr/lib/libjemalloc.so:{IMAGE_SHIM}\"\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("Environment=\"GODEBUG=http2client=0,multipathtcp=1\"\n"),
        "{text}"
    );
    // Re-enabling reads the unit without our own drop-in: no doubling.
    img.mptcpize(&["enable", "app"]).assert_success();
    assert_eq!(img.read(&dropin("app.service")), text);
    img.mptcpize(&["disable", "app"]).assert_success();
    assert_eq!(img.snapshot(), before);
}

#[test]
fn a_users_multipathtcp_choice_is_kept_and_environment_files_are_warned_about() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit(
        "go.service",
        "[Service]\nEnvironment=GODEBUG=multipathtcp=0\nEnvironmentFile=/etc/default/go\nExecStart=/bin/true\n",
    );
    img.write("etc/default/go", "LD_PRELOAD=/opt/other.so\n");
    let out = img.mptcpize(&["enable", "go"]);
    out.assert_success();
    assert!(img
        .read(&dropin("go.service"))
        .contains("Environment=\"GODEBUG=multipathtcp=0\"\n"));
    assert!(
        out.stderr
            .contains("EnvironmentFile=/etc/default/go, which sets LD_PRELOAD"),
        "{out}"
    );
}

#[test]
fn template_instance_gets_its_own_dropin() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit(
        "worker@.service",
        "[Service]\nExecStart=/usr/bin/worker %i\n",
    );
    let before = img.snapshot();
    img.mptcpize(&["enable", "worker@eth1.service"])
        .assert_success();
    let text = img.read(&dropin("worker@eth1.service"));
    assert!(text.contains(&format!("LD_PRELOAD={IMAGE_SHIM}")), "{text}");
    assert!(!img
        .dir
        .join("etc/systemd/system/worker@.service.d")
        .exists());
    img.mptcpize(&["disable", "worker@eth1"]).assert_success();
    assert_eq!(img.snapshot(), before);

    // A path to the unit file names the unit too.
    let path = img.unit("web.service", WEB);
    img.mptcpize(&["enable", path.to_str().unwrap()])
        .assert_success();
    assert!(img.dir.join(dropin("web.service")).exists());
}

#[test]
fn socket_activated_service_on_systemd_252_keeps_a_tcp_listener_and_says_so() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("echo.service", "[Service]\nExecStart=/usr/bin/echod\n");
    img.unit(
        "echo.socket",
        "[Socket]\nListenStream=7\n[Install]\nWantedBy=sockets.target\n",
    );
    let before = img.snapshot();
    let out = img.mptcpize(&["enable", "echo.socket"]);
    out.assert_success();
    assert!(out.stdout.contains("started by echo.socket"), "{out}");
    assert!(out.stdout.contains("stays TCP"), "{out}");
    assert!(out.stdout.contains("this is systemd 252"), "{out}");
    assert!(img.dir.join(dropin("echo.service")).exists());
    assert!(!img.dir.join("etc/systemd/system/echo.socket.d").exists());
    img.mptcpize(&["disable", "echo"]).assert_success();
    assert_eq!(img.snapshot(), before);
}

#[test]
fn socket_activated_service_on_systemd_257_gets_socket_protocol_mptcp() {
    require_root!();
    let img = Image::new(Some(257));
    img.unit("echo.service", "[Service]\nExecStart=/usr/bin/echod\n");
    img.unit("echo.socket", "[Socket]\nListenStream=7\n");
    // Another socket starting the same service by Service=.
    img.unit(
        "echo-alt.socket",
        "[Socket]\nListenStream=8\nService=echo.service\n",
    );
    // A socket of the same name that starts another service is not ours.
    img.unit("other.service", "[Service]\nExecStart=/bin/true\n");
    let before = img.snapshot();
    img.mptcpize(&["enable", "echo"]).assert_success();
    for s in ["echo.socket", "echo-alt.socket"] {
        let text = img.read(&dropin(s));
        assert!(text.ends_with("[Socket]\nSocketProtocol=mptcp\n"), "{text}");
    }
    assert!(img.read(&dropin("echo.service")).contains("LD_PRELOAD="));
    img.mptcpize(&["disable", "echo"]).assert_success();
    assert_eq!(img.snapshot(), before);
}

#[test]
fn dry_run_prints_the_dropin_and_writes_nothing() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    let before = img.snapshot();
    let out = img.mptcpize(&["enable", "--dry-run", "web"]);
    out.assert_success();
    assert!(
        out.stdout.contains(&format!(
            "would write {}",
            img.dir.join(dropin("web.service")).display()
        )),
        "{out}"
    );
    assert!(
        out.stdout
            .contains(&format!("Environment=\"LD_PRELOAD={IMAGE_SHIM}\"")),
        "{out}"
    );
    assert_eq!(img.snapshot(), before);
    img.mptcpize(&["enable", "web"]).assert_success();
    let enabled = img.snapshot();
    let out = img.mptcpize(&["disable", "--dry-run", "web"]);
    out.assert_success();
    assert!(out.stdout.contains("would remove"), "{out}");
    assert_eq!(img.snapshot(), enabled);
}

/// Each refusal: exit 1, one line, nothing written.
#[test]
fn every_error_is_one_line_and_writes_nothing() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    img.unit("tick.timer", "[Timer]\nOnCalendar=daily\n");
    img.symlink("/dev/null", "etc/systemd/system/masked.service");
    img.write("home/u/libmptcpize.so", "not really");
    std::os::unix::fs::chown(
        img.dir.join("home/u/libmptcpize.so"),
        Some(1000),
        Some(1000),
    )
    .unwrap();
    img.write("opt/open/libmptcpize.so", "not really");
    img.chmod("opt/open", 0o777);
    let before = img.snapshot();

    let cases: &[(&[&str], &str)] = &[
        (&["enable", "nosuch"], "unit nosuch.service not found"),
        (&["enable", "tick.timer"], "neither a service nor a socket"),
        (&["enable", "masked"], "masked.service is masked"),
        (
            &["enable", "--shim", "/opt/none.so", "web"],
            "the shim /opt/none.so does not exist",
        ),
        (
            &["enable", "--shim", "/home/u/libmptcpize.so", "web"],
            "owned by uid 1000, not root",
        ),
        (
            &["enable", "--shim", "/opt/open/libmptcpize.so", "web"],
            "/opt/open (a directory above the shim) is writable by others",
        ),
        (
            &["enable", "--shim", "lib.so", "web"],
            "give an absolute path",
        ),
        (&["enable", "web;reboot"], "not a valid unit name"),
        (&["status", "nosuch"], "not found"),
    ];
    for (args, what) in cases {
        let out = img.mptcpize(args);
        assert_refused(&out, what);
        assert_eq!(img.snapshot(), before, "{args:?} changed the image");
    }

    // A symlink planted as the .d directory, or as the drop-in, is never
    // followed; a file of that name that is not ours is left alone.
    let elsewhere = img.dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    img.symlink(
        elsewhere.to_str().unwrap(),
        "etc/systemd/system/web.service.d",
    );
    let planted = img.snapshot();
    assert_refused(
        &img.mptcpize(&["enable", "web"]),
        "is a symlink or not a directory",
    );
    assert_eq!(img.snapshot(), planted);
    std::fs::remove_file(img.dir.join("etc/systemd/system/web.service.d")).unwrap();
    img.symlink("/etc/passwd", &dropin("web.service"));
    let planted = img.snapshot();
    assert_refused(&img.mptcpize(&["enable", "web"]), "never following it");
    assert_refused(&img.mptcpize(&["disable", "web"]), "never following it");
    assert_eq!(img.snapshot(), planted);
    std::fs::remove_file(img.dir.join(dropin("web.service"))).unwrap();
    img.write(&dropin("web.service"), "[Service]\nEnvironment=MINE=1\n");
    let planted = img.snapshot();
    assert_refused(
        &img.mptcpize(&["enable", "web"]),
        "was not written by mptcpize-rs",
    );
    assert_refused(
        &img.mptcpize(&["disable", "web"]),
        "was not written by mptcpize-rs",
    );
    assert_eq!(img.snapshot(), planted);
}

/// Runs `mptcpize-rs enable web --root IMAGE` as nobody. The image and a
/// copy of the launcher are bound into a private tmpfs on /mnt, in a mount
/// namespace of the command's own, so that what nobody may reach does not
/// depend on where the checkout lives (a clone under `mktemp -d` is in a
/// directory of mode 0700): the image is at /mnt/open/image, or, when
/// `hidden`, at /mnt/closed/image behind a mode 0700 that nobody cannot
/// search.
fn enable_as_nobody(img: &Image, hidden: bool) -> Output {
    let (dir, mode) = if hidden {
        ("/mnt/closed", "0700")
    } else {
        ("/mnt/open", "0755")
    };
    let script = r#"set -e
mount -t tmpfs -o mode=0755 mptcpize-test /mnt
mkdir -m "$3" "$2" "$2/image"
mount --bind "$1" "$2/image"
cp "$0" /mnt/mptcpize-rs
exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \
  /mnt/mptcpize-rs enable web --root "$2/image""#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
    ])
    .arg(mptcpize_tests::launcher())
    .arg(img.root())
    .arg(dir)
    .arg(mode);
    mptcpize_tests::proc::run(cmd, Duration::from_secs(30))
}

#[test]
fn no_permission_is_refused_without_writing() {
    require_root!();
    require_program!("unshare");
    require_program!("setpriv");
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    let before = img.snapshot();
    // nobody may read the image, not write in it.
    let out = enable_as_nobody(&img, false);
    assert_refused(
        &out,
        "no permission to write in /mnt/open/image/etc/systemd/system",
    );
    assert_eq!(img.snapshot(), before);
    // nobody may not even reach it: said as it is, not "no such directory".
    let out = enable_as_nobody(&img, true);
    assert_refused(&out, "--root /mnt/closed/image: permission denied");
    assert_eq!(img.snapshot(), before);
}

#[test]
fn without_a_running_systemd_it_suggests_root() {
    require_root!();
    // A private, empty /run: no systemd can be seen from there.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount -t tmpfs none /run && exec \"$0\" enable web")
        .arg(mptcpize_tests::launcher());
    let out = mptcpize_tests::proc::run(cmd, Duration::from_secs(30));
    assert_refused(&out, "no running systemd here");
    assert!(out.stderr.contains("--root DIR"), "{out}");
}

#[test]
fn user_and_root_do_not_mix() {
    let img = Image::new(None);
    let out = img.mptcpize(&["enable", "--user", "web"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(snapshot(img.root())
        .keys()
        .all(|p| !p.starts_with("etc/systemd/system/web.service.d")));
}

#[test]
fn a_dropin_directory_of_the_users_is_kept_and_a_later_override_is_warned_about() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    // `systemctl edit` made this one; it sorts after ours and sets LD_PRELOAD.
    img.write(
        "etc/systemd/system/web.service.d/override.conf",
        "[Service]\nEnvironment=LD_PRELOAD=/opt/debug.so\n",
    );
    let before = img.snapshot();
    let out = img.mptcpize(&["enable", "web"]);
    out.assert_success();
    assert!(
        out.stderr
            .contains("override.conf sets LD_PRELOAD and is applied after our 90-mptcpize.conf"),
        "{out}"
    );
    let text = img.read(&dropin("web.service"));
    assert!(
        text.contains(&format!("LD_PRELOAD=/opt/debug.so:{IMAGE_SHIM}")),
        "{text}"
    );
    assert!(!text.contains("created-dir"), "{text}");
    img.mptcpize(&["disable", "web"]).assert_success();
    assert_eq!(
        img.snapshot(),
        before,
        "the user's directory or file was touched"
    );
}
