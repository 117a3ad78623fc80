//! The service's system of record: one SQLite file (bundled SQLite, WAL,
//! `synchronous=FULL`) holding users, sessions, outcomes, consent decisions
//! and the audit trail.
//!
//! Every write runs inside a transaction that also appends its audit row, so
//! a write and its audit row commit together or not at all. Outcomes,
//! consents and the audit trail are append-only: triggers refuse any
//! `UPDATE` or `DELETE` of their rows (a correction is a new row).
//!
//! **The audit chain.** Each audit row stores `prev` (the hash of the row
//! before it; 64 zeros for the first) and `hash = sha256(prev || canonical
//! row)`, where the canonical row is the JSON array `[seq, time, user, role,
//! clinic, action, patients, count, address, detail]`. [`verify_audit`]
//! recomputes the chain: a changed row breaks its own hash, a removed or
//! inserted row breaks the sequence or the next row's `prev`. Removing rows
//! at the end leaves a shorter valid chain: compare the head (count and last
//! hash, printed by `caregap audit verify`) with one recorded elsewhere.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A store error: what failed, on which file.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

fn err(path: &Path, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Person-level lists of their own clinics; records outcomes and consents.
    Scheduler,
    /// Aggregates only, never person-level data.
    Analyst,
    /// Users (and aggregates); no person-level data.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Scheduler => "scheduler",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "scheduler" => Some(Role::Scheduler),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user as stored (without the password hash).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub clinics: Vec<String>,
    pub language: String,
    pub disabled: bool,
    pub created: String,
}

/// Outcomes a scheduler records. The data model's `outreach` table knows
/// four of them; `reached` (spoke with the person, nothing decided) is kept
/// in the service only, and `wrong_number` is exported as `not_reachable`.
pub const OUTCOMES: [&str; 5] = ["reached", "booked", "declined", "no_answer", "wrong_number"];

/// Consent scopes of the data model.
pub const SCOPES: [&str; 2] = ["outreach", "research"];

/// One recorded outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutcomeRow {
    pub id: i64,
    pub time: String,
    pub day: String,
    pub user: String,
    pub clinic: String,
    pub patient_id: String,
    pub criterion_id: Option<String>,
    pub outcome: String,
    pub note: String,
}

/// One recorded consent decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConsentRow {
    pub id: i64,
    pub time: String,
    pub day: String,
    pub user: String,
    pub clinic: String,
    pub patient_id: String,
    pub scope: String,
    pub granted: bool,
    pub note: String,
}

/// What an audit row says (the store adds `seq`, `time`, `prev`, `hash`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditEntry {
    pub user: String,
    pub role: String,
    pub clinic: String,
    pub action: String,
    /// Person ids concerned (may be empty; `count` says how many).
    pub patients: Vec<String>,
    pub count: u64,
    pub address: String,
    pub detail: String,
}

