//! An unmodified std::net TCP client: it sends BYTES of a known pattern to an
//! echo server, reads them back, and checks every byte.
//!
//! `echo-client ADDR [BYTES]` (default 1 MiB). It prints what the kernel says
//! its connection is and exits 0 only when every byte came back intact.

use mptcpize_examples::{fill_pattern, pattern_byte, SocketView};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next().filter(|a| a != "-h" && a != "--help") else {
        eprintln!("usage: echo-client ADDR [BYTES]");
        std::process::exit(2);
    };
    let total: u64 = match args.next().map(|b| b.parse()) {
        None => 1 << 20,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("echo-client: BYTES must be a number");
            std::process::exit(2);
        }
    };
    let stream = TcpStream::connect(&addr).unwrap_or_else(|e| {
        eprintln!("echo-client: cannot connect to {addr}: {e}");
        std::process::exit(1)
    });
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let view = SocketView::of(&stream);
    println!(
        "connected to {addr}: socket {}, {}",
        view.protocol_name(),
        view.connection()
    );

    let mut writer = stream.try_clone().expect("clone socket");
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < total {
            let n = buf.len().min((total - sent) as usize);
            fill_pattern(&mut buf[..n], sent);
            writer.write_all(&buf[..n])?;
            sent += n as u64;
        }
        writer.shutdown(std::net::Shutdown::Write)
    });

    let mut reader = stream;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    let mut bad = None;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if bad.is_none() {
                    bad = (0..n)
                        .find(|&k| buf[k] != pattern_byte(got + k as u64))
                        .map(|k| got + k as u64);
                }
                got += n as u64;
            }
            Err(e) => {
                eprintln!("echo-client: read after {got} bytes: {e}");
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = sender.join().expect("sender thread") {
        eprintln!("echo-client: send: {e}");
        std::process::exit(1);
    }
    match bad {
        None if got == total => println!("echoed {got} of {total} bytes intact"),
        None => {
            println!("echoed {got} of {total} bytes: short");
            std::process::exit(1);
        }
        Some(at) => {
            println!("echoed {got} of {total} bytes: corrupt at byte {at}");
            std::process::exit(1);
        }
    }
}
