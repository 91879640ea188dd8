//! The composition of a running gateway: config in, store opened, router and planner built, API served, and
//! (later) the carrier links started, until shutdown.
//!
//! [`Gateway::start`] builds everything and binds the API listener; [`Gateway::run`] serves until the shutdown
//! token is cancelled, then stops in order: API (no new work; event streams end), links, store (flushed).
//! [`run`] does both. The link engine plugs in at [`start_links`]: it gets the shared [`Components`] and returns
//! the hooks the API uses ([`Links`]: carrier cancel, link states, carrier health) and its task to await at
//! shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::validate::SubmitDefaults;
use crate::api::{
    ApiServer, Authenticator, CarrierCancel, ClientToken, GatewayService, LinkStates, Planner,
    RouteChoice, RouteError, Routing, ServeError,
};
use crate::config::{self, Config, StoreEngine};
use crate::model::{CarrierId, Priority, UnixMs};
use crate::router::{self, Router, SenderError};
use crate::store::{RetentionPolicy, SqliteConfig, Store, StoreError};

/// How often messages whose validity ran out in the queue are expired.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("store.engine = \"nats\" is not available in this build yet; use \"sqlite\"")]
    EngineUnavailable,
    #[error("opening the store at {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("building the router: {0}")]
    Router(#[from] router::BuildError),
    #[error("api.clients[{index}] ({name}): {source}")]
    Token {
        index: usize,
        name: String,
        #[source]
        source: config::SecretError,
    },
    #[error("binding the API on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving the API: {0}")]
    Serve(#[from] ServeError),
    #[error("carrier links: {0}")]
    Links(String),
}

/// Whether a carrier can take traffic now (the link engine knows: binds up, circuit breakers closed).
pub type CarrierHealthFn = Arc<dyn Fn(&config::CarrierId) -> bool + Send + Sync>;

/// What the parts of a running gateway share.
#[derive(Clone)]
pub struct Components {
    pub config: Arc<Config>,
    pub store: Store,
    pub router: Arc<Router>,
    pub planner: Arc<Planner>,
    /// API calls refused for a missing or wrong token, since start (for the metrics module).
    pub api_auth_failures: Arc<AtomicU64>,
    pub shutdown: CancellationToken,
}

/// What the link engine gives the rest of the gateway.
#[derive(Default)]
pub struct Links {
    /// Asks carriers to cancel submitted messages (SMPP cancel_sm); `None`: Cancel answers ALREADY_SUBMITTED.
    pub carrier_cancel: Option<Arc<dyn CarrierCancel>>,
    /// Link states for the Status call; `None`: Status lists no links.
    pub link_states: Option<Arc<dyn LinkStates>>,
    /// Whether a carrier can take traffic now (routing skips unhealthy ones); `None`: every carrier is.
    pub carrier_health: Option<CarrierHealthFn>,
    /// The link engine's task; awaited at shutdown after the API has stopped.
    pub task: Option<JoinHandle<Result<(), String>>>,
}

/// Starts the carrier links (SMPP binds, the built-in simulator), the dispatchers, the inbound handlers and
/// the metrics endpoint for `components`: see [`crate::dispatch`].
pub async fn start_links(components: &Components) -> Result<Links, GatewayError> {
    crate::dispatch::start(components).await
}

/// The API's routing over the config's router: longest-prefix route, a healthy carrier by weight, and the
/// route's sender rules.
pub struct ConfigRouting {
    config: Arc<Config>,
    router: Arc<Router>,
    health: Option<CarrierHealthFn>,
    /// State of a small xorshift generator for weighted picks (the router takes the random number).
    random: AtomicU64,
}

impl ConfigRouting {
    pub fn new(config: Arc<Config>, router: Arc<Router>, health: Option<CarrierHealthFn>) -> Self {
        let seed = u64::try_from(UnixMs::now().0).unwrap_or(1) | 1;
        ConfigRouting {
            config,
            router,
            health,
            random: AtomicU64::new(seed),
        }
    }

    fn next_random(&self) -> u64 {
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Ordering::Relaxed);
        x
    }

    fn healthy(&self, carrier: &config::CarrierId) -> bool {
        self.health.as_ref().is_none_or(|h| h(carrier))
    }
}

