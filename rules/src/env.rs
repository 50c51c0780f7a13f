//! The environment variables of mptcpize-rs, and how their values read.
//!
//! One reading for every variable and every mode (the preload libraries,
//! the seccomp supervisor, the launcher):
//! - an **empty value is unset**: `MPTCPIZE_FALLBACK=` keeps the default,
//!   exactly as if the variable were absent;
//! - the **same words mean off** everywhere: `0`, `no`, `false`, `off` and
//!   `n`, in any ASCII case ([`is_off`]);
//! - any other value is on (for `MPTCPIZE_REPORT`, a value that is neither
//!   an on/off word nor `stderr`/`-` is the report file's path).
//!
//! [`Settings`] reads the variables one `(name, value)` pair at a time, so
//! that the shim can fill it from a single scan of `environ` (no getenv, no
//! allocation) and the launcher from `std::env::vars_os()`.

/// `MPTCPIZE_DEBUG`: one line on stderr per converted socket and fallback.
pub const DEBUG: &str = "MPTCPIZE_DEBUG";
/// `MPTCPWRAP_DEBUG`: mptcpd's name for the same switch, honoured in every
/// mode so that users of `mptcpize` keep their habit. `MPTCPIZE_DEBUG`, when
/// set, wins.
pub const MPTCPWRAP_DEBUG: &str = "MPTCPWRAP_DEBUG";
/// `MPTCPIZE_FALLBACK`: off (`0`) makes a failed MPTCP `socket()` fail
/// instead of falling back to TCP (`run --no-fallback`).
pub const FALLBACK: &str = "MPTCPIZE_FALLBACK";
/// `MPTCPIZE_REPORT`: the per-connection report (`run --report[=FILE]`):
/// `stderr`, `-` or an on word for stderr, an off word for none, else the
/// path of the file the lines are appended to.
pub const REPORT: &str = "MPTCPIZE_REPORT";
/// `MPTCPIZE_REPORT_FORMAT`: `text` (the default) or `json` (JSON Lines),
/// in any ASCII case (`run --report-format`). The launcher refuses another
/// value; the report library reads it as `text`.
pub const REPORT_FORMAT: &str = "MPTCPIZE_REPORT_FORMAT";
/// `MPTCPIZE_STRICT_OPTIONS`: on (`run --strict-options`) keeps the error
/// of every socket option MPTCP refuses, instead of making a socket that
/// has not connected or listened yet TCP (see [`crate::sockopt`]).
pub const STRICT_OPTIONS: &str = "MPTCPIZE_STRICT_OPTIONS";
/// `MPTCPIZE_LIB`: the preload library the launcher uses.
pub const LIB: &str = "MPTCPIZE_LIB";
/// `MPTCPIZE_SUPERVISOR`: set by seccomp mode in the tree it supervises.
pub const SUPERVISOR: &str = "MPTCPIZE_SUPERVISOR";

/// The value `run` gives a switch it turns on or off.
pub const ON: &str = "1";
/// See [`ON`].
pub const OFF: &str = "0";

/// How a value reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Switch {
    /// Absent or empty: the default holds.
    #[default]
    Unset,
    Off,
    On,
}

impl Switch {
    /// Reads a variable's value (`None`: the variable is absent).
    pub fn of(value: Option<&[u8]>) -> Switch {
        match value {
            None | Some(b"") => Switch::Unset,
            Some(v) if is_off(v) => Switch::Off,
            Some(_) => Switch::On,
        }
    }

    /// On, or else `default` when unset.
    pub fn or(self, default: bool) -> bool {
        match self {
            Switch::Unset => default,
            Switch::Off => false,
            Switch::On => true,
        }
    }
}

/// The words that turn a variable off.
pub const OFF_WORDS: [&str; 5] = ["0", "no", "false", "off", "n"];
/// The words that turn a variable on, where a value could be something else
/// (`MPTCPIZE_REPORT=1` is stderr, not a file named `1`).
pub const ON_WORDS: [&str; 5] = ["1", "yes", "true", "on", "y"];

/// True when `value` is one of [`OFF_WORDS`], in any ASCII case.
pub fn is_off(value: &[u8]) -> bool {
    OFF_WORDS
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w.as_bytes()))
}

/// True when `value` is one of [`ON_WORDS`], in any ASCII case.
pub fn is_on(value: &[u8]) -> bool {
    ON_WORDS
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w.as_bytes()))
}

/// Where the report goes, as `MPTCPIZE_REPORT` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Report<'a> {
    /// Unset, empty, or an off word.
    #[default]
    Off,
    /// `stderr`, `-` or an on word: the process's stderr.
    Stderr,
    /// Any other value: the path of the file to append to.
    File(&'a [u8]),
}

