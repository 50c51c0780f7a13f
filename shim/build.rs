//! Linked as every preload library of ours is (see preload-link/): loadable
//! on glibc 2.17+, no C start files. The core shim, which every program of
//! a service loads, does not need libdl.so.2 (see `next.rs` for what it
//! does without `dlsym`).
fn main() {
    mptcpize_preload_link::link(mptcpize_preload_link::Libdl::Weak);
}
