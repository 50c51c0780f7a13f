//! The system calls the preload libraries make for themselves, behind typed
//! signatures: callers pass slices, references and plain values, and the
//! raw pointers stay in this file.
//!
//! They are made with the `syscall` instruction itself ([`raw`]), not
//! through the C library: other preloaded libraries need not see these
//! calls, and the libraries import no `syscall` (every import is a symbol
//! look-up that each program pays for when it loads them).

use core::ffi::{c_int, c_long, c_void, CStr};
use core::mem::{size_of, MaybeUninit};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Makes a system call with up to six arguments, each passed as a machine
/// word (integers, pointers), as `syscall(2)` does: the result, or `-1`
/// with errno set.
macro_rules! syscall {
    ($nr:expr $(, $arg:expr)* $(,)?) => {
        syscall($nr, &[$($arg as c_long),*])
    };
}

/// System call `nr` with `args` (missing ones are 0), made with the system
/// call instruction: the result, or `-1` with errno set, as the C library's
/// `syscall()` returns it. (Also the next definition [`crate::chain!`] gives
/// a function when dlsym is not there: the system call itself.)
///
/// # Safety
/// As the system call: pointers among `args` valid for what the kernel reads
/// and writes there.
#[inline(always)]
pub unsafe fn syscall(nr: c_long, args: &[c_long]) -> c_long {
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    let rc: c_long;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Linux x86_64 system call convention (number in rax,
    // arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 clobbered);
    // memory is what the caller vouches for.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => rc,
            in("rdi") arg(0),
            in("rsi") arg(1),
            in("rdx") arg(2),
            in("r10") arg(3),
            in("r8") arg(4),
            in("r9") arg(5),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the Linux aarch64 system call convention (number in x8,
    // arguments and result in x0 to x5); memory as above.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") arg(0) => rc,
            in("x1") arg(1),
            in("x2") arg(2),
            in("x3") arg(3),
            in("x4") arg(4),
            in("x5") arg(5),
            options(nostack, preserves_flags),
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    // SAFETY: as above, through the C library on other architectures.
    return unsafe { libc::syscall(nr, arg(0), arg(1), arg(2), arg(3), arg(4), arg(5)) };
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        // The kernel returns -errno (-4095 to -1) on failure.
        if (-4095..0).contains(&rc) {
            crate::errno::set(-rc as c_int);
            return -1;
        }
        rc
    }
}

/// A raw syscall result: the value, or `-1` with errno set.
fn ret(rc: c_long) -> Result<c_long, c_int> {
    if rc < 0 {
        Err(crate::errno::get())
    } else {
        Ok(rc)
    }
}

/// Plain old data: every bit pattern is a valid value, so the kernel may
/// write any bytes into it.
///
/// # Safety
/// Implement only for C structs of integers and arrays of them.
pub unsafe trait Pod: Sized {}

// SAFETY: integers and C structs of integers (and arrays of them).
unsafe impl Pod for c_int {}
// SAFETY: as above.
unsafe impl Pod for libc::tcp_info {}
// SAFETY: as above.
unsafe impl Pod for libc::stat {}
// SAFETY: as above.
unsafe impl Pod for libc::sockaddr_storage {}

/// Fills `v` with zero bytes and gives it back initialised, in place. The
/// stores are volatile so that the compiler makes no `memset` call of them,
/// and nothing is moved (no `memcpy` either): the libraries import neither.
pub fn zeroed<T: Pod>(v: &mut MaybeUninit<T>) -> &mut T {
    let p = v.as_mut_ptr().cast::<u8>();
    for i in 0..size_of::<T>() {
        // SAFETY: `i` is within the value's bytes.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
    }
    // SAFETY: every byte was written, and zeros are a valid T (Pod).
    unsafe { v.assume_init_mut() }
}

/// abort(3): ends the process at once (async-signal-safe).
pub fn abort() -> ! {
    // SAFETY: abort() takes nothing and never returns.
    unsafe { libc::abort() }
}

/// getpid(2).
pub fn getpid() -> c_long {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall!(libc::SYS_getpid) }
}

/// write(2) of the whole of `buf` in one call; the bytes written.
pub fn write(fd: c_int, buf: &[u8]) -> Result<usize, c_int> {
    // SAFETY: `buf` is valid for reads of its length.
    let rc = unsafe { syscall!(libc::SYS_write, c_long::from(fd), buf.as_ptr(), buf.len()) };
    ret(rc).map(|n| n as usize)
}

/// close(2) of a descriptor the library owns.
pub fn close(fd: c_int) {
    // SAFETY: closing takes an integer; the caller owns `fd`.
    unsafe { syscall!(libc::SYS_close, c_long::from(fd)) };
}

