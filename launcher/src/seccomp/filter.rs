//! The seccomp filter of seccomp mode: a classic-BPF program that hands the
//! `socket()` calls the rules convert to the supervisor
//! (`SECCOMP_RET_USER_NOTIF`) and allows every other system call, untouched
//! and at full speed. It denies nothing. With `run --report` it also hands
//! over `exit_group()`, so that the supervisor writes a process's report
//! line before the process is gone.
//!
//! The program is generated from `mptcpize-rules` (`FAMILIES`,
//! `SOCK_TYPE_MASK`, `SOCK_STREAM`, `TCP_PROTOCOLS`), so it cannot drift from
//! the shim; a unit test runs it in a small interpreter against
//! `should_convert` for every combination.
//!
//! Why hand-built: `seccompiler` (rust-vmm) has no user-notification action,
//! and the `libseccomp` crate links the C libseccomp (a run-time dependency
//! for a 15-instruction program). The instructions below use the kernel's
//! named constants from the `libc` crate.

use mptcpize_rules::{FAMILIES, SOCK_STREAM, SOCK_TYPE_MASK, TCP_PROTOCOLS};
use std::io;
use std::mem::offset_of;
use std::os::fd::{FromRawFd, OwnedFd};

/// `AUDIT_ARCH_*` (linux/audit.h): the ELF machine with the 64-bit and
/// little-endian bits. Only system calls of the launcher's own architecture
/// are looked at; others (i386 or x32 programs on x86_64) are allowed as is.
const AUDIT_ARCH_64BIT: u32 = 0x8000_0000;
const AUDIT_ARCH_LE: u32 = 0x4000_0000;

/// The architecture this filter decodes, or `None` where seccomp mode is
/// not supported.
pub const NATIVE_ARCH: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(libc::EM_X86_64 as u32 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE)
} else if cfg!(target_arch = "aarch64") && cfg!(target_endian = "little") {
    Some(libc::EM_AARCH64 as u32 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE)
} else {
    None
};

/// Offsets in `struct seccomp_data`.
const NR: u32 = offset_of!(libc::seccomp_data, nr) as u32;
const ARCH: u32 = offset_of!(libc::seccomp_data, arch) as u32;
const ARGS: u32 = offset_of!(libc::seccomp_data, args) as u32;

/// The low 32 bits of argument `i` (socket() takes `int`s; the kernel
/// ignores the upper half, and so does the filter). Both supported
/// architectures are little-endian.
const fn arg_low(i: u32) -> u32 {
    ARGS + 8 * i
}

/// Where a jump goes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Label {
    Next,
    CheckFamily,
    CheckType,
    Notify,
    Allow,
}

/// One instruction before its jumps are resolved.
enum Insn {
    Stmt(u16, u32),
    Jump(u16, u32, Label, Label),
    Goto(Label),
    Place(Label),
}

/// The filter program, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
pub struct Program(Vec<libc::sock_filter>);

impl Program {
    /// Builds the filter for `arch` and its `socket` system call number;
    /// with `exit_nr` (`exit_group`'s number, for the report) that call is
    /// handed to the supervisor too.
    pub fn build(arch: u32, socket_nr: u32, exit_nr: Option<u32>) -> Program {
        const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
        const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
        const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
        const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
        use Insn::*;
        use Label::*;

        let mut code = vec![
            Stmt(LD_ABS, ARCH),
            Jump(JEQ, arch, Next, Allow),
            Stmt(LD_ABS, NR),
        ];
        match exit_nr {
            Some(exit_nr) => code.extend([
                Jump(JEQ, socket_nr, CheckFamily, Next),
                Jump(JEQ, exit_nr, Notify, Allow),
            ]),
            None => code.push(Jump(JEQ, socket_nr, CheckFamily, Allow)),
        }
        // domain ∈ FAMILIES
        code.extend([Place(CheckFamily), Stmt(LD_ABS, arg_low(0))]);
        for family in FAMILIES {
            code.push(Jump(JEQ, family as u32, CheckType, Next));
        }
        code.push(Goto(Allow));
        // (type & SOCK_TYPE_MASK) == SOCK_STREAM: flags are ignored
        code.extend([
            Place(CheckType),
            Stmt(LD_ABS, arg_low(1)),
            Stmt(AND, SOCK_TYPE_MASK as u32),
            Jump(JEQ, SOCK_STREAM as u32, Next, Allow),
            // protocol ∈ TCP_PROTOCOLS
            Stmt(LD_ABS, arg_low(2)),
        ]);
        for protocol in TCP_PROTOCOLS {
            code.push(Jump(JEQ, protocol as u32, Notify, Next));
        }
        code.extend([
            Goto(Allow),
            Place(Notify),
            Stmt(RET, libc::SECCOMP_RET_USER_NOTIF),
            Place(Allow),
            Stmt(RET, libc::SECCOMP_RET_ALLOW),
        ]);
        Program(assemble(&code))
    }

