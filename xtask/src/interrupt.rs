//! Cleaning up when destructors do not run: on SIGINT/SIGTERM (a signal
//! ends the process), and on a panic (the workspace builds with
//! panic = "abort", for the shim). Both kill every child process group and
//! delete every namespace this process made; a signal then exits 130.

fn teardown() -> Vec<String> {
    mptcpize_tests::proc::kill_all();
    mptcpize_tests::netns::teardown_all()
}

pub fn install() {
    let result = ctrlc::set_handler(|| {
        let removed = teardown();
        if !removed.is_empty() {
            eprintln!("xtask: interrupted; removed {}", removed.join(" "));
        }
        std::process::exit(130);
    });
    if let Err(e) = result {
        eprintln!("xtask: cannot install the SIGINT/SIGTERM handler: {e}");
    }
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        let removed = teardown();
        if !removed.is_empty() {
            eprintln!("xtask: removed {} before aborting", removed.join(" "));
        }
    }));
}