/// What identifies an open file, and its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub rdev: u64,
    /// `st_mode & S_IFMT`.
    pub kind: u32,
}

/// fstat(2), reduced to what identifies the file.
pub fn fstat(fd: c_int) -> Result<FileId, c_int> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is room for one struct stat, written by the kernel.
    ret(unsafe { syscall!(libc::SYS_fstat, c_long::from(fd), st.as_mut_ptr()) })?;
    // SAFETY: on success the kernel wrote the whole struct (cp_new_stat
    // copies out a zeroed and filled one, padding included): not zeroed
    // first, which cost ~600 instructions per call.
    Ok(FileId::of(unsafe { st.assume_init_ref() }))
}

impl FileId {
    fn of(st: &libc::stat) -> FileId {
        FileId {
            dev: st.st_dev,
            ino: st.st_ino,
            rdev: st.st_rdev,
            kind: st.st_mode & libc::S_IFMT,
        }
    }
}

/// fstatat(2) of `path` itself (a symbolic link is not followed).
pub fn lstat(path: &CStr) -> Result<FileId, c_int> {
    let mut st = MaybeUninit::uninit();
    let st: &mut libc::stat = zeroed(&mut st);
    // SAFETY: a NUL-terminated path the kernel only reads, and room for one
    // struct stat, which it writes.
    ret(unsafe {
        syscall!(
            libc::SYS_newfstatat,
            c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            &raw mut *st,
            c_long::from(libc::AT_SYMLINK_NOFOLLOW),
        )
    })?;
    Ok(FileId::of(st))
}

/// socket(2), the system call itself: past every interposed `socket()`.
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, c_int> {
    // SAFETY: socket() takes integers.
    let rc = unsafe {
        syscall!(
            libc::SYS_socket,
            c_long::from(domain),
            c_long::from(ty),
            c_long::from(protocol),
        )
    };
    ret(rc).map(|fd| fd as c_int)
}

/// getsockopt(2) into `value`; the length the kernel wrote.
pub fn getsockopt<T: Pod>(fd: c_int, level: c_int, name: c_int, value: &mut T) -> Option<usize> {
    getsockopt_prefix(fd, level, name, value, size_of::<T>())
}

/// getsockopt(2) of the first `len` bytes of `value` (at most all of it):
/// for options whose struct points to more of `value` (`MPTCP_FULL_INFO`).
pub fn getsockopt_prefix<T: Pod>(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: &mut T,
    len: usize,
) -> Option<usize> {
    let mut len = len.min(size_of::<T>()) as u32;
    // SAFETY: `value` is valid for writes of `len` bytes, which the kernel
    // writes at most, and any bytes are a valid T (Pod).
    let rc = unsafe {
        syscall!(
            libc::SYS_getsockopt,
            c_long::from(fd),
            c_long::from(level),
            c_long::from(name),
            (value as *mut T).cast::<c_void>(),
            &raw mut len,
        )
    };
    ret(rc).ok().map(|_| len as usize)
}

/// send(2) of the whole of `buf` in one call (a netlink request); the
/// bytes sent.
pub fn send(fd: c_int, buf: &[u8]) -> Result<usize, c_int> {
    // SAFETY: `buf` is valid for reads of its length; no address.
    let rc = unsafe {
        syscall!(
            libc::SYS_sendto,
            c_long::from(fd),
            buf.as_ptr(),
            buf.len(),
            0 as c_long,
            core::ptr::null::<libc::sockaddr>(),
            0 as c_long,
        )
    };
    ret(rc).map(|n| n as usize)
}

/// recv(2) of one message into `buf`; the bytes the kernel wrote.
pub fn recv(fd: c_int, buf: &mut [MaybeUninit<u8>]) -> Result<&[u8], c_int> {
    // SAFETY: `buf` is valid for writes of its length, which the kernel
    // writes at most; no address is asked for.
    let rc = unsafe {
        syscall!(
            libc::SYS_recvfrom,
            c_long::from(fd),
            buf.as_mut_ptr(),
            buf.len(),
            0 as c_long,
            core::ptr::null_mut::<libc::sockaddr>(),
            core::ptr::null_mut::<u32>(),
        )
    };
    let n = (ret(rc)? as usize).min(buf.len());
    // SAFETY: the kernel wrote the first `n` bytes; MaybeUninit<u8> has
    // u8's layout.
    Ok(unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) })
}

