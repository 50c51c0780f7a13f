//! An unmodified std::net TCP echo server: it sends back every byte it gets.
//!
//! `echo-server [ADDR] [--once]` (default ADDR 127.0.0.1:0). It prints
//! `listening on ADDR (socket: MPTCP)` and, per connection, what the kernel
//! says the connection is. With `--once` it exits after one connection.

use mptcpize_examples::SocketView;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn serve(mut conn: TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        conn.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn main() {
    let mut addr = "127.0.0.1:0".to_string();
    let mut once = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            "-h" | "--help" => {
                println!("usage: echo-server [ADDR] [--once]");
                return;
            }
            a => addr = a.to_string(),
        }
    }
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("echo-server: cannot listen on {addr}: {e}");
        std::process::exit(1)
    });
    let view = SocketView::of(&listener);
    println!(
        "listening on {} (socket: {})",
        listener.local_addr().unwrap(),
        view.protocol_name()
    );
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                eprintln!("echo-server: accept: {e}");
                continue;
            }
        };
        let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let view = SocketView::of(&conn);
        println!(
            "accepted {peer}: socket {}, {}",
            view.protocol_name(),
            view.connection()
        );
        let worker = std::thread::spawn(move || {
            let bytes = serve(conn);
            match bytes {
                Ok(n) => println!("closed {peer}: echoed {n} bytes"),
                Err(e) => eprintln!("echo-server: {peer}: {e}"),
            }
        });
        if once {
            let _ = worker.join();
            return;
        }
    }
}
