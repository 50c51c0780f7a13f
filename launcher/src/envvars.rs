//! How the launcher (and `enable`, for systemd units) adds itself to a
//! program's environment without taking anything away from the user:
//! `LD_PRELOAD` gets the shim appended once, `GODEBUG` gets `multipathtcp=1`
//! unless the user already chose a `multipathtcp=` value. (The variables'
//! names and how their values read are `mptcpize_rules::env`'s.)

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// `LD_PRELOAD` with `shim` appended, unless it is already listed. ld.so
/// separates entries with colons or spaces; the user's order is kept.
pub fn ld_preload_with(existing: Option<&OsStr>, shim: &Path) -> OsString {
    let shim = shim.as_os_str().as_bytes();
    let existing = existing.map(OsStr::as_bytes).unwrap_or_default();
    let mut entries = existing
        .split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty());
    if entries.any(|e| e == shim) {
        return OsString::from_vec(existing.to_vec());
    }
    let trimmed = existing.trim_ascii_end();
    let trimmed = trimmed.strip_suffix(b":").unwrap_or(trimmed);
    let mut out = trimmed.to_vec();
    if !out.is_empty() {
        out.push(b':');
    }
    out.extend_from_slice(shim);
    OsString::from_vec(out)
}

/// `LD_PRELOAD` with the report library and the shim: `report` is put
/// right before the shim, so that its `socket()` comes first and chains to
/// the shim's (see the report library); neither is listed twice.
pub fn ld_preload_with_report(existing: Option<&OsStr>, report: &Path, shim: &Path) -> OsString {
    let with_shim = ld_preload_with(existing, shim);
    let bytes = with_shim.as_bytes();
    let entries = || {
        bytes.split(|&b| b == b':' || b == b' ').scan(0, |at, e| {
            let start = *at;
            *at += e.len() + 1;
            Some((start, e))
        })
    };
    let report = report.as_os_str().as_bytes();
    if entries().any(|(_, e)| e == report) {
        return with_shim;
    }
    let shim = shim.as_os_str().as_bytes();
    let at = entries()
        .find(|&(_, e)| e == shim)
        .map_or(bytes.len(), |(start, _)| start);
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(report);
    out.push(b':');
    out.extend_from_slice(&bytes[at..]);
    OsString::from_vec(out)
}

/// `GODEBUG` with `multipathtcp=1` added, so that Go 1.21+ programs (which
/// make their own syscalls) use MPTCP too. A `multipathtcp=` setting the user
/// made is never overridden.
pub fn godebug_with(existing: Option<&OsStr>) -> OsString {
    let existing = existing.map(OsStr::as_bytes).unwrap_or_default();
    let user_chose = existing
        .split(|&b| b == b',')
        .any(|kv| kv.trim_ascii().starts_with(b"multipathtcp="));
    if user_chose {
        return OsString::from_vec(existing.to_vec());
    }
    let mut out = existing.to_vec();
    if !out.is_empty() && !out.ends_with(b",") {
        out.push(b',');
    }
    out.extend_from_slice(b"multipathtcp=1");
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(existing: Option<&str>) -> String {
        ld_preload_with(existing.map(OsStr::new), Path::new("/l/libmptcpize.so"))
            .into_string()
            .unwrap()
    }

    fn go(existing: Option<&str>) -> String {
        godebug_with(existing.map(OsStr::new))
            .into_string()
            .unwrap()
    }

    #[test]
    fn ld_preload_appends_once_and_keeps_the_users_libraries() {
        assert_eq!(pre(None), "/l/libmptcpize.so");
        assert_eq!(pre(Some("")), "/l/libmptcpize.so");
        assert_eq!(pre(Some("/a.so")), "/a.so:/l/libmptcpize.so");
        assert_eq!(pre(Some("/a.so /b.so")), "/a.so /b.so:/l/libmptcpize.so");
        assert_eq!(pre(Some("/a.so:")), "/a.so:/l/libmptcpize.so");
        assert_eq!(
            pre(Some("/l/libmptcpize.so:/a.so")),
            "/l/libmptcpize.so:/a.so"
        );
        assert_eq!(
            pre(Some("/a.so /l/libmptcpize.so")),
            "/a.so /l/libmptcpize.so"
        );
    }

    #[test]
    fn the_report_library_comes_right_before_the_shim() {
        let with = |existing: Option<&str>| {
            ld_preload_with_report(
                existing.map(OsStr::new),
                Path::new("/l/libmptcpize_report.so"),
                Path::new("/l/libmptcpize.so"),
            )
            .into_string()
            .unwrap()
        };
        assert_eq!(with(None), "/l/libmptcpize_report.so:/l/libmptcpize.so");
        assert_eq!(
            with(Some("/a.so")),
            "/a.so:/l/libmptcpize_report.so:/l/libmptcpize.so"
        );
        assert_eq!(
            with(Some("/l/libmptcpize.so /b.so")),
            "/l/libmptcpize_report.so:/l/libmptcpize.so /b.so"
        );
        assert_eq!(
            with(Some("/a.so:/l/libmptcpize.so")),
            "/a.so:/l/libmptcpize_report.so:/l/libmptcpize.so"
        );
        assert_eq!(
            with(Some("/l/libmptcpize_report.so:/l/libmptcpize.so")),
            "/l/libmptcpize_report.so:/l/libmptcpize.so"
        );
    }

    #[test]
    fn godebug_adds_multipathtcp_unless_the_user_chose() {
        assert_eq!(go(None), "multipathtcp=1");
        assert_eq!(go(Some("http2client=0")), "http2client=0,multipathtcp=1");
        assert_eq!(go(Some("multipathtcp=0")), "multipathtcp=0");
        assert_eq!(go(Some("x=1, multipathtcp=2")), "x=1, multipathtcp=2");
        assert_eq!(go(Some("x=1,")), "x=1,multipathtcp=1");
    }
}