/// getdents64(2) into `buf`: the bytes of the `linux_dirent64` entries
/// the kernel wrote, empty at the end of the directory.
pub fn getdents(fd: c_int, buf: &mut [MaybeUninit<u8>]) -> Result<&[u8], c_int> {
    // SAFETY: `buf` is valid for writes of its length, which the kernel
    // writes at most.
    let rc = unsafe {
        syscall!(
            libc::SYS_getdents64,
            c_long::from(fd),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    let n = (ret(rc)? as usize).min(buf.len());
    // SAFETY: the kernel wrote the first `n` bytes.
    Ok(unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) })
}

/// getsockname(2), when the address is an IPv4 or IPv6 one.
pub fn local_addr(fd: c_int) -> Option<SocketAddr> {
    getsockname(fd).and_then(|a| socket_addr(&a.storage))
}

/// setsockopt(2) with the bytes of `value`: the system call itself, past
/// every interposed `setsockopt()`.
pub fn setsockopt(fd: c_int, level: c_int, name: c_int, value: &[u8]) -> Result<(), c_int> {
    // SAFETY: `value` is valid for reads of its length, all the kernel reads.
    let rc = unsafe {
        syscall!(
            libc::SYS_setsockopt,
            c_long::from(fd),
            c_long::from(level),
            c_long::from(name),
            value.as_ptr(),
            value.len() as c_long,
        )
    };
    ret(rc).map(|_| ())
}

/// A socket address as the kernel writes it, and its length.
pub struct RawAddr {
    pub storage: libc::sockaddr_storage,
    pub len: u32,
}

/// getsockname(2), the address as the kernel gives it (to bind another
/// socket to it).
pub fn getsockname(fd: c_int) -> Option<RawAddr> {
    let mut ss = MaybeUninit::uninit();
    let storage: &mut libc::sockaddr_storage = zeroed(&mut ss);
    let mut len = size_of::<libc::sockaddr_storage>() as u32;
    // SAFETY: `storage` is valid for writes of `len` bytes, which the
    // kernel writes at most.
    let rc = unsafe {
        syscall!(
            libc::SYS_getsockname,
            c_long::from(fd),
            &raw mut *storage,
            &raw mut len,
        )
    };
    ret(rc).ok()?;
    Some(RawAddr {
        storage: *storage,
        len,
    })
}

/// bind(2) to an address [`getsockname`] gave.
pub fn bind(fd: c_int, addr: &RawAddr) -> Result<(), c_int> {
    // SAFETY: the storage is valid for reads of `len` bytes (at most its size).
    let rc = unsafe {
        syscall!(
            libc::SYS_bind,
            c_long::from(fd),
            &raw const addr.storage,
            c_long::from(addr.len.min(size_of::<libc::sockaddr_storage>() as u32)),
        )
    };
    ret(rc).map(|_| ())
}

/// dup3(2): `new` becomes a copy of `old`, atomically closing what it was.
pub fn dup3(old: c_int, new: c_int, flags: c_int) -> Result<(), c_int> {
    // SAFETY: dup3 takes integers.
    let rc = unsafe {
        syscall!(
            libc::SYS_dup3,
            c_long::from(old),
            c_long::from(new),
            c_long::from(flags),
        )
    };
    ret(rc).map(|_| ())
}

/// getsockopt(2) of an integer option.
pub fn getsockopt_int(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let mut v: c_int = 0;
    getsockopt(fd, level, name, &mut v).map(|_| v)
}

/// getpeername(2), when the peer is an IPv4 or IPv6 address.
pub fn getpeername(fd: c_int) -> Option<SocketAddr> {
    let mut ss = MaybeUninit::uninit();
    let ss: &mut libc::sockaddr_storage = zeroed(&mut ss);
    let mut len = size_of::<libc::sockaddr_storage>() as u32;
    // SAFETY: `ss` is valid for writes of `len` bytes, which the kernel
    // writes at most.
    let rc = unsafe {
        syscall!(
            libc::SYS_getpeername,
            c_long::from(fd),
            &raw mut *ss,
            &raw mut len,
        )
    };
    ret(rc).ok()?;
    socket_addr(ss)
}

/// A `sockaddr_storage` holding an IPv4 or IPv6 address, as a SocketAddr.
pub fn socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match c_int::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which
            // is smaller and less aligned than sockaddr_storage.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// poll(2) of one descriptor without waiting (ppoll with a zero timeout):
/// its `revents`, if it has any.
pub fn poll_now(fd: c_int, events: i16) -> Option<i16> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: one pollfd and a timespec, both valid for the call; no mask.
    let rc = unsafe {
        syscall!(
            libc::SYS_ppoll,
            &raw mut p,
            1 as c_long,
            &raw const zero,
            core::ptr::null::<libc::sigset_t>(),
            0 as c_long,
        )
    };
    (ret(rc) == Ok(1)).then_some(p.revents)
}

