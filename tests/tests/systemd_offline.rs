//! `mptcpize-rs enable|disable|status --root`: the drop-ins written into an
//! offline image, what they carry over from the unit, idempotence, `disable`
//! restoring the tree byte for byte, and every refusal leaving the tree as
//! it was. The images are made of real unit files under target/; the shim
//! security rule needs root-owned files, so these tests run as root.

use mptcpize_tests::proc::Output;
use mptcpize_tests::systemd::{snapshot, Image, IMAGE_SHIM};
use mptcpize_tests::{require_program, require_root};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

/// Runs `sh -c "SETUP; exec mptcpize-rs ARGS… --root IMAGE"`.
fn mptcpize_after(img: &Image, setup: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{setup}\nexec \"$0\" \"$@\""))
        .arg(mptcpize_tests::launcher())
        .args(args)
        .arg("--root")
        .arg(img.root());
    mptcpize_tests::proc::run(cmd, Duration::from_secs(30))
}

/// `--root` never resolves outside the image: an absolute symlink as
/// etc/systemd/system, an absolute symlink as the unit file, both naming a
/// host directory that exists, are taken inside the image; the host
/// directory stays as it was.
#[test]
fn absolute_symlinks_in_an_image_stay_inside_it() {
    require_root!();
    let img = Image::new(Some(252));
    let host = mptcpize_tests::artifacts::ScratchDir::new();
    let host_dir = host.path().to_str().unwrap().to_string();
    // On the host, a unit of the same name the link names.
    std::fs::write(
        host.join("app.service"),
        "[Service]\nEnvironment=LD_PRELOAD=/host.so\nExecStart=/bin/true\n",
    )
    .unwrap();
    // In the image: etc/systemd/system -> HOST_DIR (absolute) and the unit
    // file a symlink to HOST_DIR/app.service, which the image has too.
    std::fs::remove_dir(img.dir.join("etc/systemd/system")).unwrap();
    img.symlink(&host_dir, "etc/systemd/system");
    img.write(
        &format!("{}/app.service", &host_dir[1..]),
        "[Service]\nEnvironment=LD_PRELOAD=/inside.so\nExecStart=/bin/true\n",
    );
    img.symlink(
        &format!("{host_dir}/app.service"),
        "usr/lib/systemd/system/app.service",
    );
    let host_before = snapshot(host.path());

    let out = img.mptcpize(&["enable", "app"]);
    out.assert_success();
    assert_eq!(
        snapshot(host.path()),
        host_before,
        "wrote outside the image:\n{out}"
    );
    let inside = format!("{}/app.service.d/{DROPIN}", &host_dir[1..]);
    let text = img.read(&inside);
    assert!(
        text.contains(&format!("LD_PRELOAD=/inside.so:{IMAGE_SHIM}")),
        "read the host's unit instead of the image's:\n{text}"
    );
    let status = img.mptcpize(&["status", "app"]);
    assert_eq!(status.code(), 0, "{status}");
    img.mptcpize(&["disable", "app"]).assert_success();
    assert!(!img.dir.join(&inside).exists());
    assert_eq!(snapshot(host.path()), host_before);
}

/// The shim's ownership check follows a relative symlink to where it leads
/// and checks the directories there: a root-owned shim in a user's
/// directory is refused.
#[test]
fn a_shim_reached_through_a_symlink_into_a_users_directory_is_refused() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    img.write("home/u/libmptcpize.so", "not really");
    std::os::unix::fs::chown(img.dir.join("home/u"), Some(1000), Some(1000)).unwrap();
    img.symlink("../../home/u/libmptcpize.so", "opt/lib/libmptcpize.so");
    let before = img.snapshot();
    let out = img.mptcpize(&["enable", "--shim", "/opt/lib/libmptcpize.so", "web"]);
    assert_refused(&out, "/home/u (a directory above the shim's real path /home/u/libmptcpize.so) is owned by uid 1000");
    assert_eq!(img.snapshot(), before);
}

