//! The three programs of issue 15 that a refused socket option broke, each
//! with both ends under `mptcpize-rs run` in the two namespaces of a
//! testbed: `dig +tcp` (TCP_USER_TIMEOUT before connecting) against named,
//! bird2 with two BGP peers (IP_TTL, and TCP_MD5SIG with a password), and
//! vsftpd (SO_OOBINLINE on the accepted control connection) with curl in
//! passive and active mode. Each test checks what a user would: the
//! answers, the routes, the bytes, and which connections were MPTCP.

use mptcpize_tests::artifacts::ScratchDir;
use mptcpize_tests::proc::{run, Child, Output};
use mptcpize_tests::{require_program, require_root_mptcp, Netns, Testbed};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

/// `mptcpize-rs run FLAGS -- PROG ARGS…` in `ns`.
fn under_tool(ns: &Netns, flags: &[&str], prog: &str, args: &[&str]) -> Command {
    let mut cmd = ns.mptcpize(&["run"]);
    cmd.args(flags).arg("--").arg(prog).args(args);
    cmd
}

/// Waits until something in `ns` listens on TCP `port`; the `ss -Mltn`
/// line when that listener is MPTCP, or `None`.
fn wait_listening(ns: &Netns, port: u16, server: &mut Child) -> Option<String> {
    let deadline = Instant::now() + T;
    let filter = format!("sport = :{port}");
    while ns.ss(&["-Hltn", &filter]).trim().is_empty() {
        if let Some(status) = server.try_status() {
            let (out, err) = server.output_so_far();
            panic!("server exited ({status}) before listening on {port}:\n{out}{err}");
        }
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mptcp = ns.ss(&["-HMltn", &filter]);
    (!mptcp.trim().is_empty()).then_some(mptcp)
}

/// MP_CAPABLE connections each side accepted and opened so far.
fn handshakes(ns: &Netns) -> (u64, u64) {
    let c = ns.counters();
    let get = |n: &str| c.get(n).copied().unwrap_or(0);
    (
        get("MPTcpExtMPCapableSYNRX"),
        get("MPTcpExtMPCapableSYNACKRX"),
    )
}

// ---------------------------------------------------------------- dig

const ZONE: &str = "$TTL 300
@   IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@   IN NS  ns.example.test.
ns  IN A   10.231.0.2
www IN A   192.0.2.80
";

/// A TXT RRset of 40 records of 200 bytes: an 8 KiB answer, more than
/// one segment.
fn big_rrset() -> Vec<String> {
    (0..40)
        .map(|i| format!("{i:02}-{}", "x".repeat(197)))
        .collect()
}

#[test]
fn dig_over_tcp_gets_its_answers_from_named_and_strict_options_brings_the_abort_back() {
    require_root_mptcp!();
    require_program!("named");
    require_program!("dig");
    let bed = Testbed::new(1);
    let dir = ScratchDir::new();
    let mut zone = ZONE.to_string();
    for txt in big_rrset() {
        zone.push_str(&format!("big IN TXT \"{txt}\"\n"));
    }
    std::fs::write(dir.join("db.example"), zone).unwrap();
    let conf = format!(
        "options {{
  directory \"{d}\";
  listen-on port 53 {{ 10.231.0.2; }};
  listen-on-v6 {{ none; }};
  recursion no;
  pid-file none;
  session-keyfile none;
  dnssec-validation no;
}};
zone \"example.test\" {{ type primary; file \"{d}/db.example\"; }};
",
        d = dir.path().display()
    );
    std::fs::write(dir.join("named.conf"), conf).unwrap();
    let named_conf = dir.join("named.conf");
    let mut named = Child::spawn(under_tool(
        &bed.server,
        &[],
        "named",
        &["-g", "-n", "1", "-c", named_conf.to_str().unwrap()],
    ));
    let listener = wait_listening(&bed.server, 53, &mut named);
    assert!(listener.is_some(), "named's TCP listener is not MPTCP");

    let dig = |flags: &[&str], name: &str, ty: &str| -> Output {
        run(
            under_tool(
                &bed.client,
                flags,
                "dig",
                &[
                    "+tcp",
                    "+short",
                    "+tries=1",
                    "+time=5",
                    "@10.231.0.2",
                    name,
                    ty,
                ],
            ),
            T,
        )
    };
    let a = dig(&["-d"], "www.example.test", "A");
    a.assert_success();
    assert_eq!(a.stdout.trim(), "192.0.2.80", "{a}");
    assert!(
        a.stderr.contains("TCP_USER_TIMEOUT) refused by MPTCP") && a.stderr.contains("made TCP"),
        "dig's socket was not made TCP: {a}"
    );
    let txt = dig(&[], "big.example.test", "TXT");
    txt.assert_success();
    let mut got: Vec<String> = txt
        .stdout
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect();
    got.sort();
    assert_eq!(got, big_rrset(), "{txt}");

    // Without the reversion dig dies of the refused option, as it does
    // under mptcpd's mptcpize.
    let strict = dig(&["--strict-options"], "www.example.test", "A");
    assert!(
        !strict.status.success() && !strict.stdout.contains("192.0.2.80"),
        "{strict}"
    );
}

