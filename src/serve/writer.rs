//! The one writer: a thread that owns the store's write connection and
//! commits waiting writes together (group commit). Each write runs in its own
//! savepoint inside the batch's transaction, so one failing write fails
//! alone; the batch commits (fsync, `synchronous=FULL`) before any caller is
//! answered, and the overlay is updated before the answer too, so a
//! response that says "recorded" means committed and already in every list.

use super::overlay::Overlay;
use super::store::{self, AuditEntry, Write};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use tokio::sync::oneshot;

/// Most writes committed in one transaction.
const BATCH: usize = 256;

struct Job {
    write: Write,
    audit: AuditEntry,
    reply: oneshot::Sender<Result<i64, String>>,
}

/// A handle to the writer thread (cheap to clone).
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on a connection of its own.
    pub fn start(path: &Path, overlay: Arc<RwLock<Overlay>>) -> store::Result<Writer> {
        let conn = store::open(path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("caregap-store-writer".into())
            .spawn(move || run(conn, rx, overlay))
            .map_err(|e| store::StoreError {
                path: path.to_path_buf(),
                message: format!("starting the writer thread: {e}"),
            })?;
        Ok(Writer { tx })
    }

    /// Commits `write` with its audit row; returns the new row's id.
    pub async fn write(&self, write: Write, audit: AuditEntry) -> Result<i64, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                write,
                audit,
                reply,
            })
            .map_err(|_| "the store's writer has stopped".to_string())?;
        rx.await
            .map_err(|_| "the store's writer has stopped".to_string())?
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>, overlay: Arc<RwLock<Overlay>>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let results = commit(&mut conn, &jobs);
        if let Ok(results) = &results {
            let mut o = overlay.write().unwrap_or_else(|e| e.into_inner());
            for (j, r) in jobs.iter().zip(results) {
                if r.is_ok() {
                    match &j.write {
                        Write::Outcome(row) => o.add_outcome(row),
                        Write::Consent(row) => o.add_consent(row),
                        _ => {}
                    }
                }
            }
        }
        match results {
            Ok(results) => {
                for (j, r) in jobs.into_iter().zip(results) {
                    let _ = j.reply.send(r);
                }
            }
            Err(e) => {
                for j in jobs {
                    let _ = j.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn commit(conn: &mut Connection, jobs: &[Job]) -> Result<Vec<Result<i64, String>>, String> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("starting a transaction: {e}"))?;
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        let sp = tx.savepoint().map_err(|e| format!("savepoint: {e}"))?;
        match store::apply(&sp, &j.write, &j.audit) {
            Ok(id) => {
                sp.commit().map_err(|e| format!("savepoint: {e}"))?;
                out.push(Ok(id));
            }
            Err(e) => {
                drop(sp); // rolls back this write only
                out.push(Err(e.to_string()));
            }
        }
    }
    tx.set_drop_behavior(rusqlite::DropBehavior::Commit);
    tx.commit().map_err(|e| format!("committing: {e}"))?;
    Ok(out)
}
