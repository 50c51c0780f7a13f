//! Memory a library maps once per process and publishes to every thread:
//! the report's fd table, the report file's path. A mapping rather than a
//! static: a process that never needs it carries no `.bss` for it (an extra
//! mapping the loader sets up, which programs that read /proc/self/maps
//! walk). Untouched pages cost no memory.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A mapping of a fixed size, made by the first [`MapOnce::get_or_map`].
pub struct MapOnce {
    ptr: AtomicPtr<u8>,
    len: usize,
}

impl MapOnce {
    /// `len` bytes, not mapped yet.
    pub const fn new(len: usize) -> MapOnce {
        MapOnce {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
            len,
        }
    }

    /// The mapping, once published.
    #[inline]
    pub fn get(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.ptr.load(Ordering::Acquire))
    }

    /// The mapping, mapping it (zero bytes, then `fill`) and publishing it
    /// if nobody has yet. `fill` runs before anyone else can see the bytes;
    /// when two threads race, one mapping wins and the other is unmapped
    /// (its `fill` must then be the same, or harmless to lose). `None` when
    /// no memory can be mapped.
    pub fn get_or_map(&self, fill: impl FnOnce(&mut [u8])) -> Option<NonNull<u8>> {
        if let Some(p) = self.get() {
            return Some(p);
        }
        let p = crate::sys::mmap_anon(self.len)?;
        // SAFETY: a fresh mapping of `len` bytes that nobody else has seen.
        fill(unsafe { core::slice::from_raw_parts_mut(p.as_ptr(), self.len) });
        match self.ptr.compare_exchange(
            core::ptr::null_mut(),
            p.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(p),
            Err(theirs) => {
                // SAFETY: our mapping was never published.
                unsafe { crate::sys::munmap(p, self.len) };
                NonNull::new(theirs)
            }
        }
    }
}