// ---------------------------------------------------------------- bird2

/// A bird2 configuration for the peer at `me` (AS `asn`), announcing
/// `prefix`, talking BGP to `peer` (AS `peer_asn`).
fn bird_conf(
    me: &str,
    asn: u32,
    prefix: &str,
    peer: &str,
    peer_asn: u32,
    password: Option<&str>,
) -> String {
    let password = password
        .map(|p| format!("  password \"{p}\";\n"))
        .unwrap_or_default();
    format!(
        "router id {me};
protocol device {{}}
protocol static {{ ipv4; route {prefix} blackhole; }}
protocol bgp peer {{
  local {me} as {asn};
  neighbor {peer} as {peer_asn};
{password}  hold time 30;
  connect retry time 1;
  ipv4 {{ import all; export all; }};
}}
"
    )
}

fn birdc(ns: &Netns, ctl: &Path, args: &[&str]) -> String {
    let mut cmd = ns.cmd("birdc");
    cmd.arg("-s").arg(ctl).args(args);
    run(cmd, T).stdout
}

fn two_bgp_peers_reach_established_and_exchange_routes(password: Option<&str>) {
    require_root_mptcp!();
    require_program!("bird");
    require_program!("birdc");
    let bed = Testbed::new(1);
    let dir = ScratchDir::new();
    let sides = [
        (
            &bed.client,
            "a",
            "10.231.0.1",
            65001,
            "198.51.100.0/24",
            "10.231.0.2",
            65002,
        ),
        (
            &bed.server,
            "b",
            "10.231.0.2",
            65002,
            "203.0.113.0/24",
            "10.231.0.1",
            65001,
        ),
    ];
    let mut birds = Vec::new();
    for (ns, name, me, asn, prefix, peer, peer_asn) in sides {
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(&conf, bird_conf(me, asn, prefix, peer, peer_asn, password)).unwrap();
        let ctl = dir.join(format!("{name}.ctl"));
        let child = Child::spawn(under_tool(
            ns,
            &["-d"],
            "bird",
            &[
                "-f",
                "-c",
                conf.to_str().unwrap(),
                "-s",
                ctl.to_str().unwrap(),
            ],
        ));
        birds.push((ns, ctl, child));
    }
    let deadline = Instant::now() + T;
    loop {
        let states: Vec<String> = birds
            .iter()
            .map(|(ns, ctl, _)| birdc(ns, ctl, &["show", "protocols", "peer"]))
            .collect();
        if states.iter().all(|s| s.contains("Established")) {
            break;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = birds
                .iter()
                .map(|(_, _, c)| {
                    let (o, e) = c.output_so_far();
                    format!("{o}{e}")
                })
                .collect();
            panic!("BGP never reached Established: {states:#?}\n{logs:#?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // Each learnt the other's route, over the session.
    let (a, b) = (&birds[0], &birds[1]);
    let learnt_by_a = birdc(a.0, &a.1, &["show", "route", "203.0.113.0/24"]);
    assert!(
        learnt_by_a.contains("via 10.231.0.2") && learnt_by_a.contains("AS65002"),
        "{learnt_by_a}"
    );
    let learnt_by_b = birdc(b.0, &b.1, &["show", "route", "198.51.100.0/24"]);
    assert!(
        learnt_by_b.contains("via 10.231.0.1") && learnt_by_b.contains("AS65001"),
        "{learnt_by_b}"
    );
    // The session is one TCP connection on port 179 (bird's sockets set
    // IP_TTL, which MPTCP refuses, before connecting or listening), and
    // the debug log says so.
    let sessions = bed.client.ss(&[
        "-Htn",
        "state",
        "established",
        "( sport = :179 or dport = :179 )",
    ]);
    assert_eq!(sessions.lines().count(), 1, "{sessions}");
    let (_, err) = a.2.output_so_far();
    assert!(
        err.contains("IP_TTL) refused by MPTCP") && err.contains("made TCP"),
        "{err}"
    );
    if password.is_some() {
        // The key is really in use: the kernel signs the session.
        let md5 =
            bed.server.counter("TcpExtTCPMD5Failure") + bed.server.counter("TcpExtTCPMD5NotFound");
        assert_eq!(md5, 0);
    }
}

#[test]
fn bird2_bgp_peers_reach_established_and_exchange_routes() {
    two_bgp_peers_reach_established_and_exchange_routes(None);
}

#[test]
fn bird2_bgp_peers_with_a_password_reach_established_and_exchange_routes() {
    two_bgp_peers_reach_established_and_exchange_routes(Some("s3cret-key"));
}

// ---------------------------------------------------------------- vsftpd

#[test]
fn vsftpd_serves_curl_in_passive_and_active_mode_over_mptcp() {
    require_root_mptcp!();
    require_program!("vsftpd");
    require_program!("curl");
    let bed = Testbed::new(1);
    let dir = ScratchDir::new();
    let root = dir.join("root");
    let empty = dir.join("empty");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&empty).unwrap();
    let mut data = vec![0u8; 3 << 20];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(root.join("file.bin"), &data).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [dir.path(), &root, &empty] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        root.join("file.bin"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let conf = dir.join("vsftpd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen=YES
listen_ipv6=NO
listen_address=10.231.0.2
anonymous_enable=YES
anon_root={}
no_anon_password=YES
local_enable=NO
write_enable=NO
pasv_enable=YES
port_enable=YES
connect_from_port_20=YES
secure_chroot_dir={}
xferlog_enable=NO
background=NO
",
            root.display(),
            empty.display()
        ),
    )
    .unwrap();
    let mut vsftpd = Child::spawn(under_tool(
        &bed.server,
        &[],
        "vsftpd",
        &[conf.to_str().unwrap()],
    ));
    assert!(
        wait_listening(&bed.server, 21, &mut vsftpd).is_some(),
        "vsftpd's listener is not MPTCP"
    );

    for (mode, extra) in [("passive", vec![]), ("active", vec!["-P", "10.231.0.1"])] {
        let out_file = dir.join(format!("got-{mode}"));
        let (server_before, client_before) = (handshakes(&bed.server), handshakes(&bed.client));
        let mut args = vec!["-sS", "--max-time", "30", "-o", out_file.to_str().unwrap()];
        args.extend(extra);
        args.push("ftp://10.231.0.2/file.bin");
        let curl = run(under_tool(&bed.client, &[], "curl", &args), T);
        curl.assert_success();
        let got = std::fs::read(&out_file).unwrap();
        assert!(
            got == data,
            "{mode}: {} bytes, not the file's {}",
            got.len(),
            data.len()
        );
        let (server_after, client_after) = (handshakes(&bed.server), handshakes(&bed.client));
        // Control and data connections both MPTCP: in passive mode the
        // server accepts both; in active mode it accepts the control
        // connection and opens the data connection to curl.
        let (accepted_by_server, accepted_by_client) = (
            server_after.0 - server_before.0,
            client_after.0 - client_before.0,
        );
        let want = if mode == "passive" { (2, 0) } else { (1, 1) };
        assert_eq!(
            (accepted_by_server, accepted_by_client),
            want,
            "{mode}: MP_CAPABLE connections accepted by server and client"
        );
    }

    // A client that is not under the tool: the MPTCP listener hands vsftpd
    // a plain TCP connection, which takes SO_OOBINLINE itself.
    let plain_file = dir.join("got-plain");
    let plain = run(
        {
            let mut c = bed.client.cmd("curl");
            c.args([
                "-sS",
                "--max-time",
                "20",
                "-o",
                plain_file.to_str().unwrap(),
                "ftp://10.231.0.2/file.bin",
            ]);
            c
        },
        T,
    );
    plain.assert_success();
    assert!(
        std::fs::read(&plain_file).unwrap() == data,
        "plain client: bytes differ"
    );
}