/// An audit row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub time: String,
    pub entry: AuditEntry,
    pub prev: String,
    pub hash: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('scheduler','analyst','admin')),
  clinics TEXT NOT NULL DEFAULT '',
  password TEXT NOT NULL,
  language TEXT NOT NULL DEFAULT 'fi',
  disabled INTEGER NOT NULL DEFAULT 0,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  csrf TEXT NOT NULL,
  created TEXT NOT NULL,
  expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes(
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL, day TEXT NOT NULL, user TEXT NOT NULL, clinic TEXT NOT NULL,
  patient_id TEXT NOT NULL, criterion_id TEXT, outcome TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS outcomes_patient ON outcomes(patient_id);
CREATE TABLE IF NOT EXISTS consents(
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL, day TEXT NOT NULL, user TEXT NOT NULL, clinic TEXT NOT NULL,
  patient_id TEXT NOT NULL, scope TEXT NOT NULL, granted INTEGER NOT NULL,
  note TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS consents_patient ON consents(patient_id);
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, clinic TEXT NOT NULL,
  action TEXT NOT NULL, patients TEXT NOT NULL, count INTEGER NOT NULL,
  address TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS outcomes_no_update BEFORE UPDATE ON outcomes
  BEGIN SELECT RAISE(ABORT, 'outcomes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS outcomes_no_delete BEFORE DELETE ON outcomes
  BEGIN SELECT RAISE(ABORT, 'outcomes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS consents_no_update BEFORE UPDATE ON consents
  BEGIN SELECT RAISE(ABORT, 'consent decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS consents_no_delete BEFORE DELETE ON consents
  BEGIN SELECT RAISE(ABORT, 'consent decisions are append-only'); END;
";

/// Opens (creating when missing) the store at `path` with the schema in place.
pub fn open(path: &Path) -> Result<Connection> {
    let c = Connection::open(path).map_err(|e| err(path, "opening the store", e))?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| err(path, "setting the busy timeout", e))?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| err(path, "switching to WAL", e))?;
    c.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| err(path, "setting synchronous=FULL", e))?;
    c.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| err(path, "enabling foreign keys", e))?;
    c.execute_batch(SCHEMA)
        .map_err(|e| err(path, "creating the schema", e))?;
    Ok(c)
}

fn path_of(c: &Connection) -> PathBuf {
    PathBuf::from(c.path().unwrap_or("(store)"))
}

/// The current UTC time, ISO 8601 with milliseconds.
pub fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The canonical text of an audit row, the input of its hash (after `prev`).
pub fn canonical(seq: i64, time: &str, e: &AuditEntry) -> String {
    serde_json::json!([
        seq,
        time,
        e.user,
        e.role,
        e.clinic,
        e.action,
        patients_text(&e.patients),
        e.count,
        e.address,
        e.detail
    ])
    .to_string()
}

/// Patients as stored: `,id,id,` (so `LIKE '%,17,%'` finds a person), or empty.
fn patients_text(p: &[String]) -> String {
    if p.is_empty() {
        String::new()
    } else {
        format!(",{},", p.join(","))
    }
}

fn chain_hash(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends one audit row inside `tx`; returns its sequence number.
pub fn append_audit(tx: &Connection, e: &AuditEntry) -> Result<i64> {
    let p = path_of(tx);
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|x| err(&p, "reading the audit head", x))?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let time = now_text();
    let hash = chain_hash(&prev, &canonical(seq, &time, e));
    tx.execute(
        "INSERT INTO audit(seq,time,user,role,clinic,action,patients,count,address,detail,prev,hash)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        params![
            seq,
            time,
            e.user,
            e.role,
            e.clinic,
            e.action,
            patients_text(&e.patients),
            e.count as i64,
            e.address,
            e.detail,
            prev,
            hash
        ],
    )
    .map_err(|x| err(&p, "appending to the audit trail", x))?;
    Ok(seq)
}

/// The result of [`verify_audit`].
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub rows: i64,
    /// The last row's hash (the genesis hash for an empty trail).
    pub head: String,
    /// The first broken row and why, when the chain is broken.
    pub broken: Option<(i64, String)>,
}

/// Recomputes the whole chain.
pub fn verify_audit(c: &Connection) -> Result<Verified> {
    let p = path_of(c);
    let mut st = c
        .prepare("SELECT seq,time,user,role,clinic,action,patients,count,address,detail,prev,hash FROM audit ORDER BY seq")
        .map_err(|x| err(&p, "reading the audit trail", x))?;
    let mut rows = st
        .query([])
        .map_err(|x| err(&p, "reading the audit trail", x))?;
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    while let Some(r) = rows
        .next()
        .map_err(|x| err(&p, "reading the audit trail", x))?
    {
        let row = audit_row(r).map_err(|x| err(&p, "reading the audit trail", x))?;
        n += 1;
        let broken = |why: String| Verified {
            rows: n,
            head: prev.clone(),
            broken: Some((row.seq, why)),
        };
        if row.seq != expected_seq {
            return Ok(broken(format!(
                "sequence jumps from {} to {}: rows were removed or inserted",
                expected_seq - 1,
                row.seq
            )));
        }
        if row.prev != prev {
            return Ok(broken("its `prev` is not the hash of the row before: a row before it was changed, removed or inserted".into()));
        }
        let h = chain_hash(&prev, &canonical(row.seq, &row.time, &row.entry));
        if h != row.hash {
            return Ok(broken(
                "its content does not match its hash: the row was changed".into(),
            ));
        }
        prev = row.hash;
        expected_seq += 1;
    }
    Ok(Verified {
        rows: n,
        head: prev,
        broken: None,
    })
}

fn audit_row(r: &rusqlite::Row) -> rusqlite::Result<AuditRow> {
    let patients: String = r.get(6)?;
    Ok(AuditRow {
        seq: r.get(0)?,
        time: r.get(1)?,
        entry: AuditEntry {
            user: r.get(2)?,
            role: r.get(3)?,
            clinic: r.get(4)?,
            action: r.get(5)?,
            patients: patients
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            count: r.get::<_, i64>(7)? as u64,
            address: r.get(8)?,
            detail: r.get(9)?,
        },
        prev: r.get(10)?,
        hash: r.get(11)?,
    })
}

