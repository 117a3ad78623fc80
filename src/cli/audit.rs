//! `caregap audit verify|show --db FILE`: the service's audit trail.
//! `verify` recomputes the hash chain and fails (exit 1) at the first row
//! that was changed, removed or inserted; it prints the row count and head
//! hash, to compare with a copy kept elsewhere (which catches rows removed
//! from the end). `show` answers "who looked at this person?".

use anyhow::{Result, bail};
use caregap::serve::store::{self, AuditFilter};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Recompute the hash chain.
    Verify {
        #[arg(long)]
        db: PathBuf,
    },
    /// Show audit rows (oldest first), filtered.
    Show {
        #[arg(long)]
        db: PathBuf,
        /// Rows by this user.
        #[arg(long)]
        user: Option<String>,
        /// Rows concerning this person id (as the run writes it).
        #[arg(long)]
        patient: Option<String>,
        /// Rows at or after this UTC time or date (e.g. 2026-12-01).
        #[arg(long)]
        since: Option<String>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Sub::Verify { db } => {
            if !db.exists() {
                bail!("{}: no such store", db.display());
            }
            let c = store::open(&db)?;
            let v = store::verify_audit(&c)?;
            match v.broken {
                None => println!("audit trail intact: {} rows, head {}", v.rows, v.head),
                Some((seq, why)) => bail!(
                    "audit trail broken at row {seq}: {why} ({} rows checked)",
                    v.rows
                ),
            }
        }
        Sub::Show {
            db,
            user,
            patient,
            since,
            json,
        } => {
            if !db.exists() {
                bail!("{}: no such store", db.display());
            }
            if let Some(s) = &since
                && caregap::data::parse_day(&s[..s.len().min(10)]).is_none()
            {
                bail!("--since {s:?}: give a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SS");
            }
            let c = store::open(&db)?;
            let rows = store::audit_rows(
                &c,
                &AuditFilter {
                    user,
                    patient,
                    since,
                    limit: None,
                },
            )?;
            for r in &rows {
                let e = &r.entry;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "seq": r.seq, "time": r.time, "user": e.user, "role": e.role, "clinic": e.clinic,
                            "action": e.action, "patients": e.patients, "count": e.count,
                            "address": e.address, "detail": e.detail,
                        })
                    );
                } else {
                    let people = if e.patients.len() > 5 {
                        format!("{},… ({})", e.patients[..5].join(","), e.count)
                    } else {
                        e.patients.join(",")
                    };
                    println!(
                        "{:>6} {} {:<16} {:<9} {:<6} {:<12} {:<24} {:<15} {}",
                        r.seq,
                        r.time,
                        e.user,
                        e.role,
                        e.clinic,
                        e.action,
                        people,
                        e.address,
                        e.detail
                    );
                }
            }
            if !json {
                eprintln!("{} rows", rows.len());
            }
        }
    }
    Ok(())
}
