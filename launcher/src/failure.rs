//! Errors that end the launcher: a one-line `mptcpize-rs: …` message and an
//! exit code with the meaning env(1) and nice(1) give it.

/// The program to run was not found.
pub const NOT_FOUND: u8 = 127;
/// The program was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// The launcher itself failed (no shim, bad environment, …).
pub const LAUNCHER_FAILED: u8 = 125;
/// A subcommand other than `run` failed.
pub const FAILED: u8 = 1;

/// The exit status of a subcommand that succeeded.
pub const SUCCESS: u8 = 0;

/// What every subcommand returns: its exit status, or why it failed.
pub type Outcome = Result<u8, Failure>;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Prints the message on stderr and gives the exit status.
    pub fn report(self) -> u8 {
        eprintln!("mptcpize-rs: {}", self.message);
        self.code
    }
}

/// `enable`, `disable` and `status` fail with exit status 1 (`status` uses
/// 3 for "not enabled", which is an answer, not an error).
impl From<crate::systemd::Error> for Failure {
    fn from(e: crate::systemd::Error) -> Self {
        Failure::new(FAILED, e.to_string())
    }
}