impl<'a> Report<'a> {
    /// Reads `MPTCPIZE_REPORT`'s value (`None`: absent).
    pub fn of(value: Option<&'a [u8]>) -> Report<'a> {
        match value {
            None | Some(b"") => Report::Off,
            Some(v) if is_off(v) => Report::Off,
            Some(b"stderr" | b"-") => Report::Stderr,
            Some(v) if is_on(v) => Report::Stderr,
            Some(path) => Report::File(path),
        }
    }
}

/// How report lines are written, as `MPTCPIZE_REPORT_FORMAT` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// Sentences, `mptcpize[PID] report: connection to …`.
    #[default]
    Text,
    /// JSON Lines: one object per connection and one per process.
    Json,
}

impl ReportFormat {
    /// The values `MPTCPIZE_REPORT_FORMAT` takes, as they are written.
    pub const NAMES: [&'static str; 2] = ["text", "json"];

    /// Reads a value: `text` or `json` in any ASCII case; `None` otherwise.
    pub fn parse(value: &[u8]) -> Option<ReportFormat> {
        if value.eq_ignore_ascii_case(b"text") {
            Some(ReportFormat::Text)
        } else if value.eq_ignore_ascii_case(b"json") {
            Some(ReportFormat::Json)
        } else {
            None
        }
    }

    /// The name `run` gives the variable.
    pub const fn name(self) -> &'static str {
        match self {
            ReportFormat::Text => "text",
            ReportFormat::Json => "json",
        }
    }
}

/// The settings a mode reads from the environment, filled one variable at
/// a time by [`Settings::read`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings<'a> {
    debug: Switch,
    mptcpwrap_debug: Switch,
    fallback: Switch,
    strict_options: Switch,
    report: Report<'a>,
    /// `MPTCPIZE_REPORT_FORMAT`'s value; `None` when absent or empty.
    report_format: Option<&'a [u8]>,
}

