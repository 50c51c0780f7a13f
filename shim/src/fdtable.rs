//! The per-fd record of the sockets the shim converted: which fds hold one,
//! and the options the program set on each with success, so that a socket
//! that has to become TCP again ([`crate::revert`]) gets them all back.
//!
//! Fixed-size and lock-free (the shim may not allocate or lock): one slot
//! of 256 bytes per fd below [`SLOTS`], in one anonymous mapping made when
//! the shim loads (reserved, not committed: a page is only backed by memory
//! once a socket on one of its 16 fds is converted). Each slot has a state
//! word (tracked or not, a generation, how many entries are claimed) and
//! [`ENTRIES`] entries. `socket()` starts a new generation for the fd it
//! returns; `setsockopt()` claims an entry with a compare-and-swap, fills
//! it, and publishes it by storing the generation in it last (Release), so
//! a reader sees an entry only whole and only for the socket now on the fd.
//! Every field is an atomic: racing threads (a program closing an fd in one
//! thread while setting options on it in another) read stale values, never
//! torn ones.
//!
//! The shim does not interpose `close()`: a slot stays "tracked" after its
//! socket is closed, until `socket()` converts another socket on the same
//! fd. [`crate::revert`] therefore asks the kernel whether the fd still
//! holds an unconnected MPTCP socket before it trusts the record.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// File descriptors below this are followed; a socket on a higher fd keeps
/// the kernel's error (the debug line says why).
pub const SLOTS: usize = 1 << 15;
/// The options recorded per socket; one more makes the record incomplete,
/// and an incomplete record keeps the kernel's error.
pub const ENTRIES: usize = 7;
/// The longest option value recorded (a `struct timeval` is 16 bytes, an
/// interface name or a congestion control's name at most 16).
pub const VALUE_MAX: usize = 20;

/// State word: the slot's socket was converted by the shim.
const TRACKED: u32 = 1 << 7;
/// State word: entries claimed (up to [`ENTRIES`]; [`ENTRIES`] + 1 means an
/// option could not be recorded).
const COUNT: u32 = 0x7f;
/// State word: the generation, above the flags.
const GEN_SHIFT: u32 = 8;

#[repr(C)]
struct Entry {
    /// The slot's state word (generation and TRACKED) when published, 0
    /// while being written.
    seq: AtomicU32,
    /// `level << 16 | name`.
    key: AtomicU32,
    len: AtomicU32,
    value: [AtomicU32; VALUE_MAX / 4],
}

#[repr(C, align(256))]
struct Slot {
    state: AtomicU32,
    _pad: [u32; 7],
    entries: [Entry; ENTRIES],
}

const _: () = assert!(core::mem::size_of::<Slot>() == 256);

/// The table; null until [`map`] made it.
static TABLE: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());

/// Reserves the table (called by the constructor, and by the first
/// converted socket if another library's constructor makes one earlier).
/// Without it nothing is recorded and every refused option keeps its error.
#[cold]
pub fn map() {
    if !TABLE.load(Ordering::Acquire).is_null() {
        return;
    }
    let bytes = SLOTS * core::mem::size_of::<Slot>();
    // SAFETY: an anonymous private mapping of our own; no memory of the
    // program is touched. MAP_NORESERVE: pages are committed when touched.
    let p = unsafe {
        libc::syscall(
            libc::SYS_mmap,
            core::ptr::null_mut::<c_void>(),
            bytes,
            libc::c_long::from(libc::PROT_READ | libc::PROT_WRITE),
            libc::c_long::from(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE),
            -1 as libc::c_long,
            0 as libc::c_long,
        )
    };
    if p < 0 {
        return;
    }
    let table = p as *mut Slot;
    if TABLE
        .compare_exchange(
            core::ptr::null_mut(),
            table,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        // Another thread mapped it first.
        // SAFETY: our own mapping, never published.
        unsafe { libc::syscall(libc::SYS_munmap, table, bytes) };
    }
}

/// [`converted`], mapping the table first if nobody has yet.
#[cold]
pub fn map_and_convert(fd: c_int) {
    if TABLE.load(Ordering::Acquire).is_null() {
        map();
        converted(fd);
    }
}

/// The slot of `fd`, if the table exists and `fd` is within it.
#[inline(always)]
fn slot(fd: c_int) -> Option<&'static Slot> {
    let table = TABLE.load(Ordering::Acquire);
    if table.is_null() || fd as u32 as usize >= SLOTS {
        return None;
    }
    // SAFETY: `fd < SLOTS`, within the mapping, which lives for the rest
    // of the process; zeroed memory is a valid Slot (all atomics), and
    // every access to it is atomic.
    Some(unsafe { &*table.add(fd as usize) })
}

