//! Reading the few settings we care about from unit files and drop-ins, in
//! systemd's syntax: sections, `Key=Value` lines, `\` line continuations
//! (comment lines inside one are skipped, as systemd does), comments;
//! `Environment=` values are words with quotes and C escapes, and an empty
//! `Environment=` resets the list. Also the inverse: quoting a value so
//! that systemd reads it back unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The settings of a unit gathered from its files, in the order systemd
/// applies them.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// `Environment=` variables: value and the file that set it last.
    pub env: BTreeMap<String, (String, PathBuf)>,
    /// `EnvironmentFile=` entries (with their leading `-` if any).
    pub env_files: Vec<String>,
    /// `[Socket] Service=`.
    pub socket_service: Option<String>,
    /// `[Socket] Accept=yes`.
    pub accept: bool,
    /// `[Service] ExecStart=` command lines (raw, prefixes included) and
    /// the file of each; an empty assignment resets the list.
    pub exec_start: Vec<(String, PathBuf)>,
    /// `[Service] SystemCallFilter=` assignments in order (an empty one
    /// resets the list).
    pub syscall_filter: Vec<String>,
    /// `UnsetEnvironment=` entries (`VAR` or `VAR=value`) and the file
    /// that named each.
    pub unset_env: Vec<(String, PathBuf)>,
}

impl Settings {
    /// Applies one file's lines on top of what earlier files set.
    pub fn apply(&mut self, text: &str, file: &Path) {
        for (section, key, value) in entries(text) {
            match (section.as_str(), key.as_str()) {
                ("Service" | "Socket", "Environment") => {
                    if value.trim().is_empty() {
                        self.env.clear();
                    }
                    for word in words(&value) {
                        if let Some((k, v)) = word.split_once('=') {
                            self.env
                                .insert(k.to_string(), (v.to_string(), file.to_path_buf()));
                        }
                    }
                }
                ("Service" | "Socket", "UnsetEnvironment") => {
                    if value.trim().is_empty() {
                        self.unset_env.clear();
                    }
                    for word in words(&value) {
                        self.unset_env.push((word, file.to_path_buf()));
                    }
                }
                ("Service", "EnvironmentFile") => {
                    if value.trim().is_empty() {
                        self.env_files.clear();
                    } else {
                        self.env_files.push(value.trim().to_string());
                    }
                }
                ("Service", "ExecStart") => {
                    if value.trim().is_empty() {
                        self.exec_start.clear();
                    } else {
                        self.exec_start.push((value.clone(), file.to_path_buf()));
                    }
                }
                ("Service", "SystemCallFilter") => {
                    if value.trim().is_empty() {
                        self.syscall_filter.clear();
                    } else {
                        self.syscall_filter.push(value.trim().to_string());
                    }
                }
                ("Socket", "Service") => self.socket_service = Some(value.trim().to_string()),
                ("Socket", "Accept") => {
                    self.accept = matches!(value.trim(), "yes" | "true" | "on" | "1")
                }
                _ => {}
            }
        }
    }

    /// The value of `Environment=` variable `key`, if set.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(|(v, _)| v.as_str())
    }

    /// The file whose `UnsetEnvironment=` takes `key=value` away from the
    /// service, if one does (a bare `key` removes every value).
    pub fn unsets(&self, key: &str, value: &str) -> Option<&Path> {
        self.unset_env
            .iter()
            .find(|(entry, _)| match entry.split_once('=') {
                Some((k, v)) => k == key && v == value,
                None => entry == key,
            })
            .map(|(_, file)| file.as_path())
    }
}

/// `(section, key, value)` for each assignment, continuation lines joined.
pub fn entries(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let t = raw.trim_start();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if pending.is_empty() {
            if t.is_empty() {
                continue;
            }
            if let Some(name) = t
                .trim_end()
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
            {
                section = name.to_string();
                continue;
            }
        }
        match raw.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
                continue;
            }
            None => pending.push_str(raw),
        }
        let line = std::mem::take(&mut pending);
        if let Some((k, v)) = line.split_once('=') {
            out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// Splits a value into words as systemd does for `Environment=`: blanks
/// separate words, "…" and '…' quote, backslash escapes in C style.
pub fn words(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some('r') => word.push('\r'),
                    Some('s') => word.push(' '),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).collect();
                        match u8::from_str_radix(&hex, 16) {
                            Ok(b) => word.push(b as char),
                            Err(_) => {
                                word.push_str("\\x");
                                word.push_str(&hex);
                            }
                        }
                    }
                    Some(other) => word.push(other),
                    None => word.push('\\'),
                }
            }
            q @ ('"' | '\'') if quote.is_none() => {
                quote = Some(q);
                in_word = true;
            }
            q if Some(q) == quote => quote = None,
            c if quote.is_none() && c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// `KEY=value` as one `Environment=` word that systemd reads back as
