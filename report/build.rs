//! Linked as every preload library of ours is (see preload-link/): loadable
//! on glibc 2.17+, no C start files. Only `run --report` loads this one, so
//! it can afford libdl.so.2 as a dependency: `dlsym` always works here.
fn main() {
    mptcpize_preload_link::link(mptcpize_preload_link::Libdl::Needed);
}
