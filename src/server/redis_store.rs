//! A DPoP replay store in Redis (feature `redis`), shared by every API instance.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::Mutex;

use super::replay::{ReplayKey, ReplayStore, ReplayStoreError};
use crate::core::b64;

/// Remembers DPoP proofs in Redis, so a proof used on one API instance is refused on
/// every other. Each proof is one key (`SET key 1 NX EX ttl`: atomic, and Redis drops
/// it when the proof window ends), under a prefix (default `oidc-leptos:dpop:`).
///
/// When Redis cannot be reached or does not answer within the timeout (default 1
/// second), the store reports an error and the validator refuses the request with 503
/// (fail closed) and logs it; the connection is re-established on a later request.
pub struct RedisReplayStore {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> ReplayStoreError {
    ReplayStoreError::Backend(e.to_string())
}

impl RedisReplayStore {
    /// A store for the Redis server at `url` (`redis://host:port/db`, or `rediss://`
    /// for TLS where the client supports it). Does not connect yet: the first proof
    /// does.
    pub fn open(url: &str) -> Result<Self, ReplayStoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        Ok(Self {
            client,
            connection: Mutex::new(None),
            prefix: "oidc-leptos:dpop:".into(),
            timeout: Duration::from_secs(1),
        })
    }

    /// The prefix of every key this store writes. Defaults to `oidc-leptos:dpop:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait for Redis (connecting, or one command). Defaults to 1 second.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The shared connection, and whether it was made just now.
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), ReplayStoreError> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok((c.clone(), false));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(backend)?;
        *slot = Some(c.clone());
        Ok((c, true))
    }

    async fn record(&self, key: ReplayKey, ttl: u64) -> Result<bool, ReplayStoreError> {
        let name = format!("{}{}", self.prefix, b64::encode(key.as_bytes()));
        let command = redis::cmd("SET")
            .arg(name)
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl.max(1))
            .to_owned();
        loop {
            let (mut connection, new) = self.connection().await?;
            let reply = tokio::time::timeout(
                self.timeout,
                command.query_async::<Option<String>>(&mut connection),
            )
            .await;
            let error = match reply {
                // `OK` when the key was set (a new proof), nil when it existed (a replay).
                Ok(Ok(reply)) => return Ok(reply.is_some()),
                Ok(Err(e)) => backend(e),
                Err(_) => ReplayStoreError::Backend(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                )),
            };
            self.connection.lock().await.take();
            // A connection kept from before may have broken since (Redis restarted):
            // try once more on a new one. Should the first attempt have been applied
            // after all, the retry sees a replay and refuses: still closed, never open.
            if new {
                return Err(error);
            }
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_record(
        &self,
        key: ReplayKey,
        ttl: u64,
        _now: u64,
    ) -> BoxFuture<'_, Result<bool, ReplayStoreError>> {
        Box::pin(self.record(key, ttl))
    }
}

#[cfg(test)]
mod tests {
    //! Against a real `redis-server` this test starts on a free loopback port
    //! (`REDIS_SERVER` names the binary; default `redis-server` on the `PATH`).
    #![allow(clippy::unwrap_used)]

    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;

    use super::*;

    struct RedisServer {
        child: Child,
        port: u16,
    }

