//! Runs the example API (and, with `STATIC_DIR`, serves the built front end).
//!
//! Environment: `OIDC_ISSUER` (default `http://localhost:9000`), `OIDC_AUDIENCE`
//! (default `todo-api`), `LISTEN_ADDR` (default `127.0.0.1:3000`), `DATABASE_URL`
//! (default `todo.db`), `STATIC_DIR` (optional), `CORS_ORIGINS` (optional,
//! comma-separated origins allowed to call the API from elsewhere), `PUBLIC_URL`
//! (optional: the origin clients use, e.g. `https://todo.example.com`, compared with
//! DPoP proofs' `htu` when the API runs behind a proxy or load balancer; without it the
//! request's `Host` header is used), `REDIS_URL` (optional: a Redis server shared by
//! every API instance to detect replayed DPoP proofs; in-process when unset).

use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, Method};
use oidc_leptos::server::{RedisReplayStore, Validator};
use todo_backend::{api, open_database, with_front_end, AppState};
use tower_http::cors::CorsLayer;

const DPOP: header::HeaderName = header::HeaderName::from_static("dpop");
const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .init();
    let issuer = env("OIDC_ISSUER", "http://localhost:9000");
    let audience = env("OIDC_AUDIENCE", "todo-api");
    let addr = env("LISTEN_ADDR", "127.0.0.1:3000");
    let db_url = env("DATABASE_URL", "todo.db");

    let mock = std::env::var("MOCK_AUTH").is_ok_and(|v| v == "1");
    let validator = if mock {
        // The front end's mock mode: no provider, unsigned tokens.
        for _ in 0..3 {
            tracing::warn!(
                "MOCK_AUTH=1: NO REAL AUTHENTICATION. Any unsigned mock token is accepted; never run this way in production."
            );
        }
        Validator::mock(&issuer, &audience)?
    } else {
        let mut validator = Validator::discover(&issuer).audience(&audience);
        if let Ok(url) = std::env::var("PUBLIC_URL") {
            tracing::info!(%url, "DPoP proofs are checked against this public URL");
            validator = validator.public_url(url);
        }
        if let Ok(url) = std::env::var("REDIS_URL") {
            tracing::info!("DPoP replay store: Redis (shared by every instance)");
            validator = validator.replay_store(Arc::new(RedisReplayStore::open(&url)?));
        }
        validator.build().await?
    };
    let db = open_database(&db_url)?;
    let state = AppState {
        validator,
        db: Arc::new(Mutex::new(db)),
    };
    let mut app = api(state);

    if let Ok(origins) = std::env::var("CORS_ORIGINS") {
        let origins: Vec<HeaderValue> = origins
            .split(',')
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, DPOP])
                .expose_headers([header::WWW_AUTHENTICATE, DPOP_NONCE]),
        );
    }
    if let Ok(dir) = std::env::var("STATIC_DIR") {
        app = with_front_end(app, &dir);
    }
    let app = app.layer(tower_http::trace::TraceLayer::new_for_http());

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, %issuer, %audience, "TODO API listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