/// Which audit rows to show.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub patient: Option<String>,
    /// Rows at or after this time (a prefix of ISO 8601 such as `2026-12-01`).
    pub since: Option<String>,
    pub limit: Option<u64>,
}

/// Audit rows matching `f`, oldest first.
pub fn audit_rows(c: &Connection, f: &AuditFilter) -> Result<Vec<AuditRow>> {
    let p = path_of(c);
    let mut sql = String::from(
        "SELECT seq,time,user,role,clinic,action,patients,count,address,detail,prev,hash FROM audit WHERE 1=1",
    );
    let mut args: Vec<String> = Vec::new();
    if let Some(u) = &f.user {
        args.push(u.clone());
        sql.push_str(&format!(" AND user = ?{}", args.len()));
    }
    if let Some(pt) = &f.patient {
        args.push(format!("%,{},%", pt.trim()));
        sql.push_str(&format!(" AND patients LIKE ?{}", args.len()));
    }
    if let Some(s) = &f.since {
        args.push(s.clone());
        sql.push_str(&format!(" AND time >= ?{}", args.len()));
    }
    sql.push_str(" ORDER BY seq");
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut st = c
        .prepare(&sql)
        .map_err(|x| err(&p, "reading the audit trail", x))?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args.iter()), audit_row)
        .map_err(|x| err(&p, "reading the audit trail", x))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|x| err(&p, "reading the audit trail", x))
}

// ---- users ----------------------------------------------------------------

/// Hashes a password with argon2id (the crate's default parameters, a random salt).
pub fn hash_password(password: &str) -> std::result::Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

/// Whether `password` matches the stored argon2 hash.
pub fn check_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// Checks a new password's length (in characters).
pub fn password_ok(password: &str) -> std::result::Result<(), String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        ));
    }
    Ok(())
}

fn user_row(r: &rusqlite::Row) -> rusqlite::Result<User> {
    let role: String = r.get(2)?;
    let clinics: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Analyst),
        clinics: clinics
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        language: r.get(4)?,
        disabled: r.get::<_, i64>(5)? != 0,
        created: r.get(6)?,
    })
}

const USER_COLS: &str = "id,name,role,clinics,language,disabled,created";

/// Every user, by name.
pub fn users(c: &Connection) -> Result<Vec<User>> {
    let p = path_of(c);
    let mut st = c
        .prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY name"))
        .map_err(|x| err(&p, "reading users", x))?;
    let rows = st
        .query_map([], user_row)
        .map_err(|x| err(&p, "reading users", x))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|x| err(&p, "reading users", x))
}

/// A user and their password hash, by name.
pub fn user_by_name(c: &Connection, name: &str) -> Result<Option<(User, String)>> {
    let p = path_of(c);
    c.query_row(
        &format!("SELECT {USER_COLS},password FROM users WHERE name = ?1"),
        [name],
        |r| Ok((user_row(r)?, r.get::<_, String>(7)?)),
    )
    .optional()
    .map_err(|x| err(&p, "reading a user", x))
}

/// A new user (the caller checked and hashed the password).
pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: Role,
    pub clinics: &'a [String],
    pub language: &'a str,
    pub password_hash: &'a str,
}

/// Adds a user, audited as `actor`. Fails when the name is taken or a
/// scheduler has no clinic.
pub fn add_user(c: &mut Connection, u: &NewUser, actor: &AuditEntry) -> Result<i64> {
    let p = path_of(c);
    if u.name.trim().is_empty() || u.name.contains(char::is_whitespace) {
        return Err(err(
            &p,
            "adding a user",
            "a user name is one word without spaces",
        ));
    }
    if u.role == Role::Scheduler && u.clinics.is_empty() {
        return Err(err(
            &p,
            "adding a user",
            "a scheduler needs at least one --clinic",
        ));
    }
    if u.role != Role::Scheduler && !u.clinics.is_empty() {
        return Err(err(&p, "adding a user", "only schedulers have clinics"));
    }
    if u.clinics
        .iter()
        .any(|c| c.contains(',') || c.trim() != c || c.is_empty())
    {
        return Err(err(
            &p,
            "adding a user",
            "a clinic id has no comma and no surrounding spaces",
        ));
    }
    let tx = c.transaction().map_err(|x| err(&p, "adding a user", x))?;
    if user_by_name(&tx, u.name)?.is_some() {
        return Err(err(
            &p,
            "adding a user",
            format!("a user {:?} exists already", u.name),
        ));
    }
    tx.execute(
        "INSERT INTO users(name,role,clinics,password,language,created) VALUES (?1,?2,?3,?4,?5,?6)",
        params![
            u.name,
            u.role.as_str(),
            u.clinics.join(","),
            u.password_hash,
            u.language,
            now_text()
        ],
    )
    .map_err(|x| err(&p, "adding a user", x))?;
    let id = tx.last_insert_rowid();
    let mut a = actor.clone();
    a.action = "user_add".into();
    a.detail = format!(
        "user={} role={} clinics={}",
        u.name,
        u.role.as_str(),
        u.clinics.join(",")
    );
    append_audit(&tx, &a)?;
    tx.commit().map_err(|x| err(&p, "adding a user", x))?;
    Ok(id)
}

