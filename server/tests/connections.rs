//! Slow and too many connections, over real sockets: stalled clients (slowloris:
//! headers or bodies that never finish) are held without starving anyone else and
//! are closed after the configured timeouts; past the connection cap a new
//! connection is told `503 server_busy`. Each scenario runs on SQLite and on
//! PostgreSQL.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{TestApp, basic};
use dots_server::config::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_databases!(
    stalled_connections_are_held_then_closed_while_others_are_served,
    past_the_connection_cap_a_new_connection_gets_503,
);

/// Serves `t`'s router on a loopback port with `limits` until the returned sender is dropped.
async fn serve(t: &TestApp, limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The router's body timeouts come from its settings: a server on the same database with these limits.
    let router = TestApp::start_with(&t.database_url, |s| s.limits = limits.clone()).await.router;
    tokio::spawn(async move {
        dots_server::serve_connections(listener, router, &limits, async {
            let _ = stopped.await;
        })
        .await;
    });
    (address, stop)
}

/// One request on a new connection; the status code and the body.
async fn request(address: SocketAddr, raw: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Opens `count` connections, `batch` at a time, and sends `first` on each.
async fn stall(address: SocketAddr, count: usize, first: String) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let batch: Vec<_> = (0..(count - streams.len()).min(200))
            .map(|_| {
                let first = first.clone();
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(address).await.unwrap();
                    stream.write_all(first.as_bytes()).await.unwrap();
                    stream
                })
            })
            .collect();
        for stream in batch {
            streams.push(stream.await.unwrap());
        }
    }
    streams
}

/// True when the server closed `stream` (end of file or a reset) before `deadline`;
/// whatever it said first (a 408) is read and dropped.
async fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

async fn stalled_connections_are_held_then_closed_while_others_are_served(t: TestApp) {
    let limits = dots_server::fit_to_open_file_limit(Limits {
        header_timeout_ms: 2_000,
        body_idle_timeout_ms: 2_000,
        body_timeout_ms: 4_000,
        ..Limits::default()
    });
    assert!(limits.max_connections > 2_100, "the default cap holds 2,000 stalled connections: {limits:?}");
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.refill(&app, 100_000).await;
    let (address, _stop) = serve(&t, limits.clone()).await;
    let auth = basic(&app);
    let started = Instant::now();
    // 1,000 connections whose headers never end, 1,000 whose bodies never end.
    let mut stalled =
        stall(address, 1_000, format!("POST /v2/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n")).await;
    stalled.extend(
        stall(
            address,
            1_000,
            format!(
                "POST /v2/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{{\"type\":"
            ),
        )
        .await,
    );
    let stalled_at = Instant::now();
    // Everyone else is still served.
    let mut timings = Vec::new();
    for _ in 0..100 {
        let sent = Instant::now();
        let (status, body) = request(address, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        timings.push(sent.elapsed());
        assert_eq!(status, 200, "{body}");
    }
    let transfer = format!(r#"{{"type":"balance","user_id":"{user}","amount":100,"currency":"USD"}}"#);
    let (status, body) = request(
        address,
        &format!(
            "POST /v2/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{transfer}",
            transfer.len()
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    timings.sort();
    eprintln!(
        "with 2,000 stalled connections: /health p50 {:?}, p99 {:?} over {} requests",
        timings[timings.len() / 2],
        timings[timings.len() * 99 / 100],
        timings.len()
    );
    // Every stalled connection is closed within the longest configured timeout
    // (a whole body: 4 s) of being opened, with 3 s of slack for 2,000 requests
    // on two cores.
    let deadline = stalled_at + Duration::from_millis(limits.body_timeout_ms + 3_000);
    let mut still_open = [0, 0];
    for (i, stream) in stalled.iter_mut().enumerate() {
        if !closed_by(stream, deadline).await {
            still_open[i / 1_000] += 1;
        }
    }
    assert_eq!(still_open, [0, 0], "stalled (headers, bodies) still open {:?} after they began", started.elapsed());
    eprintln!("all 2,000 stalled connections closed {:?} after the last was opened", stalled_at.elapsed());
    // A kept-alive connection that then says nothing is closed after the header timeout too.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answered = Instant::now();
    assert!(closed_by(&mut idle, answered + Duration::from_millis(limits.header_timeout_ms + 2_000)).await);
    assert!(answered.elapsed() >= Duration::from_millis(limits.header_timeout_ms / 2), "closed only once idle");
}

async fn past_the_connection_cap_a_new_connection_gets_503(t: TestApp) {
    let limits = Limits { max_connections: 100, header_timeout_ms: 10_000, ..Limits::default() };
    let (address, _stop) = serve(&t, limits).await;
    let mut held = stall(address, 100, "GET /health HTTP/1.1\r\n".into()).await;
    // Let the server accept all 100 before the next one knocks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = request(address, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 503, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["error"]["code"], "server_busy");
    // One held connection finishes; a new one is served again.
    held[0].write_all(b"Host: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    held[0].read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = request(address, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
}
