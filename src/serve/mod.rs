//! `caregap serve`: the scheduler service. Call lists, people, outcomes and
//! consent decisions in server-rendered pages (no JavaScript needed) and a
//! JSON API with the same operations and the same access rules.
//!
//! | file | holds |
//! |---|---|
//! | `store.rs` | the SQLite system of record: users, sessions, outcomes, consents, the hash-chained audit trail |
//! | `writer.rs` | the one writer thread (group commit; a reply means committed) |
//! | `overlay.rs` | outcomes and consents since the run, applied to its lists at once |
//! | `auth.rs` | sessions, CSRF, login rate limits, the access extractors ("what may a scheduler see?") |
//! | `ops.rs` | the operations both doors call: list, person, record, overview, export |
//! | `pages.rs`, `handlers.rs` | the HTML pages (maud) and their routes |
//! | `api.rs`, `openapi.json` | the JSON API and its description |
//! | `reveal.rs` | the re-identification file: original identifiers shown to a person's scheduler, audited |
//! | `i18n.rs`, `locales/` | Finnish, Swedish and English texts (Fluent) |
//!
//! The run is held in an [`ArcSwap`]: a request takes the run once, when it
//! starts, and keeps it to its end; a watcher loads a new run completely
//! beside the old one and swaps the pointer, so no request sees half of two
//! runs.
pub mod api;
pub mod auth;
pub mod export;
pub mod handlers;
pub mod i18n;
pub mod ops;
pub mod overlay;
pub mod pages;
pub mod reveal;
pub mod store;
pub mod writer;

use crate::rank::config::Capacities;
use crate::rank::exclusions::Cooldowns;
use crate::runs::Run;
use arc_swap::ArcSwap;
use auth::{Limiter, Session};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use overlay::Overlay;
use rusqlite::Connection;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;
use writer::Writer;

/// How the service runs (`caregap serve`'s options).
#[derive(Debug, Clone)]
pub struct Config {
    /// A run folder or a symlink to one (`latest`).
    pub run: PathBuf,
    /// The SQLite store (created when missing).
    pub db: PathBuf,
    pub bind: SocketAddr,
    /// PEM certificate chain and key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow plain HTTP on an address other than loopback.
    pub allow_http: bool,
    pub cooldowns: Cooldowns,
    pub capacities: Capacities,
    /// Small-cell threshold of the overview.
    pub min_cell: u64,
    /// How often the run path is checked for a new run.
    pub watch: Duration,
    /// How long a session lasts.
    pub session: Duration,
    /// The import's re-identification file (`patient_id,original_id`): lets
    /// a scheduler reveal the original identifier of a person of her clinic,
    /// each reveal audited ([`reveal`]). None: nothing can be revealed.
    pub reidentification: Option<PathBuf>,
}

/// The service's state, shared by every request.
pub struct App {
    pub run: ArcSwap<Run>,
    pub config: Config,
    readers: Mutex<Vec<Connection>>,
    pub writer: Writer,
    pub overlay: Arc<RwLock<Overlay>>,
    /// The rows the overlay takes off, per run, overlay epoch and day.
    pub off_cache: Mutex<ops::OffCache>,
    pub texts: i18n::Texts,
    pub limiter: Limiter,
    /// Cookies get `Secure` (served over TLS).
    pub secure: bool,
    pub reidentification: Option<reveal::Reidentification>,
}

pub type Shared = Arc<App>;