fn sender_error(err: SenderError) -> RouteError {
    match err {
        SenderError::Required { .. } => RouteError::InvalidSender(format!("is required: {err}")),
        SenderError::Invalid(_) => RouteError::InvalidSender(err.to_string()),
        SenderError::NotAllowed { .. } => RouteError::SenderNotAllowed(err.to_string()),
    }
}

impl Routing for ConfigRouting {
    fn route(
        &self,
        to: &str,
        from: Option<&str>,
        carrier: Option<&str>,
    ) -> Result<RouteChoice, RouteError> {
        let destination =
            router::parse_destination(to).map_err(|e| RouteError::NoRoute(e.to_string()))?;
        let (carrier, route) = match carrier {
            Some(name) => {
                let id = config::CarrierId::new(name)
                    .ok()
                    .filter(|id| self.config.carrier(id).is_some())
                    .ok_or_else(|| RouteError::UnknownCarrier {
                        carrier: name.to_owned(),
                    })?;
                // The route covering `to` still sets the sender rules, when there is one.
                (id, self.router.route(&destination).ok())
            }
            None => {
                let health = |c: &config::CarrierId| self.healthy(c);
                let all = |_: &config::CarrierId| true;
                // With every carrier of the route down, the message still queues (on disk) for the carrier
                // the route would pick if all were up: it goes out when that carrier's links come back.
                let selection = match self
                    .router
                    .select(&destination, &health, self.next_random())
                {
                    Err(router::RouteError::NoHealthyCarrier { .. }) => {
                        self.router.select(&destination, &all, self.next_random())
                    }
                    other => other,
                };
                let selection = selection.map_err(|e| match e {
                    router::RouteError::NoRoute { .. } => RouteError::NoRoute(e.to_string()),
                    router::RouteError::NoHealthyCarrier { .. } => {
                        RouteError::NoCarrierAvailable(e.to_string())
                    }
                })?;
                (selection.carrier.clone(), Some(selection.route))
            }
        };
        let from = match route {
            Some(route) => route.apply_sender(from).map_err(sender_error)?.to_string(),
            None => match from {
                Some(f) => router::parse_sender(f)
                    .map_err(|e| RouteError::InvalidSender(e.to_string()))?
                    .to_string(),
                None => {
                    return Err(RouteError::InvalidSender(format!(
                        "is required: no route covers {to} to give a default sender"
                    )));
                }
            },
        };
        Ok(RouteChoice {
            carrier: CarrierId::new(carrier.as_str()),
            from,
        })
    }

    fn carriers(&self) -> Vec<CarrierId> {
        self.config
            .carriers
            .iter()
            .map(|c| CarrierId::new(c.id.as_str()))
            .collect()
    }
}

/// The API's authentication from `[api]`: the clients' tokens (read from the environment where the config
/// says so), or none at all when no client is configured.
pub fn authenticator(api: &config::ApiConfig) -> Result<Authenticator, GatewayError> {
    if api.clients.is_empty() {
        return Ok(Authenticator::open());
    }
    let mut tokens = Vec::with_capacity(api.clients.len());
    for (index, client) in api.clients.iter().enumerate() {
        let token = client
            .token_secret()
            .resolve()
            .map_err(|source| GatewayError::Token {
                index,
                name: client.name.clone(),
                source,
            })?;
        tokens.push(ClientToken {
            client: client.name.clone(),
            token,
        });
    }
    Ok(Authenticator::new(tokens))
}