/// Sets a user's disabled flag or password or language, audited; ends their
/// sessions when disabling or changing the password.
pub fn update_user(
    c: &mut Connection,
    name: &str,
    change: UserChange,
    actor: &AuditEntry,
) -> Result<()> {
    let p = path_of(c);
    let tx = c.transaction().map_err(|x| err(&p, "changing a user", x))?;
    let Some((u, _)) = user_by_name(&tx, name)? else {
        return Err(err(
            &p,
            "changing a user",
            format!("no user {name:?} (see `caregap users list`)"),
        ));
    };
    let mut a = actor.clone();
    match &change {
        UserChange::Disable => {
            tx.execute("UPDATE users SET disabled = 1 WHERE id = ?1", [u.id])
                .map_err(|x| err(&p, "disabling a user", x))?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [u.id])
                .map_err(|x| err(&p, "ending sessions", x))?;
            a.action = "user_disable".into();
        }
        UserChange::Password(h) => {
            tx.execute(
                "UPDATE users SET password = ?1, disabled = 0 WHERE id = ?2",
                params![h, u.id],
            )
            .map_err(|x| err(&p, "changing a password", x))?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [u.id])
                .map_err(|x| err(&p, "ending sessions", x))?;
            a.action = "user_passwd".into();
        }
        UserChange::Language(l) => {
            tx.execute(
                "UPDATE users SET language = ?1 WHERE id = ?2",
                params![l, u.id],
            )
            .map_err(|x| err(&p, "changing the language", x))?;
            a.action = "user_language".into();
            a.detail = l.clone();
        }
    }
    if a.detail.is_empty() {
        a.detail = format!("user={name}");
    }
    append_audit(&tx, &a)?;
    tx.commit().map_err(|x| err(&p, "changing a user", x))
}

/// One change of [`update_user`].
#[derive(Debug, Clone)]
pub enum UserChange {
    Disable,
    /// A new argon2 hash.
    Password(String),
    Language(String),
}

// ---- sessions ---------------------------------------------------------------

/// sha256 of a session token, as stored (the token itself is never stored).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The user and CSRF token of a live session.
pub fn session(c: &Connection, token: &str, now_unix: i64) -> Result<Option<(User, String)>> {
    let p = path_of(c);
    c.query_row(
        "SELECT u.id,u.name,u.role,u.clinics,u.language,u.disabled,u.created,s.csrf
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires > ?2 AND u.disabled = 0",
        params![token_hash(token), now_unix],
        |r| Ok((user_row(r)?, r.get::<_, String>(7)?)),
    )
    .optional()
    .map_err(|x| err(&p, "reading a session", x))
}

/// Outcomes and consents since `day` (inclusive), for the service's overlay.
pub fn recent(c: &Connection, since_day: &str) -> Result<(Vec<OutcomeRow>, Vec<ConsentRow>)> {
    Ok((
        outcomes_where(c, "day >= ?1", &[since_day])?,
        consents_where(c, "1=1", &[])?,
    ))
}

fn outcomes_where(c: &Connection, cond: &str, args: &[&str]) -> Result<Vec<OutcomeRow>> {
    let p = path_of(c);
    let mut st = c
        .prepare(&format!(
            "SELECT id,time,day,user,clinic,patient_id,criterion_id,outcome,note FROM outcomes WHERE {cond} ORDER BY id"
        ))
        .map_err(|x| err(&p, "reading outcomes", x))?;
    st.query_map(rusqlite::params_from_iter(args.iter()), outcome_row)
        .map_err(|x| err(&p, "reading outcomes", x))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|x| err(&p, "reading outcomes", x))
}

fn outcome_row(r: &rusqlite::Row) -> rusqlite::Result<OutcomeRow> {
    Ok(OutcomeRow {
        id: r.get(0)?,
        time: r.get(1)?,
        day: r.get(2)?,
        user: r.get(3)?,
        clinic: r.get(4)?,
        patient_id: r.get(5)?,
        criterion_id: r.get(6)?,
        outcome: r.get(7)?,
        note: r.get(8)?,
    })
}