/// What can stop the service from starting.
#[derive(Debug)]
pub struct ServeError(pub String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

impl App {
    /// Opens the store and reads the run.
    pub fn new(config: Config) -> Result<App, ServeError> {
        if config.tls.is_none() && !config.bind.ip().is_loopback() && !config.allow_http {
            return Err(ServeError(format!(
                "refusing plain HTTP on {}: give --cert and --key to serve HTTPS, \
                 bind to 127.0.0.1, or pass --allow-http if a TLS proxy is in front",
                config.bind
            )));
        }
        let conn = store::open(&config.db).map_err(|e| ServeError(e.to_string()))?;
        let since = crate::data::format_day(today() - 400);
        let (outcomes, consents) =
            store::recent(&conn, &since).map_err(|e| ServeError(e.to_string()))?;
        let overlay = Arc::new(RwLock::new(Overlay::from_rows(&outcomes, &consents)));
        let run = Run::open(&config.run).map_err(|e| ServeError(e.to_string()))?;
        let reidentification = config
            .reidentification
            .as_deref()
            .map(reveal::Reidentification::open)
            .transpose()
            .map_err(ServeError)?;
        let writer =
            Writer::start(&config.db, overlay.clone()).map_err(|e| ServeError(e.to_string()))?;
        Ok(App {
            reidentification,
            run: ArcSwap::from_pointee(run),
            secure: config.tls.is_some(),
            config,
            readers: Mutex::new(vec![conn]),
            writer,
            overlay,
            off_cache: Mutex::default(),
            texts: i18n::Texts::new(),
            limiter: Limiter::default(),
        })
    }

    /// Runs `f` on a read connection of the store, off the async threads.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> store::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = app.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => store::open(&app.config.db).map_err(|e| e.to_string())?,
            };
            let r = f(&conn).map_err(|e| e.to_string());
            app.readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
            r
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The live session of a token, if any.
    pub async fn session(self: &Arc<Self>, token: &str) -> Result<Option<Session>, String> {
        let t = token.to_string();
        let now = chrono::Utc::now().timestamp();
        Ok(self
            .read(move |c| store::session(c, &t, now))
            .await?
            .map(|(user, csrf)| Session {
                user,
                csrf,
                token: token.to_string(),
            }))
    }

    /// Loads the run again when its path changed; keeps the old one when the
    /// new one cannot be read (yet). Returns the run it replaced, if it swapped.
    pub fn reload(&self) -> Result<Option<Arc<Run>>, String> {
        let key = crate::runs::version_key(&self.config.run).map_err(|e| e.to_string())?;
        if key == self.run.load().key {
            return Ok(None);
        }
        let run = Run::open(&self.config.run).map_err(|e| e.to_string())?;
        Ok(Some(self.run.swap(Arc::new(run))))
    }
}

/// The service's day (UTC), the reference of the cool-downs.
pub fn today() -> crate::data::Day {
    crate::data::day_from_date(chrono::Utc::now().date_naive())
}

/// Every route of the service.
pub fn router(app: Shared) -> Router {
    let pages = Router::new()
        .route("/", get(handlers::home))
        .route("/login", get(handlers::login_page).post(handlers::login))
        .route("/logout", post(handlers::logout))
        .route("/settings/language", post(handlers::language))
        .route("/clinics/{clinic}/list", get(handlers::list))
        .route("/clinics/{clinic}/export.csv", get(handlers::export))
        .route("/people/{id}", get(handlers::person))
        .route("/people/{id}/outcome", post(handlers::outcome))
        .route("/people/{id}/consent", post(handlers::consent))
        .route("/people/{id}/reveal", post(handlers::reveal))
        .route("/overview", get(handlers::overview))
        .route("/style.css", get(handlers::style));
    let api = Router::new()
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/run", get(api::run_info))
        .route("/api/clinics/{clinic}/list", get(api::list))
        .route("/api/clinics/{clinic}/export.csv", get(handlers::export))
        .route("/api/people/{id}", get(api::person))
        .route("/api/people/{id}/outcomes", post(api::outcome))
        .route("/api/people/{id}/consents", post(api::consent))
        .route("/api/people/{id}/reveal", post(api::reveal))
        .route("/api/overview", get(api::overview));
    pages
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::session_layer,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            auth::BODY_LIMIT,
        ))
        .with_state(app)
}