    /// The filter for the architecture the launcher runs on; `exits`: with
    /// `exit_group()` handed over too.
    pub fn native(exits: bool) -> Option<Program> {
        let exit_nr = exits.then_some(libc::SYS_exit_group as u32);
        Some(Program::build(
            NATIVE_ARCH?,
            libc::SYS_socket as u32,
            exit_nr,
        ))
    }

    /// The instructions.
    #[cfg(test)]
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.0
    }
}

/// Resolves labels into relative jump offsets.
fn assemble(code: &[Insn]) -> Vec<libc::sock_filter> {
    let mut at = std::collections::HashMap::new();
    let mut pc = 0usize;
    for insn in code {
        match insn {
            Insn::Place(label) => {
                at.insert(*label, pc);
            }
            _ => pc += 1,
        }
    }
    let mut out = Vec::with_capacity(pc);
    for insn in code {
        let here = out.len();
        let offset = |label: Label| -> u8 {
            let target = if label == Label::Next {
                here + 1
            } else {
                at[&label]
            };
            u8::try_from(target - (here + 1)).expect("the filter is short")
        };
        match *insn {
            Insn::Place(_) => continue,
            Insn::Stmt(code, k) => out.push(libc::sock_filter {
                code,
                jt: 0,
                jf: 0,
                k,
            }),
            // BPF_JA jumps by k.
            Insn::Goto(to) => out.push(libc::sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JA) as u16,
                jt: 0,
                jf: 0,
                k: u32::from(offset(to)),
            }),
            Insn::Jump(code, k, jt, jf) => out.push(libc::sock_filter {
                code,
                jt: offset(jt),
                jf: offset(jf),
                k,
            }),
        }
    }
    out
}

/// Flags of `seccomp(SECCOMP_SET_MODE_FILTER)`: return a listener fd; and
/// once the supervisor has read a notification, let only fatal signals
/// interrupt the waiting thread (Linux 5.19+), so that a signal arriving
/// while the supervisor creates the socket does not waste that work.
const FLAGS: libc::c_ulong =
    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

/// Installs `program` on the calling thread (the launcher, single-threaded,
/// just before it executes PROG) and returns the notification listener.
/// Needs `no_new_privs` (or CAP_SYS_ADMIN).
pub fn install(program: &Program) -> io::Result<OwnedFd> {
    let prog = libc::sock_fprog {
        len: program.0.len() as libc::c_ushort,
        filter: program.0.as_ptr().cast_mut(),
    };
    let mut flags = FLAGS;
    loop {
        // SAFETY: seccomp() reads `prog`, which points to the program's
        // instructions; both outlive the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &raw const prog,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh listener fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        let err = io::Error::last_os_error();
        // Kernels 5.14 to 5.18 do not know WAIT_KILLABLE_RECV.
        if err.raw_os_error() == Some(libc::EINVAL)
            && flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0
        {
            flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
            continue;
        }
        return Err(err);
    }
}

/// Whether this kernel and architecture can run seccomp mode, or a sentence
/// saying why not.
pub fn check_support() -> Result<(), String> {
    if NATIVE_ARCH.is_none() {
        return Err(format!(
            "seccomp mode supports x86_64 and aarch64, not {}",
            std::env::consts::ARCH
        ));
    }
    let action: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &raw const action,
        )
    };
    if r != 0 {
        let err = io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::EOPNOTSUPP) => {
                "this kernel has no seccomp user notification (Linux 5.0+ is needed)".to_string()
            }
            _ => format!("this kernel has no seccomp filters ({err})"),
        });
    }
    let release = kernel_release();
    match parse_release(&release) {
        Some(v) if v < (5, 14) => Err(format!(
            "seccomp mode needs Linux 5.14 or later (SECCOMP_ADDFD_FLAG_SEND); this kernel is {release}"
        )),
        _ => Ok(()),
    }
}

fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// `(5, 14)` for `5.14.0-1-amd64`.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mptcpize_rules::should_convert;

    /// Runs a classic-BPF seccomp program on one `seccomp_data` (only the
    /// instructions the filter uses).
    fn run(prog: &Program, data: &libc::seccomp_data) -> u32 {
        // SAFETY: seccomp_data is plain old data; we read its bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (data as *const libc::seccomp_data).cast::<u8>(),
                std::mem::size_of::<libc::seccomp_data>(),
            )
        };
        let insns = prog.instructions();
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let i = insns[pc];
            pc += 1;
            match u32::from(i.code) {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    let k = i.k as usize;
                    a = u32::from_ne_bytes(bytes[k..k + 4].try_into().unwrap());
                }
                c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= i.k,
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf })
                }
                c if c == libc::BPF_JMP | libc::BPF_JA => pc += i.k as usize,
                c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                c => panic!("unexpected instruction {c:#x}"),
            }
        }
    }

    fn data(arch: u32, nr: i32, args: [u64; 3]) -> libc::seccomp_data {
        libc::seccomp_data {
            nr,
            arch,
            instruction_pointer: 0,
            args: [args[0], args[1], args[2], 0, 0, 0],
        }
    }

    const X86_64: u32 = 0xc000_003e;
    const SYS_SOCKET_X86_64: i32 = 41;

    #[test]
    fn native_arch_matches_the_audit_constant() {
        #[cfg(target_arch = "x86_64")]
        assert_eq!(NATIVE_ARCH, Some(X86_64));
        #[cfg(target_arch = "aarch64")]
        assert_eq!(NATIVE_ARCH, Some(0xc000_00b7));
    }

    #[test]
    fn notifies_exactly_the_sockets_the_rules_convert() {
        let prog = Program::build(X86_64, SYS_SOCKET_X86_64 as u32, None);
        let with_exits = Program::build(X86_64, SYS_SOCKET_X86_64 as u32, Some(231));
        let families = [
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_UNIX,
            libc::AF_NETLINK,
            libc::AF_PACKET,
            0,
        ];
        let types = [
            libc::SOCK_STREAM,
            libc::SOCK_DGRAM,
            libc::SOCK_SEQPACKET,
            libc::SOCK_RAW,
        ];
        let flags = [0, libc::SOCK_NONBLOCK, libc::SOCK_CLOEXEC];
        let protos = [0, 6, 17, 132, 262, -1];
        for f in families {
            for t in types {
                for fl in flags {
                    for p in protos {
                        let d = data(
                            X86_64,
                            SYS_SOCKET_X86_64,
                            [f as u64, (t | fl) as u64, p as u64],
                        );
                        let want = if should_convert(f, t | fl, p) {
                            libc::SECCOMP_RET_USER_NOTIF
                        } else {
                            libc::SECCOMP_RET_ALLOW
                        };
                        assert_eq!(run(&prog, &d), want, "socket({f}, {t}|{fl}, {p})");
                        assert_eq!(run(&with_exits, &d), want, "socket({f}, {t}|{fl}, {p})");
                    }
                }
            }
        }
    }

    #[test]
    fn hands_over_exit_group_only_when_asked() {
        let args = [0, 0, 0];
        let without = Program::build(X86_64, SYS_SOCKET_X86_64 as u32, None);
        let with = Program::build(X86_64, SYS_SOCKET_X86_64 as u32, Some(231));
        assert_eq!(
            run(&without, &data(X86_64, 231, args)),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&with, &data(X86_64, 231, args)),
            libc::SECCOMP_RET_USER_NOTIF
        );
        // exit (one thread), getpid, and exit_group of another architecture.
        for (arch, nr) in [(X86_64, 60), (X86_64, 39), (0x4000_0003, 231)] {
            assert_eq!(run(&with, &data(arch, nr, args)), libc::SECCOMP_RET_ALLOW);
        }
    }

    #[test]
    fn allows_other_syscalls_and_architectures() {
        let prog = Program::build(X86_64, SYS_SOCKET_X86_64 as u32, None);
        let tcp = [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0];
        // getpid, connect with the same arguments, and socket() of i386 (nr 359)
        // and x32 (41 | 0x40000000).
        for (arch, nr) in [
            (X86_64, 39),
            (X86_64, 42),
            (0x4000_0003, 359),
            (0x4000_0003, SYS_SOCKET_X86_64),
            (X86_64, SYS_SOCKET_X86_64 | 0x4000_0000),
        ] {
            assert_eq!(run(&prog, &data(arch, nr, tcp)), libc::SECCOMP_RET_ALLOW);
        }
        // The upper half of a 64-bit argument is ignored, as the kernel does.
        let high = [libc::AF_INET as u64 | 1 << 32, libc::SOCK_STREAM as u64, 0];
        assert_eq!(
            run(&prog, &data(X86_64, SYS_SOCKET_X86_64, high)),
            libc::SECCOMP_RET_USER_NOTIF
        );
    }

    #[test]
    fn reads_kernel_releases() {
        assert_eq!(parse_release("6.18.0-rc1"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0-150-generic"), Some((5, 4)));
        assert_eq!(parse_release(""), None);
    }
}
