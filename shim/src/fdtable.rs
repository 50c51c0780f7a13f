//! The per-fd record of the sockets the shim converted: which fds hold one,
//! and the options the program set on each with success, so that a socket
//! that has to become TCP again ([`crate::revert`]) gets them all back.
//!
//! Fixed-size and lock-free (the shim may not allocate or lock): per fd
//! below [`SLOTS`], a state word (tracked, how many options are recorded,
//! an entry being written, incomplete) and [`ENTRIES`] entries, in two
//! arrays in `.bss` (zero pages the kernel maps on first touch: a program
//! pays memory only for the pages of the fds it uses). The state words are
//! an array of their own so that `socket()` marks one with a single store
//! at `STATE + 4 × fd`. `socket()` marks the fd it returns tracked with an
//! empty record (one store); `setsockopt()` claims the next entry with a
//! compare-and-swap, fills it, and publishes it by raising the count
//! (Release), so a reader sees only whole entries. A second thread setting
//! an option on the same fresh socket at that moment does not wait: it
//! marks the record incomplete, and an incomplete record keeps the
//! kernel's error instead of making the socket TCP. Every field is an
//! atomic: racing threads read stale values, never torn ones.
//!
//! The shim does not interpose `close()`: a slot stays "tracked" after its
//! socket is closed, until `socket()` converts another socket on the same
//! fd. [`crate::revert`] therefore asks the kernel whether the fd still
//! holds an unconnected MPTCP socket before it trusts the record.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU32, Ordering};

/// File descriptors below this are followed; a socket on a higher fd keeps
/// the kernel's error (the debug line says why).
pub const SLOTS: usize = 1 << 15;
/// The options recorded per socket; one more makes the record incomplete.
pub const ENTRIES: usize = 7;
/// The longest option value recorded (a `struct timeval` is 16 bytes, an
/// interface name or a congestion control's name at most 16).
pub const VALUE_MAX: usize = 20;

/// State word: entries recorded (0 to [`ENTRIES`]).
const COUNT: u32 = 0xf;
/// State word: an option could not be recorded.
const INCOMPLETE: u32 = 1 << 4;
/// State word: an entry is being written.
const WRITING: u32 = 1 << 5;
/// State word: the slot's socket was converted by the shim.
const TRACKED: u32 = 1 << 6;

#[repr(C)]
struct Entry {
    /// `level << 16 | name`.
    key: AtomicU32,
    len: AtomicU32,
    value: [AtomicU32; VALUE_MAX / 4],
}

const _: () = assert!(ENTRIES < COUNT as usize);

/// Zero bytes are an empty entry.
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: [Entry; ENTRIES] = [const {
    Entry {
        key: AtomicU32::new(0),
        len: AtomicU32::new(0),
        value: [const { AtomicU32::new(0) }; VALUE_MAX / 4],
    }
}; ENTRIES];

/// Each fd's state word, all zeros (untracked): in `.bss`, so it costs
/// neither file size nor memory until used.
static STATE: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
/// Each fd's entries, in `.bss` too.
static ENTRY: [[Entry; ENTRIES]; SLOTS] = [EMPTY; SLOTS];

/// How many fds [`converted_fast`] marks: [`SLOTS`] once the configuration
/// is read and the debug log is off, else 0 (every socket then goes the
/// long way, which marks it with [`converted`]). Only ever 0 or `SLOTS`.
static FAST: AtomicU32 = AtomicU32::new(0);

/// Called when the configuration is read: `quiet` when a converted socket
/// needs nothing but its mark.
pub fn set_fast(quiet: bool) {
    FAST.store(if quiet { SLOTS as u32 } else { 0 }, Ordering::Release);
}

/// `socket()`'s hot path: marks `fd` as [`converted`] does when it is below
/// [`FAST`], and says whether it did. One comparison answers the three
/// cases that need more (a failure, whose negative fd compares above every
/// limit; an fd beyond the record; the debug log or a configuration not
/// read yet, which make the limit 0).
#[inline(always)]
pub fn converted_fast(fd: c_int) -> bool {
    let index = fd as u32;
    if index >= FAST.load(Ordering::Relaxed) {
        return false;
    }
    // SAFETY: index < FAST, and FAST is 0 or SLOTS, the array's length.
    unsafe { STATE.get_unchecked(index as usize) }.store(TRACKED, Ordering::Release);
    true
}

/// `socket()` converted a socket onto `fd`: tracked, with no options yet.
/// False for a negative `fd` (a failure) or one beyond the record. The fd
/// was just given to this thread, so no other thread writes its state now.
#[inline(always)]
pub fn converted(fd: c_int) -> bool {
    match STATE.get(fd as u32 as usize) {
        Some(state) => {
            state.store(TRACKED, Ordering::Release);
            true
        }
        None => false,
    }
}

/// True when `fd` is tracked (the test of [`tracked`], without making the
/// record).
#[inline(always)]
pub fn is_tracked(fd: c_int) -> bool {
    STATE
        .get(fd as u32 as usize)
        .is_some_and(|state| state.load(Ordering::Acquire) & TRACKED != 0)
}

/// The record of `fd` when it is tracked.
#[inline(always)]
pub fn tracked(fd: c_int) -> Option<Record> {
    let index = fd as u32 as usize;
    let state = STATE.get(index)?;
    (state.load(Ordering::Acquire) & TRACKED != 0).then_some(Record {
        state,
        entries: &ENTRY[index],
    })
}

