//! `caregap serve --run RUN --db FILE`: the scheduler service (see
//! `caregap::serve`). Prints `listening on URL` when it is ready.

use anyhow::{Context, Result, bail};
use caregap::rank::config::{Capacities, RankConfig};
use caregap::serve::{self, App, Config};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run folder of `caregap score` + `caregap rank`, or a symlink (`latest`) to one.
    /// A new run there is picked up without a restart.
    #[arg(long)]
    pub run: PathBuf,
    /// The service's database of users, sessions, outcomes, consents and audit trail
    /// (created when missing; add users with `caregap users add`).
    #[arg(long)]
    pub db: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// TLS certificate chain (PEM): serve HTTPS.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Allow plain HTTP on an address other than loopback (behind a TLS proxy).
    #[arg(long)]
    pub allow_http: bool,
    /// Ranking configuration (TOML) for the cool-downs (as `caregap rank --config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Clinic capacities: CSV `clinic_id,capacity` or TOML (as `caregap rank --capacities`).
    #[arg(long)]
    pub capacities: Option<PathBuf>,
    /// Small-cell threshold of the analysts' overview.
    #[arg(long, default_value_t = 5)]
    pub min_cell: u64,
    /// How often to look for a new run, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub watch_ms: u64,
    /// How long a login lasts, in hours.
    #[arg(long, default_value_t = 8.0)]
    pub session_hours: f64,
    /// The re-identification file of a pseudonymising import
    /// (`caregap import --reidentification`): a scheduler may then reveal the
    /// original identifier of a person of her clinic, each reveal audited.
    /// Keep it apart from the data and run folders.
    #[arg(long, value_name = "FILE")]
    pub reidentification: Option<PathBuf>,
}

fn read_text(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// The service's configuration from the options.
pub fn config(args: &Args) -> Result<Config> {
    let cooldowns = match &args.config {
        Some(p) => RankConfig::parse(&p.display().to_string(), &read_text(p)?)?.cooldown_days,
        None => RankConfig::default().cooldown_days,
    };
    let capacities = match &args.capacities {
        Some(p) => Capacities::parse(&p.display().to_string(), &read_text(p)?)?,
        None => Capacities::default(),
    };
    if !(args.session_hours > 0.0 && args.session_hours <= 24.0 * 30.0) {
        bail!("--session-hours must be more than 0 and at most 720");
    }
    Ok(Config {
        run: args.run.clone(),
        db: args.db.clone(),
        bind: args.bind,
        tls: args.cert.clone().zip(args.key.clone()),
        allow_http: args.allow_http,
        cooldowns,
        capacities,
        min_cell: args.min_cell,
        watch: Duration::from_millis(args.watch_ms.max(50)),
        session: Duration::from_secs_f64(args.session_hours * 3600.0),
        reidentification: args.reidentification.clone(),
    })
}

/// Starts the service and blocks; `on_ready` gets the URL once it listens.
pub fn start(config: Config, on_ready: impl FnOnce(String)) -> Result<()> {
    let app = App::new(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve::serve(app, on_ready))?;
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let cfg = config(&args)?;
    if caregap::serve::store::users(&caregap::serve::store::open(&cfg.db)?)?.is_empty() {
        eprintln!(
            "note: {} has no users yet: add one with `caregap users add NAME --role admin --db {}`",
            cfg.db.display(),
            cfg.db.display()
        );
    }
    start(cfg, |url| {
        use std::io::Write;
        println!("listening on {url}");
        let _ = std::io::stdout().flush();
    })
}

/// `caregap demo --serve`: a service on the demo run with a scheduler of
/// `clinic` (default: the clinic with the longest list) and an analyst, whose
/// new random passwords are printed once. Blocks while serving.
pub fn demo(out: &Path, run: &Path, clinic: Option<&str>) -> Result<()> {
    use caregap::serve::store::{self, NewUser, Role, UserChange};
    let loaded = caregap::runs::Run::open(run)?;
    let clinic = match clinic {
        Some(c) => c.to_string(),
        None => loaded
            .clinics
            .iter()
            .zip(&loaded.lists)
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(c, _)| c.clone())
            .context("the demo run has no clinic")?,
    };
    drop(loaded);
    let db = out.join("serve.db");
    let mut c = store::open(&db)?;
    let actor = super::users::cli_actor();
    let mut lines = Vec::new();
    for (name, role, clinics) in [
        ("demo-scheduler", Role::Scheduler, vec![clinic.clone()]),
        ("demo-analyst", Role::Analyst, vec![]),
    ] {
        let pw = caregap::serve::auth::random_token()[..20].to_string();
        let hash = store::hash_password(&pw).map_err(anyhow::Error::msg)?;
        if store::user_by_name(&c, name)?.is_some() {
            store::update_user(&mut c, name, UserChange::Password(hash), &actor)?;
        } else {
            store::add_user(
                &mut c,
                &NewUser {
                    name,
                    role,
                    clinics: &clinics,
                    language: "fi",
                    password_hash: &hash,
                },
                &actor,
            )?;
        }
        lines.push(format!(
            "  {name:<15} password {pw}  ({}{})",
            role.as_str(),
            if clinics.is_empty() {
                String::new()
            } else {
                format!(" of {}", clinics.join(", "))
            }
        ));
    }
    drop(c);
    let cfg = Config {
        run: run.to_path_buf(),
        db: db.clone(),
        bind: "127.0.0.1:0".parse().expect("an address"),
        tls: None,
        allow_http: false,
        cooldowns: RankConfig::default().cooldown_days,
        capacities: Capacities::default(),
        min_cell: 5,
        watch: Duration::from_secs(5),
        session: Duration::from_secs(8 * 3600),
        reidentification: None,
    };
    println!(
        "\nthe scheduler service, with its store in {}:",
        db.display()
    );
    for l in &lines {
        println!("{l}");
    }
    println!(
        "  (these passwords are shown only now; `caregap users passwd NAME --db {}` sets new ones)",
        db.display()
    );
    start(cfg, |url| {
        use std::io::Write;
        println!("\nserving on {url}  (Ctrl-C stops it)");
        println!("{url}");
        let _ = std::io::stdout().flush();
    })
}