/// An admin's edit of our drop-in is never lost: enable and disable refuse
/// (one line, a way forward), --force replaces or removes it.
#[test]
fn an_edited_dropin_is_kept_unless_forced() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    let pristine = img.snapshot();
    img.mptcpize(&["enable", "web"]).assert_success();
    let ours = img.read(&dropin("web.service"));
    img.write(
        &dropin("web.service"),
        &format!("{ours}Environment=ADMIN=1\n"),
    );
    let edited = img.snapshot();
    for args in [
        &["enable", "web"][..],
        &["disable", "web"],
        &["enable", "--dry-run", "web"],
    ] {
        let out = img.mptcpize(args);
        assert_refused(&out, "was edited since mptcpize-rs wrote it");
        assert!(out.stderr.contains("--force"), "{out}");
        assert_eq!(
            img.snapshot(),
            edited,
            "{args:?} touched the edited drop-in"
        );
    }
    let status = img.mptcpize(&["status", "web"]);
    assert!(
        status.stdout.contains("edited since mptcpize-rs wrote it"),
        "{status}"
    );
    img.mptcpize(&["enable", "--force", "web"]).assert_success();
    assert_eq!(img.read(&dropin("web.service")), ours);
    img.write(
        &dropin("web.service"),
        &format!("{ours}Environment=ADMIN=1\n"),
    );
    img.mptcpize(&["disable", "--force", "web"])
        .assert_success();
    assert_eq!(img.snapshot(), pristine);
}

/// When one of several drop-ins cannot be written (a read-only socket .d
/// directory), the ones written are rolled back: nothing changed. And
/// `status` reports the socket drop-in only when it is on disk.
#[test]
fn enable_is_all_or_nothing_and_status_reports_only_what_is_on_disk() {
    require_root!();
    require_program!("unshare");
    let img = Image::new(Some(257));
    img.unit("echo.service", "[Service]\nExecStart=/usr/bin/echod\n");
    img.unit("echo.socket", "[Socket]\nListenStream=7\n");
    std::fs::create_dir_all(img.dir.join("etc/systemd/system/echo.socket.d")).unwrap();
    let before = img.snapshot();
    let ro = img.dir.join("etc/systemd/system/echo.socket.d");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && shift && exec \"$@\"",
        )
        .arg("sh")
        .arg(&ro)
        .arg(mptcpize_tests::launcher())
        .args(["enable", "echo", "--root"])
        .arg(img.root());
    let out = mptcpize_tests::proc::run(cmd, Duration::from_secs(30));
    assert_refused(&out, "nothing was changed");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    assert_eq!(img.snapshot(), before, "a drop-in was left half-done");

    img.mptcpize(&["enable", "echo"]).assert_success();
    let status = img.mptcpize(&["status", "echo"]);
    assert!(
        status
            .stdout
            .contains("socket echo.socket: SocketProtocol=mptcp"),
        "{status}"
    );
    std::fs::remove_file(img.dir.join(dropin("echo.socket"))).unwrap();
    let status = img.mptcpize(&["status", "echo"]);
    assert!(
        !status.stdout.contains("SocketProtocol=mptcp\n"),
        "{status}"
    );
    assert!(
        status
            .stdout
            .contains("socket echo.socket: our SocketProtocol=mptcp drop-in is MISSING"),
        "{status}"
    );
}

/// Prefix drop-ins (`app-.service.d/`) are the unit's own: an LD_PRELOAD
/// there is kept before the shim.
#[test]
fn prefix_dropins_are_read_like_the_units_own() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("app-web.service", "[Service]\nExecStart=/bin/true\n");
    img.write(
        "usr/lib/systemd/system/app-.service.d/10-jemalloc.conf",
        "[Service]\nEnvironment=LD_PRELOAD=/usr/lib/libjemalloc.so\n",
    );
    img.mptcpize(&["enable", "app-web"]).assert_success();
    let text = img.read(&dropin("app-web.service"));
    assert!(
        text.contains(&format!(
            "LD_PRELOAD=/usr/lib/libjemalloc.so:{IMAGE_SHIM}\""
        )),
        "{text}"
    );
}

/// `UnsetEnvironment=LD_PRELOAD` in the unit would stop the shim: named,
/// refused, nothing written.
#[test]
fn unset_environment_of_ld_preload_is_named_and_refused() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit(
        "web.service",
        "[Service]\nUnsetEnvironment=TERM LD_PRELOAD\nExecStart=/bin/true\n",
    );
    let before = img.snapshot();
    let out = img.mptcpize(&["enable", "web"]);
    assert_refused(&out, "web.service has UnsetEnvironment=LD_PRELOAD (in ");
    assert!(
        out.stderr.contains("usr/lib/systemd/system/web.service"),
        "{out}"
    );
    assert_eq!(img.snapshot(), before);
}