/// The defaults a Submit gets from `[api]`.
pub fn submit_defaults(api: &config::ApiConfig) -> SubmitDefaults {
    SubmitDefaults {
        validity: api.default_validity,
        priority: Priority::from_code(i64::from(api.default_priority)).unwrap_or_default(),
        max_batch: usize::try_from(api.max_batch_size).unwrap_or(usize::MAX),
    }
}

/// Opens the store the config names.
pub async fn open_store(config: &Config) -> Result<Store, GatewayError> {
    match config.store.engine {
        StoreEngine::Sqlite => {
            let sqlite = &config.store.sqlite;
            let mut settings = SqliteConfig::new(&sqlite.path);
            settings.max_batch = usize::try_from(sqlite.group_commit_max_batch)
                .unwrap_or(1)
                .max(1);
            settings.max_wait = sqlite.group_commit_max_wait;
            settings.retention = retention_policy(&config.store.retention);
            settings.held_receipt_ttl_ms =
                i64::try_from(config.store.retention.unmatched_receipts.as_millis())
                    .unwrap_or(i64::MAX);
            if let Some(dir) = sqlite.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| GatewayError::Store {
                    path: sqlite.path.display().to_string(),
                    source: StoreError::Engine {
                        engine: "sqlite",
                        context: "creating the database directory",
                        source: Arc::new(e),
                    },
                })?;
            }
            Store::open_sqlite_with(settings)
                .await
                .map_err(|source| GatewayError::Store {
                    path: sqlite.path.display().to_string(),
                    source,
                })
        }
        StoreEngine::Nats => Err(GatewayError::EngineUnavailable),
    }
}

/// The store's retention policy from `[store.retention]` (keeps everything when it is disabled).
pub fn retention_policy(r: &config::RetentionConfig) -> RetentionPolicy {
    RetentionPolicy {
        keep_finished: r.enabled.then_some(r.keep_finished),
        keep_events: r.enabled.then_some(r.keep_events),
        chunk_rows: usize::try_from(r.chunk_rows).unwrap_or(5_000).max(1),
    }
}

/// A gateway that is built and bound, not yet serving.
pub struct Gateway {
    components: Components,
    api: ApiServer,
    listener: TcpListener,
    links: Links,
}