/// exactly that: in double quotes, with `\` and `"` escaped.
pub fn quote(assignment: &str) -> String {
    let mut out = String::from("\"");
    for c in assignment.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c)
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_systemd_quoting() {
        assert_eq!(
            words(r#"A=1 "B=x y" C='z "q"'"#),
            ["A=1", "B=x y", "C=z \"q\""]
        );
        assert_eq!(words(r#"D=a\ b E=\x41"#), ["D=a b", "E=A"]);
        assert_eq!(words("  "), Vec::<String>::new());
        for s in ["LD_PRELOAD=/a b.so:/c\"d.so", "GODEBUG=x=1,multipathtcp=1"] {
            assert_eq!(words(&quote(s)), [s]);
        }
    }

    #[test]
    fn later_assignments_win_and_empty_resets() {
        let mut s = Settings::default();
        s.apply(
            "[Unit]\nEnvironment=NOPE=1\n[Service]\nEnvironment=A=1 LD_PRELOAD=/x.so\n# Environment=A=9\nEnvironment=\"A=2\"\nEnvironmentFile=-/etc/default/x\n",
            Path::new("/u"),
        );
        assert_eq!(s.var("A"), Some("2"));
        assert_eq!(s.var("LD_PRELOAD"), Some("/x.so"));
        assert_eq!(s.var("NOPE"), None);
        assert_eq!(s.env_files, ["-/etc/default/x"]);
        s.apply(
            "[Service]\nEnvironment=\nEnvironment=B=1 \\\n  C=2\n",
            Path::new("/d"),
        );
        assert_eq!(s.var("A"), None);
        assert_eq!(s.var("C"), Some("2"));
    }

    /// A small deterministic generator (xorshift64*), for the fuzz tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[self.below(xs.len())]
        }
    }

    const ALPHABET: &[char] = &[
        'a', 'Z', '0', '/', ':', '=', ',', '.', ' ', ' ', '\t', '"', '\'', '\\', '$', '{', '}',
        '%', '#', ';', '[', ']', 'é', '\n', '\r',
    ];

    /// Values of every awkward character survive quoting and reading back,
    /// including inside a unit file with continuation lines, comment lines
    /// inside the continuation, indentation and other keys around them.
    #[test]
    fn fuzz_environment_round_trips_through_a_unit_file() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..2_000 {
            let mut expected = BTreeMap::new();
            let mut text = String::from("[Unit]\nDescription=fuzz\n[Service]\n");
            for a in 0..1 + rng.below(4) {
                let mut line = String::from("Environment=");
                for w in 0..1 + rng.below(3) {
                    let key = format!("K{}", rng.below(5));
                    let value: String = (0..rng.below(24)).map(|_| rng.pick(ALPHABET)).collect();
                    if w > 0 {
                        line.push(' ');
                        // Split the line here: a continuation, maybe with
                        // comment lines inside it.
                        if rng.below(2) == 0 {
                            line.push_str("\\\n");
                            for _ in 0..rng.below(3) {
                                line.push_str(rng.pick(&["# c\n", "; c\n", "  #x=1\n"]));
                            }
                            line.push_str(rng.pick(&["", "  ", "\t"]));
                        }
                    }
                    line.push_str(&quote(&format!("{key}={value}")));
                    expected.insert(key, value);
                }
                text.push_str(rng.pick(&["", "  "]));
                text.push_str(&line);
                text.push('\n');
                if a % 2 == 1 {
                    text.push_str(rng.pick(&[
                        "# Environment=K0=no\n",
                        "\n",
                        "ExecStart=/bin/true\n",
                    ]));
                }
            }
            let mut s = Settings::default();
            s.apply(&text, Path::new("/f"));
            let got: BTreeMap<String, String> =
                s.env.into_iter().map(|(k, (v, _))| (k, v)).collect();
            assert_eq!(got, expected, "round {round}:\n{text}");
        }
    }

    /// Random text of bounded size never makes the reader panic, and every
    /// key it returns is one (continued) line's text before its first `=`.
    #[test]
    fn fuzz_random_text_is_read_without_panicking() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        let pieces = [
            "[Service]",
            "\n",
            "Environment=",
            "A=1",
            "\\",
            "\"",
            "'",
            " ",
            "#",
            ";",
            "=",
            "x",
            "UnsetEnvironment=",
            "\\x4",
            "\\\n",
            "[",
            "]",
        ];
        for _ in 0..5_000 {
            let text: String = (0..rng.below(40)).map(|_| rng.pick(&pieces)).collect();
            let mut s = Settings::default();
            s.apply(&text, Path::new("/f"));
            for (_, key, _) in entries(&text) {
                assert!(!key.contains(['=', '\n']), "{key:?} from {text:?}");
            }
            for w in words(&text) {
                assert!(w.chars().count() <= text.chars().count());
            }
        }
    }

    #[test]
    fn unset_environment_is_read() {
        let mut s = Settings::default();
        s.apply(
            "[Service]\nUnsetEnvironment=LD_PRELOAD \"GODEBUG=x=1\"\n",
            Path::new("/u"),
        );
        assert_eq!(s.unsets("LD_PRELOAD", "/any.so"), Some(Path::new("/u")));
        assert_eq!(s.unsets("GODEBUG", "multipathtcp=1"), None);
        assert_eq!(s.unsets("GODEBUG", "x=1"), Some(Path::new("/u")));
        s.apply("[Service]\nUnsetEnvironment=\n", Path::new("/d"));
        assert_eq!(s.unsets("LD_PRELOAD", "/any.so"), None);
    }
}
