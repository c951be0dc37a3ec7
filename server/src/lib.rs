//! The Dots payouts server. `main.rs` only parses the command line; everything
//! it runs is here, so tests build the same application in-process.

pub mod apps;
pub mod commands;
pub mod compliance;
pub mod config;
pub mod error;
pub mod events;
pub mod flows;
pub mod http;
pub mod ledger;
pub mod lists;
pub mod outbound;
pub mod payout_methods;
pub mod payouts;
pub mod secrets;
pub mod services;
pub mod sms;
pub mod store;
pub mod users;
pub mod verify;
pub mod webhooks;

use std::time::Duration;

use config::Settings;
use store::Store;

/// Opens the database (migrating it), builds the router and serves until SIGINT or
/// SIGTERM. In-flight requests finish before the process exits.
pub async fn serve(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(&settings.database_url, settings.max_connections).await?;
    users::warm_up();
    let state = http::AppState::new(store.clone(), settings)?;
    tokio::spawn(prune_idempotency_keys(state.writer.clone()));
    tokio::spawn(payouts::run_worker(
        store.clone(),
        state.writer.clone(),
        state.services.clone(),
        Duration::from_millis(settings.worker_interval_ms),
    ));
    let deliverer = std::sync::Arc::new(webhooks::Deliverer::new(store.clone(), state.services.clone()));
    tokio::spawn(deliverer.run(Duration::from_millis(settings.worker_interval_ms)));
    let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = ?store.backend(),
        operator_api = settings.operator_key.is_some(),
        "dots is serving"
    );
    let app = http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

async fn prune_idempotency_keys(writer: commands::Writer) {
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
