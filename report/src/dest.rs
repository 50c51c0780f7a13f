//! Where report lines go: the stderr the process had when the library
//! loaded (`mptcpize_preload::stderr`: never whatever fd 2 is later), or
//! the report file.
//!
//! The report file is opened once, when the library loads, and the
//! descriptor is kept: a program that changes directory or drops its
//! privileges still reports. It is opened as `mptcpize_rules::report_file`
//! says (the launcher checks `--report=FILE` by the same rule): appending
//! whole lines, never truncating, never through a symbolic link, never
//! blocking (a line that does not fit a FIFO is dropped), created `0600`
//! (less the umask); a regular file, a FIFO or a character device, never a
//! block device (refused before it is opened).
//!
//! Programs that close every descriptor (daemons do) close ours too, and
//! their next file may get its number: before each line the descriptor is
//! checked to still be the file opened (device and inode), and when it is
//! not, the file is opened again by its path (kept, absolute as the
//! launcher passes it) or, failing that, the line is dropped.

use core::ffi::{c_int, CStr};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};
use mptcpize_preload::environ::VALUE_MAX;
use mptcpize_preload::line::Line;
use mptcpize_preload::page::MapOnce;
use mptcpize_preload::{errno, stderr, sys};
use mptcpize_rules::env::Report;
use mptcpize_rules::{names, report_file};

const NOWHERE: u8 = 0;
const STDERR: u8 = 1;
const FILE: u8 = 2;

static TO: AtomicU8 = AtomicU8::new(NOWHERE);
/// The report file's descriptor, and what it was when opened.
static FD: AtomicI32 = AtomicI32::new(-1);
static DEV: AtomicU64 = AtomicU64::new(0);
static INO: AtomicU64 = AtomicU64::new(0);
/// The report file's path, NUL-terminated, for opening it again.
static PATH: MapOnce = MapOnce::new(VALUE_MAX + 1);

/// Sets the destination up, when the library loads; false when the report
/// is off, or its file cannot be used (said in one line on stderr).
#[cold]
pub fn open(report: Report<'_>) -> bool {
    stderr::capture();
    match report {
        Report::Off => false,
        Report::Stderr => {
            TO.store(STDERR, Ordering::Release);
            true
        }
        Report::File(path) => match open_file(path) {
            Ok(()) => {
                TO.store(FILE, Ordering::Release);
                true
            }
            Err(why) => {
                refused(path, why);
                false
            }
        },
    }
}

/// Why a report file was refused.
enum Refusal {
    TooLong,
    NoMemory,
    Symlink,
    BlockDevice,
    NotAFile,
    NoReader,
    Errno(c_int),
}

fn open_file(path: &[u8]) -> Result<(), Refusal> {
    if path.len() >= VALUE_MAX || path.contains(&0) {
        return Err(Refusal::TooLong);
    }
    let page = PATH
        .get_or_map(|buf| {
            for (slot, &b) in buf.iter_mut().zip(path) {
                // Volatile: the compiler makes no memcpy call of the loop
                // (the library imports none).
                // SAFETY: `slot` is a valid, exclusive byte of the page.
                unsafe { core::ptr::write_volatile(slot, b) };
            }
        })
        .ok_or(Refusal::NoMemory)?;
    // SAFETY: the page holds the path and zeros after it (path.len() <
    // VALUE_MAX < its length); it is never written again once published.
    let path = unsafe { CStr::from_ptr(page.as_ptr().cast()) };
    let fd = open_checked(path)?;
    FD.store(fd, Ordering::Release);
    Ok(())
}

/// Opens `path` as the report file; its descriptor, its identity noted.
fn open_checked(path: &CStr) -> Result<c_int, Refusal> {
    // Refused before opening: opening a device can have effects of its own.
    match sys::lstat(path) {
        Ok(id) if id.kind == libc::S_IFLNK => return Err(Refusal::Symlink),
        Ok(id) if id.kind == libc::S_IFBLK => return Err(Refusal::BlockDevice),
        _ => {}
    }
    let fd = sys::open(path, report_file::OPEN_FLAGS, report_file::CREATE_MODE).map_err(
        |e| match e {
            libc::ELOOP => Refusal::Symlink,
            // O_NONBLOCK: a FIFO without a reader cannot be opened for writing.
            libc::ENXIO => Refusal::NoReader,
            e => Refusal::Errno(e),
        },
    )?;
    // Checked again on what was opened: the path may have changed since.
    match sys::fstat(fd) {
        Ok(id) if report_file::takes_report(id.kind) => {
            DEV.store(id.dev, Ordering::Relaxed);
            INO.store(id.ino, Ordering::Relaxed);
            Ok(fd)
        }
        Ok(id) => {
            sys::close(fd);
            Err(if id.kind == libc::S_IFBLK {
                Refusal::BlockDevice
            } else {
                Refusal::NotAFile
            })
        }
        Err(e) => {
            sys::close(fd);
            Err(Refusal::Errno(e))
        }
    }
}

/// `mptcpize[PID] report: cannot write the report to PATH: WHY; nothing is reported`
fn refused(path: &[u8], why: Refusal) {
    let mut slot = MaybeUninit::uninit();
    let line: &mut Line<LINE_MAX> = Line::start(&mut slot, " report: ");
    line.s("cannot write the report to ").b(path).s(": ");
    match why {
        Refusal::TooLong => {
            line.s("path too long");
        }
        Refusal::NoMemory => {
            line.s("out of memory");
        }
        Refusal::Symlink => {
            line.s("a symbolic link (refused: name the file itself)");
        }
        Refusal::BlockDevice => {
            line.s("a block device (refused)");
        }
        Refusal::NotAFile => {
            line.s("not a regular file, FIFO or character device");
        }
        Refusal::NoReader => {
            line.s("a FIFO nobody reads");
        }
        Refusal::Errno(e) => names::write_errno(line, e),
    }
    line.s("; nothing is reported");
    stderr::write(line.finish());
}

/// The longest report line, newline included; longer text is cut. At most
/// `PIPE_BUF`: a write(2) of a line to a pipe or FIFO is never split, nor
/// mixed with another process's.
pub const LINE_MAX: usize = 4096;

/// Writes one whole line where the report goes, or drops it when that is
/// gone. errno is preserved.
pub fn write(line: &[u8]) {
    match TO.load(Ordering::Acquire) {
        STDERR => {
            stderr::write(line);
        }
        FILE => {
            let _errno = errno::Guard::save();
            if let Some(fd) = file() {
                let _ = sys::write(fd, line);
            }
        }
        _ => {}
    }
}

/// The report file's descriptor, opened again if the program closed it.
fn file() -> Option<c_int> {
    let fd = FD.load(Ordering::Acquire);
    let ours = |fd| {
        sys::fstat(fd).is_ok_and(|id| {
            id.dev == DEV.load(Ordering::Relaxed) && id.ino == INO.load(Ordering::Relaxed)
        })
    };
    if fd >= 0 && ours(fd) {
        return Some(fd);
    }
    // SAFETY: as in open_file(): a published page holding the path.
    let path = unsafe { CStr::from_ptr(PATH.get()?.as_ptr().cast()) };
    let new = open_checked(path).ok()?;
    // The old number is no longer ours: never closed here.
    match FD.compare_exchange(fd, new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(new),
        Err(theirs) => {
            // Another thread opened it again first.
            sys::close(new);
            Some(theirs)
        }
    }
}
