//! The drop-ins we write, and recognising them again. A drop-in of ours is
//! `<unit>.d/90-mptcpize.conf`; its first line is a marker with a checksum
//! of the whole text as we wrote it, so that an admin's edit is noticed
//! (and never overwritten or removed: see `enable` and `disable`), and a few
//! `# mptcpize-rs key=value` comment lines record what `status` and
//! `disable` need to know (the shim, the socket drop-ins written with it,
//! whether we created the `.d` directory).

use super::unitfile::quote;

/// The drop-in's file name: `90-` so that it comes after most packaged
/// drop-ins (the last `Environment=` for a variable wins).
pub const FILE_NAME: &str = "90-mptcpize.conf";

const MARK: &str = "# Written by mptcpize-rs";
const SUM: &str = "checksum ";
/// What stands for the checksum while it is computed.
const BLANK: &str = "----------------";
const KEY: &str = "# mptcpize-rs ";

/// What one of our drop-ins records about itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ours {
    pub shim: Option<String>,
    pub created_dir: bool,
    pub sockets: Vec<String>,
    /// `seccomp` when the service's command lines are wrapped.
    pub mode: Option<String>,
    /// The `ExecStart=` values wrapped, as the unit had them.
    pub wrapped: Vec<String>,
    /// False when the text is no longer what we wrote (or carries no
    /// checksum to tell).
    pub intact: bool,
}

/// FNV-1a, 64 bits: enough to notice an edit (it is no defence against a
/// forger, who would need root to write there anyway).
fn fnv1a(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `text` (whose marker line holds [`BLANK`]) with its checksum filled in.
fn sealed(text: String) -> String {
    let sum = fnv1a(&text);
    text.replacen(BLANK, &sum, 1)
}

fn header(what: &str, undo: &str) -> String {
    format!("{MARK} ({SUM}{BLANK}): {what}\n# Undo with: mptcpize-rs disable {undo}\n")
}

/// The marker, the undo line and the records of a service's drop-in:
/// `records` (key, value) in order, then its socket drop-ins and whether we
/// created the directory.
fn service_header(
    unit: &str,
    records: &[(&str, &str)],
    sockets: &[String],
    created_dir: bool,
) -> String {
    let mut s = header(
        &format!("{unit} uses Multipath TCP from its next start."),
        unit,
    );
    for (k, v) in records {
        s.push_str(&format!("{KEY}{k}={v}\n"));
    }
    for socket in sockets {
        s.push_str(&format!("{KEY}socket={socket}\n"));
    }
    if created_dir {
        s.push_str(&format!("{KEY}created-dir=yes\n"));
    }
    s
}

/// The drop-in for a service: LD_PRELOAD and GODEBUG, as computed by the
/// caller from the service's own environment.
pub fn service(
    unit: &str,
    shim: &str,
    ld_preload: &str,
    godebug: &str,
    sockets: &[String],
    created_dir: bool,
) -> String {
    let mut s = service_header(unit, &[("shim", shim)], sockets, created_dir);
    s.push_str(&format!(
        "[Service]\nEnvironment={}\nEnvironment={}\n",
        quote(&format!("LD_PRELOAD={ld_preload}")),
        quote(&format!("GODEBUG={godebug}"))
    ));
    sealed(s)
}

/// The drop-in for a service whose programs need seccomp mode: every
/// `ExecStart=` line wrapped (`wrapped`: the originals and their
/// wrappers). The launcher executes the program in its own place, so the
/// main process of a `Type=notify` or `Type=forking` unit is still the
/// program (or the daemon its PID file names): `NotifyAccess=` and
/// `PIDFile=` need no change.
pub fn service_seccomp(
    unit: &str,
    launcher: &str,
    wrapped: &[(String, String)],
    sockets: &[String],
    created_dir: bool,
) -> String {
    let mut records = vec![("mode", "seccomp"), ("launcher", launcher)];
    records.extend(
        wrapped
            .iter()
            .map(|(original, _)| ("wrapped", original.as_str())),
    );
    let mut s = service_header(unit, &records, sockets, created_dir);
    s.push_str(
        "# Its programs never read LD_PRELOAD (statically linked, or Go before 1.21),\n\
         # so each command line runs under `mptcpize-rs run --mode seccomp`, whose\n\
         # supervisor makes their TCP sockets MPTCP. The program keeps the main\n\
         # process's pid (the launcher executes it in its own place), so Type=notify\n\
         # and PIDFile= work as before.\n[Service]\nExecStart=\n",
    );
    for (_, wrapper) in wrapped {
        s.push_str(&format!("ExecStart={wrapper}\n"));
    }
    sealed(s)
}

/// The drop-in that makes a socket unit's listening sockets MPTCP
/// (systemd 257 and later).
pub fn socket(socket: &str, service: &str, created_dir: bool) -> String {
    let mut s = header(&format!("{socket} listens with Multipath TCP."), service);
    if created_dir {
        s.push_str(&format!("{KEY}created-dir=yes\n"));
    }
    s.push_str("[Socket]\nSocketProtocol=mptcp\n");
    sealed(s)
}

/// Whether `text` is still exactly what we wrote.
fn intact(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default();
    let Some(sum) = first
        .split_once(SUM)
        .map(|(_, rest)| rest.get(..BLANK.len()).unwrap_or_default())
    else {
        return false;
    };
    sum.len() == BLANK.len() && fnv1a(&text.replacen(sum, BLANK, 1)) == sum
}

/// What `text` records, or None when it is not one of ours.
pub fn parse(text: &str) -> Option<Ours> {
    if !text.starts_with(MARK) {
        return None;
    }
    let mut ours = Ours {
        intact: intact(text),
        ..Ours::default()
    };
    for line in text.lines() {
        let Some((k, v)) = line.strip_prefix(KEY).and_then(|kv| kv.split_once('=')) else {
            continue;
        };
        match k {
            "shim" => ours.shim = Some(v.to_string()),
            "socket" => ours.sockets.push(v.to_string()),
            "created-dir" => ours.created_dir = v == "yes",
            "mode" => ours.mode = Some(v.to_string()),
            "launcher" => ours.shim = Some(v.to_string()),
            "wrapped" => ours.wrapped.push(v.to_string()),
            _ => {}
        }
    }
    Some(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes_and_notices_edits() {
        let text = service(
            "web.service",
            "/l/libmptcpize.so",
            "/a.so:/l/libmptcpize.so",
            "multipathtcp=1",
            &["web.socket".into()],
            true,
        );
        assert_eq!(
            parse(&text),
            Some(Ours {
                shim: Some("/l/libmptcpize.so".into()),
                created_dir: true,
                sockets: vec!["web.socket".into()],
                intact: true,
                ..Ours::default()
            })
        );
        assert!(text.contains("Environment=\"LD_PRELOAD=/a.so:/l/libmptcpize.so\"\n"));
        assert!(!text.contains(BLANK));
        assert_eq!(parse("[Service]\nEnvironment=X=1\n"), None);
        let sock = parse(&socket("web.socket", "web.service", false)).unwrap();
        assert!(!sock.created_dir && sock.intact);

        // Any change, even of one byte or only of a comment, is an edit.
        for edited in [
            format!("{text}Environment=MINE=1\n"),
            text.replace("multipathtcp=1", "multipathtcp=0"),
            text.replace("# Undo", "#  Undo"),
            text.replacen("checksum ", "checksum 0", 1),
            text.lines().next().unwrap().to_string(),
            format!("{MARK}: web.service (an older drop-in without a checksum)\n"),
        ] {
            assert!(!parse(&edited).unwrap().intact, "{edited}");
        }
    }
}