/// Checks the run path every `config.watch` and swaps in a new run, on one
/// thread of its own (`caregap-run-loader`) for the life of the service:
///
/// - the new run is read at a lower CPU priority (the thread and the small
///   rayon pool its Parquet decoding runs on are `nice` [`LOADER_NICE`]), so
///   requests keep most of the CPU while a run loads beside the one they use;
/// - a replaced run is kept until its last request ends, then freed *here*,
///   not by whichever request happened to hold it last (freeing a run's
///   millions of allocations takes a while), and the allocator is asked to
///   give the freed pages back ([`trim_allocator`]);
/// - every run is read by these same few threads, so its memory comes from
///   their malloc arenas, where the next run reuses the last one's space.
///
/// `nice` 5, not more: under a load that keeps both cores busy a lower
/// priority starved the reading (no swap within 40 s at `nice` 10 in the
/// load benchmark); a swap must still happen.
///
/// The thread holds the service weakly and ends when the service is gone.
fn watch(app: &Shared) -> Result<(), ServeError> {
    let weak = Arc::downgrade(app);
    let every = app.config.watch;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("caregap-run-read-{i}"))
        .start_handler(|_| lower_priority())
        .build()
        .map_err(|e| ServeError(format!("starting the run loader: {e}")))?;
    std::thread::Builder::new()
        .name("caregap-run-loader".into())
        .spawn(move || {
            lower_priority();
            let mut retired: Vec<Arc<Run>> = Vec::new();
            let mut last_error = String::new();
            loop {
                std::thread::sleep(every);
                let Some(app) = weak.upgrade() else { return };
                match pool.install(|| app.reload()) {
                    Ok(Some(old)) => {
                        let r = app.run.load();
                        eprintln!("serving run {} (as of {})", r.dir.display(), r.as_of_text);
                        last_error.clear();
                        retired.push(old);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        if e != last_error {
                            eprintln!("warning: keeping the current run: {e}");
                            last_error = e;
                        }
                    }
                }
                drop(app);
                let before = retired.len();
                // Only this thread still holds these: no request uses them.
                retired.retain(|r| Arc::strong_count(r) > 1);
                if retired.len() < before {
                    trim_allocator();
                }
            }
        })
        .map_err(|e| ServeError(format!("starting the run loader: {e}")))?;
    Ok(())
}

/// The `nice` value of the threads that read a new run.
pub const LOADER_NICE: i32 = 5;

/// Lowers the calling thread's CPU priority to [`LOADER_NICE`] (Linux: a
/// thread's own; elsewhere nothing).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (who = 0) changes no memory.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, LOADER_NICE);
    }
}

/// Gives freed memory back to the system (glibc keeps freed pages of every
/// arena otherwise; a run is gigabytes of small allocations).
fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Removes expired sessions every ten minutes.
fn purge(app: Shared) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = app.read(move |c| store::purge_sessions(c, now)).await {
                eprintln!("warning: removing expired sessions: {e}");
            }
        }
    });
}

/// Serves until the process is stopped. Prints `listening on URL` once the
/// socket is bound (port 0 picks a free port), then serves.
pub async fn serve(app: App, on_ready: impl FnOnce(String)) -> Result<(), ServeError> {
    let app = Arc::new(app);
    let tls = app.config.tls.clone();
    let bind = app.config.bind;
    watch(&app)?;
    purge(app.clone());
    let make = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let listener = std::net::TcpListener::bind(bind)
        .map_err(|e| ServeError(format!("binding {bind}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError(format!("binding {bind}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServeError(format!("binding {bind}: {e}")))?;
    match tls {
        Some((cert, key)) => {
            #[allow(deprecated)]
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| {
                    ServeError(format!(
                        "reading the certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?;
            on_ready(format!("https://{local}"));
            axum_server::from_tcp_rustls(listener, config)
                .map_err(|e| ServeError(format!("serving on {local}: {e}")))?
                .serve(make)
                .await
                .map_err(|e| ServeError(format!("serving on {local}: {e}")))
        }
        None => {
            on_ready(format!("http://{local}"));
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| ServeError(format!("serving on {local}: {e}")))?;
            axum::serve(listener, make)
                .await
                .map_err(|e| ServeError(format!("serving on {local}: {e}")))
        }
    }
}
