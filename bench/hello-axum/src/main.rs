//! A bare axum hello-world: `GET /` answers "hello". `bench/api.sh` loads it beside
//! `bookstore up` so the API's requests/s are read against what axum itself does on
//! the same machine, built with the same release profile.
//!
//! Usage: `bench-hello-axum PORT` (listens on 127.0.0.1:PORT; 0 picks a free port).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|arg| arg.parse::<u16>()) {
        Some(Ok(port)) => port,
        Some(Err(err)) => {
            eprintln!("error: the port must be a number from 0 to 65535: {err}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("usage: bench-hello-axum PORT");
            return ExitCode::from(2);
        }
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {address}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("hello-axum listening on http://{local}"),
        Err(err) => eprintln!("warning: listener has no address: {err}"),
    }
    let app = Router::new().route("/", get(|| async { "hello" }));
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("error: server failed: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