impl<'a> Settings<'a> {
    /// Settings with every variable unset.
    pub const fn new() -> Settings<'a> {
        Settings {
            debug: Switch::Unset,
            mptcpwrap_debug: Switch::Unset,
            fallback: Switch::Unset,
            strict_options: Switch::Unset,
            report: Report::Off,
            report_format: None,
        }
    }

    /// Takes in one environment entry; names that are not ours are ignored.
    pub fn read(&mut self, name: &[u8], value: &'a [u8]) {
        let value = Some(value);
        match name {
            n if n == DEBUG.as_bytes() => self.debug = Switch::of(value),
            n if n == MPTCPWRAP_DEBUG.as_bytes() => self.mptcpwrap_debug = Switch::of(value),
            n if n == FALLBACK.as_bytes() => self.fallback = Switch::of(value),
            n if n == STRICT_OPTIONS.as_bytes() => self.strict_options = Switch::of(value),
            n if n == REPORT.as_bytes() => self.report = Report::of(value),
            n if n == REPORT_FORMAT.as_bytes() => {
                self.report_format = value.filter(|v| !v.is_empty())
            }
            _ => {}
        }
    }

    /// The settings of an environment given as `(name, value)` pairs.
    pub fn of<I>(vars: I) -> Settings<'a>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        let mut s = Settings::new();
        for (name, value) in vars {
            s.read(name, value);
        }
        s
    }

    /// Debug lines on: `MPTCPIZE_DEBUG` when set, else `MPTCPWRAP_DEBUG`.
    pub fn debug(&self) -> bool {
        match self.debug {
            Switch::Unset => self.mptcpwrap_debug.or(false),
            s => s.or(false),
        }
    }

    /// Fallback to TCP turned off (`MPTCPIZE_FALLBACK` off).
    pub fn no_fallback(&self) -> bool {
        !self.fallback.or(true)
    }

    /// Refused socket options keep their error (`MPTCPIZE_STRICT_OPTIONS` on).
    pub fn strict_options(&self) -> bool {
        self.strict_options.or(false)
    }

    /// Where the report goes.
    pub fn report(&self) -> Report<'a> {
        self.report
    }

    /// How the report is written: `Ok(Text)` when `MPTCPIZE_REPORT_FORMAT`
    /// is unset or empty, `Err(value)` for a value that is neither `text`
    /// nor `json` (the launcher refuses it; the report library writes text).
    pub fn report_format(&self) -> Result<ReportFormat, &'a [u8]> {
        match self.report_format {
            None => Ok(ReportFormat::Text),
            Some(v) => ReportFormat::parse(v).ok_or(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&'static str, &'static str)]) -> Settings<'static> {
        Settings::of(vars.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn an_empty_value_is_unset_in_every_variable() {
        let s = settings(&[(DEBUG, ""), (FALLBACK, ""), (REPORT, "")]);
        assert_eq!(s, Settings::new());
        assert!(!s.debug());
        assert!(!s.no_fallback());
        assert_eq!(s.report(), Report::Off);
    }

    #[test]
    fn the_same_words_mean_off_everywhere() {
        for w in ["0", "no", "NO", "No", "false", "False", "off", "OFF", "n"] {
            let s = settings(&[(DEBUG, w), (FALLBACK, w), (REPORT, w)]);
            assert!(!s.debug(), "{w}");
            assert!(s.no_fallback(), "{w}");
            assert_eq!(s.report(), Report::Off, "{w}");
            assert!(!settings(&[(MPTCPWRAP_DEBUG, w)]).debug(), "{w}");
        }
    }

    #[test]
    fn other_values_mean_on_and_a_report_path_is_a_file() {
        for w in ["1", "yes", "on", "TRUE", "2", "verbose"] {
            let s = settings(&[(DEBUG, w), (FALLBACK, w)]);
            assert!(s.debug(), "{w}");
            assert!(!s.no_fallback(), "{w}");
            assert!(settings(&[(MPTCPWRAP_DEBUG, w)]).debug(), "{w}");
        }
        for w in ["stderr", "-", "1", "yes", "On"] {
            assert_eq!(settings(&[(REPORT, w)]).report(), Report::Stderr, "{w}");
        }
        for p in ["/var/log/r.txt", "report", "./0", "stderr.txt"] {
            assert_eq!(
                settings(&[(REPORT, p)]).report(),
                Report::File(p.as_bytes())
            );
        }
    }

    #[test]
    fn strict_options_reads_like_every_switch() {
        assert!(!settings(&[]).strict_options());
        assert!(!settings(&[(STRICT_OPTIONS, "")]).strict_options());
        assert!(!settings(&[(STRICT_OPTIONS, "off")]).strict_options());
        assert!(settings(&[(STRICT_OPTIONS, "1")]).strict_options());
        assert!(settings(&[(STRICT_OPTIONS, "yes")]).strict_options());
    }

    #[test]
    fn the_report_format_is_text_json_or_refused() {
        assert_eq!(settings(&[]).report_format(), Ok(ReportFormat::Text));
        assert_eq!(
            settings(&[(REPORT_FORMAT, "")]).report_format(),
            Ok(ReportFormat::Text)
        );
        for (v, f) in [("json", ReportFormat::Json), ("JSON", ReportFormat::Json)] {
            assert_eq!(settings(&[(REPORT_FORMAT, v)]).report_format(), Ok(f));
        }
        assert_eq!(
            settings(&[(REPORT_FORMAT, "Text")]).report_format(),
            Ok(ReportFormat::Text)
        );
        assert_eq!(
            settings(&[(REPORT_FORMAT, "yaml")]).report_format(),
            Err(&b"yaml"[..])
        );
        for f in [ReportFormat::Text, ReportFormat::Json] {
            assert_eq!(ReportFormat::parse(f.name().as_bytes()), Some(f));
            assert!(ReportFormat::NAMES.contains(&f.name()));
        }
    }

    #[test]
    fn mptcpize_debug_wins_over_mptcpwrap_debug() {
        assert!(settings(&[(MPTCPWRAP_DEBUG, "1"), (DEBUG, "")]).debug());
        assert!(!settings(&[(MPTCPWRAP_DEBUG, "1"), (DEBUG, "0")]).debug());
        assert!(settings(&[(MPTCPWRAP_DEBUG, "0"), (DEBUG, "1")]).debug());
    }

    #[test]
    fn other_names_are_ignored() {
        let s = settings(&[("MPTCPIZE_DEBUGX", "1"), ("XMPTCPIZE_REPORT", "f")]);
        assert_eq!(s, Settings::new());
    }

    /// Fuzz-style: no input of bounded size panics, and the reading only
    /// ever depends on the value's bytes.
    #[test]
    fn any_bytes_read_without_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut buf = [0u8; 16];
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 17) as usize;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (seed >> (i % 8 * 8)) as u8 ^ i as u8;
            }
            let v = &buf[..len];
            let sw = Switch::of(Some(v));
            assert_eq!(sw == Switch::Unset, v.is_empty());
            assert_eq!(sw == Switch::Off, is_off(v));
            if let Report::File(p) = Report::of(Some(v)) {
                assert_eq!(p, v);
                assert!(!is_off(v) && !is_on(v) && !v.is_empty());
            }
        }
    }
}
