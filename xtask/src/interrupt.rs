//! Ctrl-C and SIGTERM: destructors do not run when a signal ends a process,
//! so the handler kills every child process group and deletes every
//! namespace this process made, then exits 130.

pub fn install() {
    let result = ctrlc::set_handler(|| {
        mptcpize_tests::proc::kill_all();
        let removed = mptcpize_tests::netns::teardown_all();
        if !removed.is_empty() {
            eprintln!("xtask: interrupted; removed {}", removed.join(" "));
        }
        std::process::exit(130);
    });
    if let Err(e) = result {
        eprintln!("xtask: cannot install the SIGINT/SIGTERM handler: {e}");
    }
}
