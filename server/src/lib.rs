//! The Dots payouts server. `main.rs` only parses the command line; everything
//! it runs is here, so tests build the same application in-process.

pub mod ach;
pub mod ach_rail;
pub mod apps;
pub mod audit;
pub mod batches;
pub mod clients;
pub mod config;
pub mod contact;
pub mod email;
pub mod error;
pub mod events;
pub mod exports;
pub mod flows;
pub mod funding;
pub mod http;
pub mod ledger;
pub mod limits;
pub mod link_delivery;
pub mod lists;
pub mod live;
pub mod members;
pub mod metadata;
pub mod operator;
pub mod outbound;
pub mod payees;
pub mod payouts;
pub mod paypal;
pub mod rails;
pub mod rekey;
pub mod secrets;
pub mod services;
pub mod sms;
pub mod store;
pub mod webhooks;
pub mod writer;

use std::time::Duration;

use config::Settings;
use store::Store;

/// Opens the database (migrating it), builds the router and serves until SIGINT or
/// SIGTERM. In-flight requests finish before the process exits.
pub async fn serve(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(&settings.database_url, settings.max_connections).await?;
    contact::warm_up();
    let state = http::AppState::new(store.clone(), settings)?;
    // A live deployment without all it needs, or a live app this deployment cannot
    // serve, stops the start, with all it lacks.
    live::check_deployment(settings.sandbox, &state.services.readiness)?;
    live::check_live_apps(&store, &state.services.readiness).await?;
    tokio::spawn(prune_idempotency_keys(state.writer.clone()));
    tokio::spawn(reseal_in_background(store.clone(), state.services.clone()));
    tokio::spawn(payouts::run_worker(
        store.clone(),
        state.writer.clone(),
        state.services.clone(),
        Duration::from_millis(settings.worker_interval_ms),
    ));
    tokio::spawn(link_delivery::run_worker(
        store.clone(),
        state.writer.clone(),
        state.services.clone(),
        Duration::from_millis(settings.worker_interval_ms),
    ));
    tokio::spawn(batches::run_worker(
        store.clone(),
        state.writer.clone(),
        Duration::from_millis(settings.worker_interval_ms),
    ));
    tokio::spawn(ach_rail::run_worker(store.clone(), state.writer.clone(), state.services.clone()));
    let deliverer = std::sync::Arc::new(webhooks::Deliverer::new(store.clone(), state.services.clone()));
    tokio::spawn(deliverer.run(Duration::from_millis(settings.worker_interval_ms)));
    let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
    let limits = fit_to_open_file_limit(settings.limits.clone());
    tracing::info!(
        listen = %listener.local_addr()?,
        database = ?store.backend(),
        operator_api = settings.operator_key.is_some(),
        max_connections = limits.max_connections,
        "dots is serving"
    );
    let stopping = state.stopping.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Open event streams end now, so the graceful shutdown need not wait for them.
        stopping.send_replace(true);
    };
    serve_connections(listener, http::router(state), &limits, shutdown).await;
    store.close().await;
    Ok(())
}

/// Raises the soft open-file limit to the hard one (each connection is a file),
/// and lowers `max_connections` when the limit still cannot hold them with room
/// for the database and the webhook client.
pub fn fit_to_open_file_limit(mut limits: config::Limits) -> config::Limits {
    const HEADROOM: u64 = 256;
    let mut rlimit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    let available = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlimit) != 0 {
            return limits;
        }
        if rlimit.rlim_cur < rlimit.rlim_max {
            let raised = libc::rlimit { rlim_cur: rlimit.rlim_max, rlim_max: rlimit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                rlimit.rlim_cur = rlimit.rlim_max;
            }
        }
        rlimit.rlim_cur
    };
    let fits = available.saturating_sub(HEADROOM).max(1);
    if (limits.max_connections as u64) > fits {
        tracing::warn!(
            configured = limits.max_connections,
            open_file_limit = available,
            "DOTS_MAX_CONNECTIONS is above what the open-file limit allows; lowered"
        );
        limits.max_connections = fits as usize;
    }
    limits
}

/// Answers one request with `router`. A request whose body was not read to its
/// end (refused before it, or too slow) is answered with `Connection: close`, so
/// the connection ends instead of waiting for the rest of a body nobody reads.
async fn answer(
    router: axum::Router,
    address: std::net::SocketAddr,
    mut req: axum::http::Request<hyper::body::Incoming>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use http_body::Body as _;
    use tower::ServiceExt;
    req.extensions_mut().insert(axum::extract::ConnectInfo(address));
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(req.body().is_end_stream()));
    let req = req.map(|body| axum::body::Body::new(ReadToEnd { inner: body, finished: finished.clone() }));
    let mut response = router.oneshot(req).await?;
    if !finished.load(std::sync::atomic::Ordering::Acquire) {
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    Ok(response)
}

/// A request body that notes when it has been read to its end.
struct ReadToEnd<B> {
    inner: B,
    finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<B: http_body::Body + Unpin> http_body::Body for ReadToEnd<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) || self.inner.is_end_stream() {
            self.finished.store(true, std::sync::atomic::Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// What a connection past `max_connections` is told before it is closed.
fn busy_response() -> Vec<u8> {
    let body =
        error::Error::new(dots_shared::ErrorCode::ServerBusy, "Too many open connections; retry shortly.").to_json();
    let body = String::from_utf8_lossy(&body);
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish (at most 30 s). At most `limits.max_connections` connections
/// are open at once; each must send its headers within `header_timeout` (also
/// the longest a kept-alive connection may sit idle), and bodies are bounded by
/// the router's body timeouts.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: &config::Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::io::AsyncWriteExt;

    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    // Refusals are quick, but bound them too: past this many a connection is just closed.
    let refusals = std::sync::Arc::new(tokio::sync::Semaphore::new(256));
    let busy: std::sync::Arc<[u8]> = busy_response().into();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout()).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                let busy = busy.clone();
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&busy)).await;
                    let _ = stream.shutdown().await;
                    drop(refusal);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: axum::http::Request<hyper::body::Incoming>| {
            answer(router.clone(), address, req)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open 30 s after shutdown began; closing them");
    }
}

/// Re-seals what older keys sealed (a rotation in progress, or values from before
/// keys had ids) while the server serves.
async fn reseal_in_background(store: Store, services: std::sync::Arc<services::Services>) {
    match rekey::reseal_all(&store, &services.keys).await {
        Ok(done) if done.resealed > 0 || done.unreadable > 0 => {
            tracing::info!(resealed = done.resealed, unreadable = done.unreadable, "re-sealed under the primary key")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "re-sealing stopped; it runs again at the next start or with `dots keys rotate`")
        }
    }
}

async fn prune_idempotency_keys(writer: writer::Writer) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match writer.prune_idempotency_keys().await {
            Ok(deleted) => tracing::debug!(deleted, "idempotency keys pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