/// A tracked fd's state and entries.
#[derive(Clone, Copy)]
pub struct Record {
    state: &'static AtomicU32,
    entries: &'static [Entry; ENTRIES],
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
        let state = self.state;
        let keep = len as usize <= VALUE_MAX && !value.is_null();
        let mut s = state.load(Ordering::Relaxed);
        let index = loop {
            // The usual case: tracked, complete, nobody writing, an entry
            // free.
            if !keep
                || s & (TRACKED | INCOMPLETE | WRITING) != TRACKED
                || (s & COUNT) as usize >= ENTRIES
            {
                if s & (TRACKED | INCOMPLETE) == TRACKED {
                    // Ours, and this option cannot be recorded (too long,
                    // no room, another thread writing).
                    state.fetch_or(INCOMPLETE, Ordering::Relaxed);
                }
                return; // else no longer ours, or already incomplete
            }
            match state.compare_exchange_weak(s, s | WRITING, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break (s & COUNT) as usize,
                Err(now) => s = now,
            }
        };
        let entry = &self.entries[index];
        entry.key.store(
            ((level as u32) << 16) | (name as u32 & 0xffff),
            Ordering::Relaxed,
        );
        entry.len.store(len, Ordering::Relaxed);
        // The value by words (readers take only its first `len` bytes, so
        // the words past them are left as they are).
        let bytes = value.cast::<u8>();
        let len = len as usize;
        for (i, word) in entry.value.iter().enumerate().take(len.div_ceil(4)) {
            let at = 4 * i;
            let w = if at + 4 <= len {
                // SAFETY: bytes `at..at + 4` are within `len`, readable as the
                // caller vouches (at any alignment).
                unsafe { bytes.add(at).cast::<u32>().read_unaligned() }
            } else {
                // The last word, partial: its bytes one by one (volatile
                // reads, which the compiler does not make a `memcpy` call
                // of: the library imports none).
                let mut w = [0u8; 4];
                for (j, b) in w.iter_mut().enumerate().take(len - at) {
                    // SAFETY: `at + j < len`, readable as above.
                    *b = unsafe { bytes.add(at + j).read_volatile() };
                }
                u32::from_ne_bytes(w)
            };
            word.store(w, Ordering::Relaxed);
        }
        // Publish: WRITING off and the count up by one, in one step.
        state.fetch_sub(WRITING - 1, Ordering::Release);
    }

    /// True when every option the program set is in the record.
    pub fn complete(self) -> bool {
        self.state.load(Ordering::Acquire) & (INCOMPLETE | WRITING) == 0
    }

    /// Calls `f` with each recorded option, in the order they were set,
    /// until it returns false; false when `f` did.
    pub fn each(self, mut f: impl FnMut(&SetOption) -> bool) -> bool {
        let count = (self.state.load(Ordering::Acquire) & COUNT) as usize;
        for entry in &self.entries[..count.min(ENTRIES)] {
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
        self.state.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_and_marks_an_overflow_incomplete() {
        let fd = 100;
        assert!(tracked(fd).is_none());
        assert!(converted(fd));
        let r = tracked(fd).unwrap();
        for k in 0..ENTRIES as c_int {
            let v: c_int = 1000 + k;
            // SAFETY: an int's bytes.
            unsafe { r.add(6, k, (&v as *const c_int).cast(), 4) };
        }
        assert!(r.complete());
        let mut seen = Vec::new();
        assert!(r.each(|o| {
            seen.push((o.level, o.name, o.len, o.value[0] as c_int));
            true
        }));
        let want: Vec<_> = (0..ENTRIES as c_int).map(|k| (6, k, 4, 1000 + k)).collect();
        assert_eq!(seen, want);
        let v: c_int = 1;
        // SAFETY: as above.
        unsafe { r.add(1, 9, (&v as *const c_int).cast(), 4) };
        assert!(!r.complete());
        // A new socket on the fd starts over.
        converted(fd);
        assert!(tracked(fd).unwrap().complete());
        let long = [0u8; VALUE_MAX + 1];
        // SAFETY: `long` has that many bytes.
        unsafe {
            tracked(fd)
                .unwrap()
                .add(1, 25, long.as_ptr().cast(), long.len() as u32)
        };
        assert!(!tracked(fd).unwrap().complete());
        tracked(fd).unwrap().forget();
        assert!(tracked(fd).is_none());
        assert!(tracked(-1).is_none() && tracked(SLOTS as c_int).is_none());
        assert!(!converted(-1) && !converted(SLOTS as c_int));
        // The fast mark works once the configuration says quiet.
        set_fast(false);
        assert!(!converted_fast(fd));
        set_fast(true);
        assert!(converted_fast(fd) && tracked(fd).is_some());
        assert!(!converted_fast(-1) && !converted_fast(SLOTS as c_int));
    }

    #[test]
    fn records_values_of_every_length_at_any_alignment() {
        let fd = 101;
        let source: [u8; VALUE_MAX + 1] = core::array::from_fn(|i| i as u8 + 1);
        for len in 0..=VALUE_MAX {
            // From an odd address, so that the words are read unaligned.
            let value = &source[1..=len];
            converted(fd);
            let r = tracked(fd).unwrap();
            // SAFETY: `value` has `len` bytes.
            unsafe { r.add(1, 25, value.as_ptr().cast(), len as u32) };
            assert!(r.each(|o| {
                let bytes: Vec<u8> = o.value.iter().flat_map(|w| w.to_ne_bytes()).collect();
                assert_eq!((o.len as usize, &bytes[..len]), (len, value));
                true
            }));
        }
    }
}