/// New directories are 0755 whatever the umask (a 0700 `.d` would hide the
/// drop-in from nobody, but makes `ls` and audits fail).
#[test]
fn new_directories_are_0755_whatever_the_umask() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit("web.service", WEB);
    std::fs::remove_dir_all(img.dir.join("etc/systemd")).unwrap();
    mptcpize_after(&img, "umask 077", &["enable", "web"]).assert_success();
    for d in [
        "etc/systemd",
        "etc/systemd/system",
        "etc/systemd/system/web.service.d",
    ] {
        let mode = std::fs::metadata(img.dir.join(d)).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{d}");
    }
    let meta = std::fs::metadata(img.dir.join(dropin("web.service"))).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o644);
}

/// `status foo@bar.service` sees the drop-in `enable foo@.service` wrote.
#[test]
fn an_instance_reports_its_templates_dropin() {
    require_root!();
    let img = Image::new(Some(252));
    img.unit(
        "worker@.service",
        "[Service]\nExecStart=/usr/bin/worker %i\n",
    );
    img.mptcpize(&["enable", "worker@.service"])
        .assert_success();
    let status = img.mptcpize(&["status", "worker@eth1.service"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status
            .stdout
            .contains("through the template worker@.service"),
        "{status}"
    );
    let out = img.mptcpize(&["disable", "worker@eth1"]);
    out.assert_success();
    assert!(
        out.stdout.contains("mptcpize-rs disable worker@.service"),
        "{out}"
    );
}

/// A full stdout does not stop enable half-way: every drop-in is written.
#[test]
fn enable_finishes_with_a_full_stdout() {
    require_root!();
    let img = Image::new(Some(257));
    img.unit("echo.service", "[Service]\nExecStart=/usr/bin/echod\n");
    img.unit("echo.socket", "[Socket]\nListenStream=7\n");
    let out = mptcpize_after(&img, "exec >/dev/full", &["enable", "echo"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(img.dir.join(dropin("echo.service")).exists());
    assert!(img.dir.join(dropin("echo.socket")).exists());
    // status's output is its product: a write error is one line and 1.
    let out = mptcpize_after(&img, "exec >/dev/full", &["status", "echo"]);
    assert_refused(&out, "cannot write the output: No space left on device");
}

/// `status` without UNIT lists every unit enabled by mptcpize-rs, one line
/// each; several units at once; `--json`.
#[test]
fn status_lists_every_enabled_unit() {
    require_root!();
    let img = Image::new(Some(252));
    for u in ["a.service", "b.service", "c.service", "plain.service"] {
        img.unit(u, WEB);
    }
    let out = img.mptcpize(&["status"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("no unit is enabled"), "{out}");
    img.mptcpize(&["enable", "a"]).assert_success();
    img.mptcpize(&["enable", "b"]).assert_success();
    img.mptcpize(&["enable", "--runtime", "c"]).assert_success();

    let out = img.mptcpize(&["status"]);
    assert_eq!(out.code(), 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, unit) in lines.iter().zip(["a.service", "b.service", "c.service"]) {
        assert!(line.starts_with(unit) && line.contains("enabled"), "{out}");
    }

    let out = img.mptcpize(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    let units: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit"].as_str().unwrap())
        .collect();
    assert_eq!(units, ["a.service", "b.service", "c.service"]);
    assert!(json[2]["dropin"]
        .as_str()
        .unwrap()
        .contains("run/systemd/system/c.service.d"));
    assert_eq!(json[0]["shim"], IMAGE_SHIM);

    let out = img.mptcpize(&["status", "a", "plain", "--json"]);
    assert_eq!(out.code(), 3, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json[0]["enabled"], true);
    assert_eq!(json[1]["enabled"], false);
    let out = img.mptcpize(&["status", "a", "b"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("a.service: enabled") && out.stdout.contains("b.service: enabled"),
        "{out}"
    );
}

/// A `--root` the user may not enter is "permission denied", not "no such
/// directory".
#[test]
fn an_image_nobody_may_enter_is_permission_denied() {
    require_root!();
    let img = Image::new(Some(252));
    let locked = mptcpize_tests::artifacts::ScratchDir::new();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(mptcpize_tests::launcher())
        .args(["status", "web", "--root"])
        .arg(locked.join("image"));
    let out = mptcpize_tests::proc::run(cmd, Duration::from_secs(30));
    assert_refused(&out, "permission denied");
    drop(img);
}

/// Where the image has the launcher (`bin/` beside the shim's `lib/`).
const IMAGE_LAUNCHER: &str = "/usr/local/bin/mptcpize-rs";

/// An image with the launcher installed and real programs: a static
/// busybox, a Go 1.19 program, a dynamic `true`.
fn image_with_programs() -> Image {
    let img = Image::new(Some(252));
    let install = |from: &std::path::Path, to: &str| {
        let dest = img.dir.join(&to[1..]);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from, &dest).unwrap();
        img.chmod(&to[1..], 0o755);
    };
    install(&mptcpize_tests::launcher(), IMAGE_LAUNCHER);
    install(std::path::Path::new("/bin/busybox"), "/usr/bin/busybox");
    install(std::path::Path::new("/bin/true"), "/usr/bin/true");
    install(
        &mptcpize_tests::gobuild::go_program("gonet"),
        "/usr/bin/gonet",
    );
    img
}

fn wrapped(line: &str) -> String {
    format!("{IMAGE_LAUNCHER} run --mode seccomp -- {line}")
}

/// Issue 16: each ExecStart= program judged as `run` judges PROG; static
/// and old-Go services get their command lines wrapped (prefixes,
/// specifiers, variables kept; every line of a oneshot; Type=notify left
/// as it is, the program keeping the main pid); a dynamic one keeps the preload drop-in; drift is
/// seen and refreshed; disable restores the tree byte for byte.
#[test]
fn static_and_old_go_services_are_wrapped_in_seccomp_mode() {
    require_root!();
    require_program!("go");
    let img = image_with_programs();
    img.unit(
        "httpd.service",
        "[Service]\nType=notify\nExecStart=-:/usr/bin/busybox httpd -f -p ${PORT} -h /srv/%i\n",
    );
    img.unit("go.service", "[Service]\nExecStart=/usr/bin/gonet serve\n");
    img.unit("dyn.service", "[Service]\nExecStart=/usr/bin/true\n");
    img.unit(
        "batch.service",
        "[Service]\nType=oneshot\nExecStart=/usr/bin/true\nExecStart=+busybox echo \"a b\"\n",
    );
    let before = img.snapshot();

    // --mode preload on a static program: refused, unless --force.
    let out = img.mptcpize(&["enable", "--mode", "preload", "httpd"]);
    assert_refused(&out, "statically linked");
    assert!(
        out.stderr.contains("would stay TCP under --mode preload"),
        "{out}"
    );
    assert_eq!(img.snapshot(), before);
    img.mptcpize(&["enable", "--mode", "preload", "--force", "httpd"])
        .assert_success();
    assert!(img.read(&dropin("httpd.service")).contains("LD_PRELOAD="));
    img.mptcpize(&["disable", "httpd"]).assert_success();
    assert_eq!(img.snapshot(), before);

    let out = img.mptcpize(&["enable", "httpd"]);
    out.assert_success();
    assert!(
        out.stdout.contains(
            "httpd.service: /usr/bin/busybox: seccomp (/usr/bin/busybox is statically linked"
        ),
        "{out}"
    );
    let text = img.read(&dropin("httpd.service"));
    assert!(
        text.contains(&format!(
            "[Service]\nExecStart=\nExecStart=-:{}\n",
            wrapped("/usr/bin/busybox httpd -f -p ${PORT} -h /srv/%i")
        )),
        "{text}"
    );
    assert!(
        !text.contains("NotifyAccess") && !text.contains("Environment="),
        "{text}"
    );

    let out = img.mptcpize(&["enable", "go"]);
    out.assert_success();
    assert!(out.stdout.contains("Go before 1.21"), "{out}");
    let text = img.read(&dropin("go.service"));
    assert!(
        text.contains(&format!("ExecStart={}\n", wrapped("/usr/bin/gonet serve"))),
        "{text}"
    );
    assert!(!text.contains("NotifyAccess"), "{text}");

    let out = img.mptcpize(&["enable", "dyn"]);
    out.assert_success();
    assert!(
        out.stdout
            .contains("/usr/bin/true: preload (/usr/bin/true is dynamically linked"),
        "{out}"
    );
    assert!(img.read(&dropin("dyn.service")).contains("LD_PRELOAD="));

    // An admin's drop-in applied after ours that sets ExecStart= would win:
    // said plainly.
    img.write(
        "etc/systemd/system/batch.service.d/99-local.conf",
        "[Service]\nExecStart=/usr/bin/busybox echo local\n",
    );
    let out = img.mptcpize(&["enable", "batch"]);
    out.assert_success();
    assert!(
        out.stderr
            .contains("99-local.conf sets ExecStart= and is applied after our 90-mptcpize.conf"),
        "{out}"
    );
    img.mptcpize(&["disable", "batch"]).assert_success();
    std::fs::remove_dir_all(img.dir.join("etc/systemd/system/batch.service.d")).unwrap();
    img.mptcpize(&["enable", "batch"]).assert_success();
    let text = img.read(&dropin("batch.service"));
    assert!(
        text.contains(&format!(
            "ExecStart=\nExecStart={}\nExecStart=+{}\n",
            wrapped("/usr/bin/true"),
            wrapped("busybox echo \"a b\"")
        )),
        "{text}"
    );

    // Drift: a package upgrade changes ExecStart=; status says stale, and
    // enable refreshes the wrapper.
    let status = img.mptcpize(&["status", "go"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status.stdout.contains("mode: seccomp") && !status.stdout.contains("stale"),
        "{status}"
    );
    img.unit(
        "go.service",
        "[Service]\nExecStart=/usr/bin/gonet serve --port 81\n",
    );
    let status = img.mptcpize(&["status", "go"]);
    assert!(
        status
            .stdout
            .contains("stale: the unit's ExecStart= changed"),
        "{status}"
    );
    let listing = img.mptcpize(&["status"]);
    assert!(
        listing.stdout.contains("go.service") && listing.stdout.contains("stale"),
        "{listing}"
    );
    img.mptcpize(&["enable", "go"]).assert_success();
    assert!(img
        .read(&dropin("go.service"))
        .contains(&wrapped("/usr/bin/gonet serve --port 81")));
    assert!(!img.mptcpize(&["status", "go"]).stdout.contains("stale"));
    img.unit("go.service", "[Service]\nExecStart=/usr/bin/gonet serve\n");

    for u in ["httpd", "go", "dyn", "batch"] {
        img.mptcpize(&["disable", u]).assert_success();
    }
    assert_eq!(img.snapshot(), before, "disable did not restore the tree");
}

/// What seccomp mode cannot reach is refused in one line: a set-user-ID
/// program, one with file capabilities, a SystemCallFilter= that denies seccomp(), an @ prefix.
#[test]
fn what_seccomp_mode_cannot_reach_is_refused() {
    require_root!();
    require_program!("setcap");
    let img = image_with_programs();
    let suid = img.dir.join("usr/bin/suidbox");
    std::fs::copy("/bin/busybox", &suid).unwrap();
    img.chmod("usr/bin/suidbox", 0o4755);
    img.unit(
        "suid.service",
        "[Service]\nExecStart=/usr/bin/suidbox httpd -f\n",
    );
    let capbox = img.dir.join("usr/bin/capbox");
    std::fs::copy("/bin/busybox", &capbox).unwrap();
    let mut setcap = Command::new("setcap");
    setcap.arg("cap_net_bind_service+ep").arg(&capbox);
    mptcpize_tests::proc::run(setcap, Duration::from_secs(10)).assert_success();
    img.unit(
        "caps.service",
        "[Service]\nExecStart=/usr/bin/capbox httpd -f\n",
    );
    img.unit(
        "sandboxed.service",
        "[Service]\nSystemCallFilter=@system-service\nExecStart=/usr/bin/busybox httpd -f\n",
    );
    img.unit(
        "argv0.service",
        "[Service]\nExecStart=@/usr/bin/busybox httpd -f\n",
    );
    let before = img.snapshot();
    for (unit, what) in [
        ("suid", "/usr/bin/suidbox is set-user-ID"),
        ("caps", "/usr/bin/capbox is given file capabilities"),
        (
            "sandboxed",
            "SystemCallFilter=@system-service, which denies the seccomp() system call",
        ),
        ("argv0", "the @ prefix"),
    ] {
        assert_refused(&img.mptcpize(&["enable", unit]), what);
        assert_eq!(img.snapshot(), before, "{unit}");
    }
    // Allowing seccomp() in the unit's own drop-in lifts the refusal.
    img.write(
        "etc/systemd/system/sandboxed.service.d/50-allow.conf",
        "[Service]\nSystemCallFilter=seccomp\n",
    );
    img.mptcpize(&["enable", "sandboxed"]).assert_success();
}