impl Gateway {
    /// Opens the store, builds router and planner, starts the links and binds the API on `api.listen`.
    /// The gateway stops when `shutdown` is cancelled.
    pub async fn start(
        config: Config,
        shutdown: CancellationToken,
    ) -> Result<Gateway, GatewayError> {
        let router = Arc::new(Router::new(&config)?);
        let auth = authenticator(&config.api)?;
        let defaults = submit_defaults(&config.api);
        let listen = config.api.listen;
        let config = Arc::new(config);
        let store = open_store(&config).await?;
        let components = Components {
            config: Arc::clone(&config),
            store: store.clone(),
            router: Arc::clone(&router),
            planner: Arc::new(Planner::new()),
            api_auth_failures: auth.failure_counter(),
            shutdown: shutdown.clone(),
        };
        let listener = match TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(source) => {
                store.close().await;
                return Err(GatewayError::Bind {
                    addr: listen,
                    source,
                });
            }
        };
        let links = match start_links(&components).await {
            Ok(links) => links,
            Err(err) => {
                store.close().await;
                return Err(err);
            }
        };
        let routing = ConfigRouting::new(config, router, links.carrier_health.clone());
        let mut service = GatewayService::new(
            store,
            Arc::new(routing),
            Arc::clone(&components.planner),
            shutdown,
        )
        .with_defaults(defaults);
        if let Some(hook) = &links.carrier_cancel {
            service = service.with_carrier_cancel(Arc::clone(hook));
        }
        if let Some(states) = &links.link_states {
            service = service.with_link_states(Arc::clone(states));
        }
        Ok(Gateway {
            components,
            api: ApiServer::new(service, auth),
            listener,
            links,
        })
    }

    /// Where the API listens (useful with port 0).
    pub fn api_addr(&self) -> Result<SocketAddr, std::io::Error> {
        self.listener.local_addr()
    }

    /// The shared parts (store, router, planner, config).
    pub fn components(&self) -> &Components {
        &self.components
    }

    /// The API's authenticator (its failure counter is for the metrics module).
    pub fn authenticator(&self) -> &Authenticator {
        self.api.authenticator()
    }

    /// Serves until the shutdown token is cancelled, then stops the API, the links and the store, in that
    /// order.
    pub async fn run(self) -> Result<(), GatewayError> {
        let Gateway {
            components,
            api,
            listener,
            links,
        } = self;
        let receipt_timeouts = components
            .config
            .carriers
            .iter()
            .map(|c| (CarrierId::new(c.id.as_str()), c.receipt_timeout))
            .collect();
        let expiry = tokio::spawn(expire_loop(
            components.store.clone(),
            receipt_timeouts,
            components.shutdown.clone(),
        ));
        let retention = &components.config.store.retention;
        let prune = retention.enabled.then(|| {
            tokio::spawn(prune_loop(
                components.store.clone(),
                retention.interval,
                components.shutdown.clone(),
            ))
        });
        let served = api.serve(listener, components.shutdown.clone()).await;
        // If the API failed on its own, take the rest down with it.
        components.shutdown.cancel();
        let _ = expiry.await;
        if let Some(prune) = prune {
            let _ = prune.await;
        }
        let links_result = match links.task {
            Some(task) => match task.await {
                Ok(result) => result.map_err(GatewayError::Links),
                Err(join) => Err(GatewayError::Links(join.to_string())),
            },
            None => Ok(()),
        };
        components.store.close().await;
        served?;
        links_result
    }
}

/// Every [`EXPIRE_EVERY`] until shutdown: expires queued segments whose validity ran out, and ends UNKNOWN the
/// segments of each carrier still waiting for a receipt its `receipt_timeout` after their validity ran out.
async fn expire_loop(
    store: Store,
    receipt_timeouts: Vec<(CarrierId, Duration)>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                let now = UnixMs::now();
                if let Err(err) = store.expire(now).await {
                    tracing::warn!(error = %err, "expiring messages failed");
                    if matches!(err, StoreError::Closed) {
                        return;
                    }
                }
                let deadlines: Vec<_> = receipt_timeouts
                    .iter()
                    .map(|(carrier, timeout)| {
                        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
                        (carrier.clone(), now.plus_ms(-ms))
                    })
                    .collect();
                match store.give_up_receipts(&deadlines).await {
                    Ok(gave_up) => {
                        for (carrier, n) in &gave_up.segments {
                            tracing::warn!(
                                carrier = %carrier,
                                segments = n,
                                "no receipt came within the carrier's receipt_timeout after the validity ran out: UNKNOWN"
                            );
                        }
                    }
                    Err(StoreError::Closed) => return,
                    Err(err) => tracing::warn!(error = %err, "ending unanswered receipts failed"),
                }
            }
        }
    }
}

/// Deletes what the retention policy no longer keeps, every `every`, until shutdown. Each prune deletes in
/// chunks, one writer request each, so submits interleave with it.
async fn prune_loop(store: Store, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                match store.prune(UnixMs::now()).await {
                    Ok(r) if r.rows() == 0 => {}
                    Ok(r) => tracing::info!(
                        messages = r.messages,
                        segments = r.segments,
                        carrier_ids = r.carrier_ids,
                        events = r.events,
                        more = r.more,
                        "retention pruned finished messages and old events"
                    ),
                    Err(StoreError::Closed) => return,
                    Err(err) => tracing::warn!(error = %err, "retention prune failed"),
                }
            }
        }
    }
}

/// Runs a gateway from `config` until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), GatewayError> {
    Gateway::start(config, shutdown).await?.run().await
}