fn consents_where(c: &Connection, cond: &str, args: &[&str]) -> Result<Vec<ConsentRow>> {
    let p = path_of(c);
    let mut st = c
        .prepare(&format!("SELECT id,time,day,user,clinic,patient_id,scope,granted,note FROM consents WHERE {cond} ORDER BY id"))
        .map_err(|x| err(&p, "reading consents", x))?;
    st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok(ConsentRow {
            id: r.get(0)?,
            time: r.get(1)?,
            day: r.get(2)?,
            user: r.get(3)?,
            clinic: r.get(4)?,
            patient_id: r.get(5)?,
            scope: r.get(6)?,
            granted: r.get::<_, i64>(7)? != 0,
            note: r.get(8)?,
        })
    })
    .map_err(|x| err(&p, "reading consents", x))?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(|x| err(&p, "reading consents", x))
}

/// A person's outcomes and consent decisions, oldest first.
pub fn person_history(c: &Connection, patient: &str) -> Result<(Vec<OutcomeRow>, Vec<ConsentRow>)> {
    Ok((
        outcomes_where(c, "patient_id = ?1", &[patient])?,
        consents_where(c, "patient_id = ?1", &[patient])?,
    ))
}

/// Every outcome and consent decision, oldest first (for `caregap outreach export`).
pub fn all_records(c: &Connection) -> Result<(Vec<OutcomeRow>, Vec<ConsentRow>)> {
    recent(c, "")
}

/// A write of the service (one transaction with its audit row).
#[derive(Debug, Clone)]
pub enum Write {
    Session {
        token_hash: String,
        user_id: i64,
        csrf: String,
        expires: i64,
    },
    EndSession {
        token_hash: String,
    },
    Outcome(OutcomeRow),
    Consent(ConsentRow),
    Language {
        user_id: i64,
        language: String,
    },
    /// Nothing but the audit row (views, lists, exports, logins).
    AuditOnly,
}

/// Runs one write and its audit row inside `tx`; returns the new row's id (0 when none).
pub fn apply(tx: &Connection, w: &Write, audit: &AuditEntry) -> Result<i64> {
    let p = path_of(tx);
    let id = match w {
        Write::Session {
            token_hash,
            user_id,
            csrf,
            expires,
        } => {
            tx.execute(
                "INSERT INTO sessions(token_hash,user_id,csrf,created,expires) VALUES (?1,?2,?3,?4,?5)",
                params![token_hash, user_id, csrf, now_text(), expires],
            )
            .map_err(|x| err(&p, "creating a session", x))?;
            0
        }
        Write::EndSession { token_hash } => {
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])
                .map_err(|x| err(&p, "ending a session", x))?;
            0
        }
        Write::Outcome(o) => {
            tx.execute(
                "INSERT INTO outcomes(time,day,user,clinic,patient_id,criterion_id,outcome,note) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                params![o.time, o.day, o.user, o.clinic, o.patient_id, o.criterion_id, o.outcome, o.note],
            )
            .map_err(|x| err(&p, "recording an outcome", x))?;
            tx.last_insert_rowid()
        }
        Write::Consent(o) => {
            tx.execute(
                "INSERT INTO consents(time,day,user,clinic,patient_id,scope,granted,note) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                params![o.time, o.day, o.user, o.clinic, o.patient_id, o.scope, o.granted as i64, o.note],
            )
            .map_err(|x| err(&p, "recording a consent decision", x))?;
            tx.last_insert_rowid()
        }
        Write::Language { user_id, language } => {
            tx.execute(
                "UPDATE users SET language = ?1 WHERE id = ?2",
                params![language, user_id],
            )
            .map_err(|x| err(&p, "changing the language", x))?;
            0
        }
        Write::AuditOnly => 0,
    };
    append_audit(tx, audit)?;
    Ok(id)
}

/// Removes expired sessions (not audited: nothing a person did).
pub fn purge_sessions(c: &Connection, now_unix: i64) -> Result<usize> {
    let p = path_of(c);
    c.execute("DELETE FROM sessions WHERE expires <= ?1", [now_unix])
        .map_err(|x| err(&p, "removing expired sessions", x))
}

/// Counts rows of a table (outcomes, consents, audit).
pub fn count(c: &Connection, table: &str) -> Result<i64> {
    let p = path_of(c);
    if !["outcomes", "consents", "audit", "users", "sessions"].contains(&table) {
        return Err(err(&p, "counting", format!("no table {table}")));
    }
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .map_err(|x| err(&p, "counting", x))
}
