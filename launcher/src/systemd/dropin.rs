//! The drop-ins we write, and recognising them again. A drop-in of ours is
//! `<unit>.d/90-mptcpize.conf` and starts with a marker line; a few
//! `# mptcpize-rs key=value` comment lines record what `status` and
//! `disable` need to know (the shim, the socket drop-ins written with it,
//! whether we created the `.d` directory).

use super::unitfile::quote;

/// The drop-in's file name: `90-` so that it comes after most packaged
/// drop-ins (the last `Environment=` for a variable wins).
pub const FILE_NAME: &str = "90-mptcpize.conf";

const MARK: &str = "# Written by mptcpize-rs";
const KEY: &str = "# mptcpize-rs ";

/// What one of our drop-ins records about itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ours {
    pub shim: Option<String>,
    pub created_dir: bool,
    pub sockets: Vec<String>,
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
    let mut s = format!(
        "{MARK}: {unit} uses Multipath TCP from its next start.\n\
         # Undo with: mptcpize-rs disable {unit}\n\
         {KEY}shim={shim}\n"
    );
    for socket in sockets {
        s.push_str(&format!("{KEY}socket={socket}\n"));
    }
    if created_dir {
        s.push_str(&format!("{KEY}created-dir=yes\n"));
    }
    s.push_str(&format!(
        "[Service]\nEnvironment={}\nEnvironment={}\n",
        quote(&format!("LD_PRELOAD={ld_preload}")),
        quote(&format!("GODEBUG={godebug}"))
    ));
    s
}

/// The drop-in that makes a socket unit's listening sockets MPTCP
/// (systemd 257 and later).
pub fn socket(socket: &str, service: &str, created_dir: bool) -> String {
    let mut s = format!(
        "{MARK}: {socket} listens with Multipath TCP.\n\
         # Undo with: mptcpize-rs disable {service}\n"
    );
    if created_dir {
        s.push_str(&format!("{KEY}created-dir=yes\n"));
    }
    s.push_str("[Socket]\nSocketProtocol=mptcp\n");
    s
}

/// What `text` records, or None when it is not one of ours.
pub fn parse(text: &str) -> Option<Ours> {
    if !text.starts_with(MARK) {
        return None;
    }
    let mut ours = Ours::default();
    for line in text.lines() {
        let Some((k, v)) = line.strip_prefix(KEY).and_then(|kv| kv.split_once('=')) else {
            continue;
        };
        match k {
            "shim" => ours.shim = Some(v.to_string()),
            "socket" => ours.sockets.push(v.to_string()),
            "created-dir" => ours.created_dir = v == "yes",
            _ => {}
        }
    }
    Some(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes() {
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
            })
        );
        assert!(text.contains("Environment=\"LD_PRELOAD=/a.so:/l/libmptcpize.so\"\n"));
        assert_eq!(parse("[Service]\nEnvironment=X=1\n"), None);
        assert!(
            !parse(&socket("web.socket", "web.service", false))
                .unwrap()
                .created_dir
        );
    }
}