/// openat(2) from the working directory; the new descriptor, owned by the
/// caller.
pub fn open(path: &CStr, flags: c_int, mode: u32) -> Result<c_int, c_int> {
    // SAFETY: a NUL-terminated path; the kernel only reads it.
    let rc = unsafe {
        syscall!(
            libc::SYS_openat,
            c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            c_long::from(flags),
            c_long::from(mode),
        )
    };
    ret(rc).map(|fd| fd as c_int)
}

/// fcntl(2) with an integer argument.
pub fn fcntl(fd: c_int, cmd: c_int, arg: c_int) -> Result<c_int, c_int> {
    // SAFETY: the commands used take an integer argument, no pointer.
    let rc = unsafe {
        syscall!(
            libc::SYS_fcntl,
            c_long::from(fd),
            c_long::from(cmd),
            c_long::from(arg),
        )
    };
    ret(rc).map(|v| v as c_int)
}

/// True when `fd` is an open file descriptor.
pub fn is_open(fd: c_int) -> bool {
    fcntl(fd, libc::F_GETFD, 0).is_ok()
}

/// A fresh private anonymous mapping of `len` zero bytes, never unmapped
/// unless given to [`munmap`].
pub fn mmap_anon(len: usize) -> Option<core::ptr::NonNull<u8>> {
    // SAFETY: an anonymous private mapping at an address the kernel picks;
    // no memory of ours is touched.
    let p = unsafe {
        syscall!(
            libc::SYS_mmap,
            core::ptr::null_mut::<u8>(),
            len,
            c_long::from(libc::PROT_READ | libc::PROT_WRITE),
            c_long::from(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS),
            -1 as c_long,
            0 as c_long,
        )
    };
    if p < 0 {
        return None;
    }
    core::ptr::NonNull::new(p as *mut u8)
}

/// munmap(2) of a mapping [`mmap_anon`] made and nobody else has seen.
///
/// # Safety
/// `p` and `len` are those of a mapping from [`mmap_anon`] to which no
/// reference is left.
pub unsafe fn munmap(p: core::ptr::NonNull<u8>, len: usize) {
    // SAFETY: the caller vouches that the mapping is unused.
    unsafe { syscall!(libc::SYS_munmap, p.as_ptr(), len) };
}

/// The process's name (`/proc/self/comm`, `prctl(PR_GET_NAME)`): up to 15
/// bytes, any but NUL.
pub fn comm(buf: &mut [u8; 16]) -> &[u8] {
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into
    // `buf`, which holds 16.
    let rc = unsafe {
        syscall!(
            libc::SYS_prctl,
            c_long::from(libc::PR_GET_NAME),
            buf.as_mut_ptr(),
        )
    };
    if ret(rc).is_err() {
        return &[];
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf.get(..len).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn system_calls_give_results_and_set_errno_as_syscall_does() {
        assert_eq!(getpid(), c_long::from(std::process::id() as i32));
        crate::errno::set(0);
        assert_eq!(fcntl(-1, libc::F_GETFD, 0), Err(libc::EBADF));
        assert_eq!(crate::errno::get(), libc::EBADF);
        let fd = socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0).unwrap();
        assert!(fd >= 0);
        let one: c_int = 1;
        // SAFETY: an int's bytes; then a null pointer the kernel refuses.
        unsafe {
            let keepalive = [libc::SOL_SOCKET, libc::SO_KEEPALIVE].map(c_long::from);
            let one = [
                c_long::from(fd),
                keepalive[0],
                keepalive[1],
                (&raw const one) as c_long,
                4,
            ];
            assert_eq!(syscall(libc::SYS_setsockopt, &one), 0);
            let null = [c_long::from(fd), keepalive[0], keepalive[1], 0, 4];
            assert_eq!(syscall(libc::SYS_setsockopt, &null), -1);
        }
        assert_eq!(crate::errno::get(), libc::EFAULT);
        assert_eq!(
            getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            Some(1)
        );
        // Six arguments, a pointer among them: an anonymous mapping.
        let page = mmap_anon(4096).expect("mmap");
        // SAFETY: the mapping just made, which nothing else uses.
        unsafe { munmap(page, 4096) };
        close(fd);
        assert!(!is_open(fd));
        assert_eq!(socket(-1, 0, 0), Err(libc::EAFNOSUPPORT));
        assert_eq!(crate::errno::get(), libc::EAFNOSUPPORT);
    }
}
