//! Child processes for tests: each runs in its own process group, its output
//! is collected as it comes, every wait is bounded, and the whole group is
//! killed when the handle is dropped, so a failing test leaves nothing running.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The process groups of the children alive in this process, for [`kill_all`].
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn forget_group(pid: u32) {
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&g| g != pid as i32);
}

/// Kills the process group of every child still running: for a signal
/// handler, where no destructor will run.
pub fn kill_all() {
    let groups = std::mem::take(&mut *LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner()));
    for g in groups {
        // SAFETY: kill() of a process group that one of our children leads.
        unsafe { libc::kill(-g, libc::SIGKILL) };
    }
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code (128 + N for a signal N, as a shell reports it).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    /// Panics with the whole output unless the command exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "command failed ({}):\n{self}",
            self.code()
        );
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

#[derive(Default)]
struct Captured {
    stdout: String,
    stderr: String,
}

/// A running child process; its process group is killed on drop.
pub struct Child {
    inner: std::process::Child,
    captured: Arc<(Mutex<Captured>, Condvar)>,
    readers: Vec<std::thread::JoinHandle<()>>,
    what: String,
}

fn pump(
    mut from: impl Read + Send + 'static,
    captured: Arc<(Mutex<Captured>, Condvar)>,
    err: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(&mut from);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let (lock, cv) = &*captured;
            let mut c = lock.lock().unwrap();
            let text = String::from_utf8_lossy(&line);
            if err {
                c.stderr.push_str(&text)
            } else {
                c.stdout.push_str(&text)
            }
            cv.notify_all();
            line.clear();
        }
    })
}

impl Child {
    /// Starts `cmd` with stdin closed and stdout/stderr captured.
    pub fn spawn(cmd: Command) -> Child {
        Child::spawn_with_stdin(cmd, Stdio::null())
    }

    /// Starts `cmd` reading `stdin` (a file, say), stdout/stderr captured.
    pub fn spawn_with_stdin(mut cmd: Command, stdin: Stdio) -> Child {
        let what = format!("{cmd:?}");
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut inner = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(inner.id() as i32);
        let captured = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        let readers = vec![
            pump(inner.stdout.take().unwrap(), Arc::clone(&captured), false),
            pump(inner.stderr.take().unwrap(), Arc::clone(&captured), true),
        ];
        Child {
            inner,
            captured,
            readers,
            what,
        }
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// Waits until stdout has a line containing `needle` and returns that
    /// line; panics with everything printed so far after `timeout`.
    #[track_caller]
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.captured;
        let mut c = lock.lock().unwrap();
        loop {
            if let Some(line) = c.stdout.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("{} printed no line with {needle:?} in {timeout:?}:\n--- stdout ---\n{}--- stderr ---\n{}", self.what, c.stdout, c.stderr);
            }
            c = cv.wait_timeout(c, deadline - now).unwrap().0;
        }
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.inner.try_wait().ok().flatten()
    }

    /// Sends `signal` to the child itself.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill() on our own child's pid.
        unsafe { libc::kill(self.inner.id() as i32, signal) };
    }

    /// Waits at most `timeout` for the child to exit (then kills it and
    /// panics) and returns all it printed.
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.inner.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                self.kill_group();
                let _ = self.inner.wait();
                let out = self.collect_output();
                panic!(
                    "{} did not finish in {timeout:?}:\n{}{}",
                    self.what, out.0, out.1
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        forget_group(self.inner.id());
        let (stdout, stderr) = self.collect_output();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    fn collect_output(&mut self) -> (String, String) {
        // The pipes close when the group is gone; give stragglers a moment.
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let c = self.captured.0.lock().unwrap();
        (c.stdout.clone(), c.stderr.clone())
    }

    /// Waits at most `timeout` for the child to exit; true if it did.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.inner.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Everything printed so far.
    pub fn output_so_far(&self) -> (String, String) {
        let c = self.captured.0.lock().unwrap();
        (c.stdout.clone(), c.stderr.clone())
    }

    fn kill_group(&self) {
        // SAFETY: the child leads its own process group (process_group(0)).
        unsafe { libc::kill(-(self.inner.id() as i32), libc::SIGKILL) };
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.inner.try_wait() {
            self.kill_group();
            let _ = self.inner.wait();
        }
        forget_group(self.inner.id());
    }
}

/// Runs `cmd` to completion, at most `timeout`.
#[track_caller]
pub fn run(cmd: Command, timeout: Duration) -> Output {
    Child::spawn(cmd).finish(timeout)
}