/// `socket()` converted a socket onto `fd` (a negative `fd`, a failure, is
/// ignored): a new generation, tracked, with no options yet. The fd was
/// just given to this thread, so no other thread writes its slot now.
#[inline(always)]
pub fn converted(fd: c_int) {
    if let Some(slot) = slot(fd) {
        let s = slot.state.load(Ordering::Relaxed);
        let next = (s & !(TRACKED | COUNT)).wrapping_add(1 << GEN_SHIFT) | TRACKED;
        slot.state.store(next, Ordering::Release);
    }
}

/// The record of `fd` when it is tracked.
#[inline(always)]
pub fn tracked(fd: c_int) -> Option<Record> {
    let slot = slot(fd)?;
    let state = slot.state.load(Ordering::Acquire);
    (state & TRACKED != 0).then_some(Record { slot, state })
}

/// A tracked fd's slot, as its state word was when looked up.
#[derive(Clone, Copy)]
pub struct Record {
    slot: &'static Slot,
    state: u32,
}

/// One recorded option.
pub struct SetOption {
    pub level: c_int,
    pub name: c_int,
    pub len: u32,
    /// The value's bytes (the first `len`), in words so that a pointer to
    /// them is aligned for any option.
    pub value: [u32; VALUE_MAX / 4],
}

impl Record {
    /// Records an option the program set with success.
    ///
    /// # Safety
    /// `value` is readable for `len` bytes (as setsockopt just read them).
    pub unsafe fn add(self, level: c_int, name: c_int, value: *const c_void, len: u32) {
        let slot = self.slot;
        let generation = self.state & !COUNT;
        let mut state = slot.state.load(Ordering::Relaxed);
        let index = loop {
            let count = (state & COUNT) as usize;
            if state & !COUNT != generation || count > ENTRIES {
                return; // another socket now, or already incomplete
            }
            // An option too many, or a value we cannot keep, makes the
            // record incomplete.
            let keep = count < ENTRIES && len as usize <= VALUE_MAX && !value.is_null();
            let next = if keep {
                state + 1
            } else {
                generation | (ENTRIES as u32 + 1)
            };
            match slot
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if keep => break count,
                Ok(_) => return,
                Err(now) => state = now,
            }
        };
        let entry = &slot.entries[index];
        entry.seq.store(0, Ordering::Relaxed);
        entry.key.store(
            ((level as u32) << 16) | (name as u32 & 0xffff),
            Ordering::Relaxed,
        );
        entry.len.store(len, Ordering::Relaxed);
        let bytes = value.cast::<u8>();
        for (i, word) in entry.value.iter().enumerate() {
            let mut w = [0u8; 4];
            for (j, b) in w.iter_mut().enumerate() {
                let at = 4 * i + j;
                if at < len as usize {
                    // SAFETY: `at < len`, readable as the caller vouches.
                    *b = unsafe { *bytes.add(at) };
                }
            }
            word.store(u32::from_ne_bytes(w), Ordering::Relaxed);
        }
        entry.seq.store(generation, Ordering::Release);
    }

    /// True when every option the program set is in the record.
    pub fn complete(self) -> bool {
        let state = self.slot.state.load(Ordering::Acquire);
        state & !COUNT == self.state & !COUNT && (state & COUNT) as usize <= ENTRIES
    }

    /// Calls `f` with each recorded option, in the order they were set,
    /// until it returns false; false when an entry is missing (still being
    /// written by another thread, or of another socket) or `f` said so.
    pub fn each(self, mut f: impl FnMut(&SetOption) -> bool) -> bool {
        let generation = self.state & !COUNT;
        let state = self.slot.state.load(Ordering::Acquire);
        if state & !COUNT != generation {
            return false;
        }
        let count = ((state & COUNT) as usize).min(ENTRIES);
        for entry in &self.slot.entries[..count] {
            if entry.seq.load(Ordering::Acquire) != generation {
                return false;
            }
            let key = entry.key.load(Ordering::Relaxed);
            let mut option = SetOption {
                level: (key >> 16) as c_int,
                name: (key & 0xffff) as c_int,
                len: entry.len.load(Ordering::Relaxed),
                value: [0; VALUE_MAX / 4],
            };
            for (to, word) in option.value.iter_mut().zip(&entry.value) {
                *to = word.load(Ordering::Relaxed);
            }
            if !f(&option) {
                return false;
            }
        }
        true
    }

    /// The fd no longer holds a socket of ours (it became TCP).
    pub fn forget(self) {
        self.slot
            .state
            .store(self.state & !(TRACKED | COUNT), Ordering::Release);
    }
}
