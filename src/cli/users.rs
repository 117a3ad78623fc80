//! `caregap users add|list|disable|passwd --db FILE`: the service's users.
//! There is no default user and no default password: the first admin (and
//! every other user) is created here. Passwords are read from the terminal
//! without echo (asked twice), or one line from standard input with
//! `--password-stdin`; stored as argon2id hashes. Every change is a row of
//! the audit trail, by `cli:$USER`.

use anyhow::{Context, Result, bail};
use caregap::serve::store::{self, AuditEntry, NewUser, Role, UserChange};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Add a user.
    Add {
        /// The service's database (created when missing).
        #[arg(long)]
        db: PathBuf,
        name: String,
        /// scheduler (one or more --clinic), analyst (aggregates only) or admin.
        #[arg(long)]
        role: String,
        /// A clinic of a scheduler (repeat for several), exactly as `clinic_id` in the data.
        #[arg(long = "clinic")]
        clinics: Vec<String>,
        /// Page language: fi, sv or en.
        #[arg(long, default_value = "fi")]
        language: String,
        /// Read the password from standard input (one line) instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        db: PathBuf,
    },
    /// Disable a user (their sessions end at once); `passwd` enables again.
    Disable {
        #[arg(long)]
        db: PathBuf,
        name: String,
    },
    /// Set a new password (ends the user's sessions).
    Passwd {
        #[arg(long)]
        db: PathBuf,
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The audit trail's actor for command-line changes.
pub fn cli_actor() -> AuditEntry {
    AuditEntry {
        user: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        role: "admin".into(),
        address: "local".into(),
        ..AuditEntry::default()
    }
}

fn read_password(from_stdin: bool) -> Result<String> {
    let pw = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let a = rpassword::prompt_password("password: ").context("reading the password")?;
        let b = rpassword::prompt_password("again: ").context("reading the password")?;
        if a != b {
            bail!("the two passwords differ");
        }
        a
    };
    store::password_ok(&pw).map_err(anyhow::Error::msg)?;
    Ok(pw)
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Sub::Add {
            db,
            name,
            role,
            clinics,
            language,
            password_stdin,
        } => {
            let role = Role::parse(&role)
                .with_context(|| format!("unknown role {role:?}: scheduler, analyst or admin"))?;
            if !caregap::serve::i18n::LANGUAGES.contains(&language.as_str()) {
                bail!("unknown language {language:?}: fi, sv or en");
            }
            let mut c = store::open(&db)?;
            if store::user_by_name(&c, &name)?.is_some() {
                bail!("a user {name:?} exists already (use `caregap users passwd`)");
            }
            let pw = read_password(password_stdin)?;
            let hash = store::hash_password(&pw).map_err(anyhow::Error::msg)?;
            store::add_user(
                &mut c,
                &NewUser {
                    name: &name,
                    role,
                    clinics: &clinics,
                    language: &language,
                    password_hash: &hash,
                },
                &cli_actor(),
            )?;
            println!(
                "added {} {name}{}",
                role.as_str(),
                if clinics.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", clinics.join(", "))
                }
            );
        }
        Sub::List { db } => {
            let c = store::open(&db)?;
            println!(
                "{:<20} {:<10} {:<20} {:<4} {:<9} created",
                "name", "role", "clinics", "lang", "state"
            );
            for u in store::users(&c)? {
                println!(
                    "{:<20} {:<10} {:<20} {:<4} {:<9} {}",
                    u.name,
                    u.role.as_str(),
                    u.clinics.join(","),
                    u.language,
                    if u.disabled { "disabled" } else { "active" },
                    u.created
                );
            }
        }
        Sub::Disable { db, name } => {
            let mut c = store::open(&db)?;
            store::update_user(&mut c, &name, UserChange::Disable, &cli_actor())?;
            println!("disabled {name}");
        }
        Sub::Passwd {
            db,
            name,
            password_stdin,
        } => {
            let mut c = store::open(&db)?;
            if store::user_by_name(&c, &name)?.is_none() {
                bail!("no user {name:?} (see `caregap users list`)");
            }
            let pw = read_password(password_stdin)?;
            let hash = store::hash_password(&pw).map_err(anyhow::Error::msg)?;
            store::update_user(&mut c, &name, UserChange::Password(hash), &cli_actor())?;
            println!("new password set for {name}");
        }
    }
    Ok(())
}