    impl RedisServer {
        fn start_on(port: u16) -> Self {
            let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start `{binary}` ({e}): install redis-server (scripts/lib/install.sh does)")
                });
            let server = Self { child, port };
            for _ in 0..200 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("redis-server did not start on port {port}");
        }

        fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            Self::start_on(port)
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/", self.port)
        }

        fn stop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            self.stop();
        }
    }

    #[tokio::test]
    async fn replays_are_seen_by_every_instance_and_an_outage_fails_closed() {
        let mut server = RedisServer::start();
        let a: Arc<dyn ReplayStore> = Arc::new(RedisReplayStore::open(&server.url()).unwrap());
        let b: Arc<dyn ReplayStore> = Arc::new(RedisReplayStore::open(&server.url()).unwrap());
        let key = ReplayKey::new("thumbprint", &format!("jti-{}", rand::random::<u64>()));
        assert_eq!(a.check_and_record(key, 90, 0).await, Ok(true));
        // The second instance sees the first one's proof.
        assert_eq!(b.check_and_record(key, 90, 0).await, Ok(false));
        assert_eq!(a.check_and_record(key, 90, 0).await, Ok(false));

        // Outage: errors, never a "fresh" answer.
        let port = server.port;
        server.stop();
        let other = ReplayKey::new("thumbprint", "during-outage");
        assert!(matches!(
            a.check_and_record(other, 90, 0).await,
            Err(ReplayStoreError::Backend(_))
        ));
        assert!(matches!(
            b.check_and_record(other, 90, 0).await,
            Err(ReplayStoreError::Backend(_))
        ));
        // Redis is back (empty): the store reconnects by itself.
        let _server = RedisServer::start_on(port);
        assert_eq!(a.check_and_record(other, 90, 0).await, Ok(true));
        assert_eq!(b.check_and_record(other, 90, 0).await, Ok(false));
    }

    /// Two API instances (two validators, each with its own store on one Redis): a
    /// proof used on one is refused on the other; with Redis down, DPoP requests get
    /// 503 (fail closed), and work again once it is back.
    #[tokio::test]
    async fn a_proof_replayed_on_a_second_instance_is_refused() {
        use crate::server::dpop_tests::{bound_token, builder, dpop_get, Proof, API};
        use crate::test_support::EcKey;
        use axum::http::StatusCode;

        let mut server = RedisServer::start();
        let idp = EcKey::new(1, "k1");
        let holder = EcKey::new(5, "holder");
        let instance = |url: String| {
            builder(&idp)
                .replay_store(Arc::new(RedisReplayStore::open(&url).unwrap()))
                .build_lazy()
                .unwrap()
        };
        let first = instance(server.url());
        let second = instance(server.url());
        let token = bound_token(&idp, &holder);
        let url = format!("{API}/todos");
        let proof = Proof::new(&holder, "GET", &url, &token).sign(&holder);
        assert_eq!(
            dpop_get(&first, &token, &proof).await.status,
            StatusCode::OK
        );
        let replayed = dpop_get(&second, &token, &proof).await;
        assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
        assert!(replayed.body.contains("already used"), "{}", replayed.body);

        let port = server.port;
        server.stop();
        let fresh = Proof::new(&holder, "GET", &url, &token).sign(&holder);
        let down = dpop_get(&second, &token, &fresh).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(down.body.contains("temporarily_unavailable"));
        let _server = RedisServer::start_on(port);
        assert_eq!(
            dpop_get(&second, &token, &fresh).await.status,
            StatusCode::OK
        );
        assert_eq!(
            dpop_get(&first, &token, &fresh).await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    /// Log output captured in memory.
    #[derive(Clone, Default)]
    struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Log {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        /// The lines logged at `level` (`ERROR`, `WARN`...).
        fn lines_at(&self, level: &str) -> Vec<String> {
            self.text()
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(level))
                .map(str::to_owned)
                .collect()
        }
    }

    /// With Redis unreachable a DPoP request is refused with 503 (fail closed), and the
    /// log says so at ERROR level: the replay store failed, DPoP requests get 503, and
    /// Redis's error; nothing of the token or proof is logged. Once Redis is back the
    /// same proof passes and no further error is logged.
    #[tokio::test]
    async fn an_outage_is_refused_with_503_and_logged() {
        use crate::server::dpop_tests::{bound_token, builder, dpop_get, Proof, API};
        use crate::test_support::EcKey;
        use axum::http::StatusCode;
        use tracing::instrument::WithSubscriber;

        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .without_time()
                // Plain text whichever features another crate of the build turns on.
                .with_ansi(false)
                .finish(),
        );
        // tracing caches per call site whether any subscriber listens. While only one
        // dispatcher is registered, the thread that reaches a call site first decides,
        // by its own default; another test's thread, with none, would silence the site
        // here too. With a second one registered, every registered dispatcher is asked.
        let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        async {
            let mut server = RedisServer::start();
            let idp = EcKey::new(1, "k1");
            let holder = EcKey::new(5, "holder");
            let store = RedisReplayStore::open(&server.url()).unwrap();
            let validator = builder(&idp)
                .replay_store(Arc::new(store))
                .build_lazy()
                .unwrap();
            let token = bound_token(&idp, &holder);
            let url = format!("{API}/todos");
            let proof = || Proof::new(&holder, "GET", &url, &token).sign(&holder);
            assert_eq!(
                dpop_get(&validator, &token, &proof()).await.status,
                StatusCode::OK
            );
            assert_eq!(log.lines_at("ERROR"), Vec::<String>::new());

            let port = server.port;
            server.stop();
            let fresh = proof();
            let down = dpop_get(&validator, &token, &fresh).await;
            assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
            let errors = log.lines_at("ERROR");
            assert_eq!(errors.len(), 1, "{}", log.text());
            let line = &errors[0];
            assert!(
                line.contains(
                    "DPoP replay store failed: refusing DPoP requests (503) until it answers"
                ),
                "{line}"
            );
            let cause = line
                .split_once("error=the DPoP replay store is unavailable: ")
                .map(|(_, cause)| cause.trim());
            assert!(cause.is_some_and(|c| !c.is_empty()), "{line}");
            let text = log.text();
            for secret in token.split('.').chain(fresh.split('.')) {
                assert!(!text.contains(secret), "the log shows a credential: {text}");
            }

            let _server = RedisServer::start_on(port);
            assert_eq!(
                dpop_get(&validator, &token, &fresh).await.status,
                StatusCode::OK
            );
            assert_eq!(log.lines_at("ERROR").len(), 1, "{}", log.text());
        }
        .with_subscriber(subscriber)
        .await;
    }
}
