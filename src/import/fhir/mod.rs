//! FHIR R4 input: Bulk Data NDJSON (one resource per line, gzip too) and JSON
//! Bundles (or single resources), mixed freely.
//!
//! NDJSON is read in blocks of whole lines; a batch of blocks is parsed in
//! parallel (rayon, one [`Chunk`] per block) and the chunks are merged in
//! input order, so the output never depends on the thread count and memory
//! holds a batch of input text plus the compact rows, never a whole file.
//! A Bundle file is read whole (Bundles are exchange units, not exports) and
//! its entries parsed in parallel.

pub mod convert;
pub mod resource;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::value::RawValue;

use super::mapping::Mapping;
use super::report::{InputFile, Loc};
use super::rows::{Chunk, Collected};
use super::{ImportError, Progress};
use convert::Ctx;
use resource::{Bundle, MedicationPart};

/// How an input file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Ndjson,
    Json,
}

/// One input file.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub kind: FileKind,
    pub gzip: bool,
    pub bytes: u64,
}

/// The kind of a file from its name (`.ndjson`, `.json`, `.jsonl`, each
/// optionally `.gz`), or `None` for other files.
pub fn kind_of(path: &Path) -> Option<(FileKind, bool)> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let (base, gzip) = match name.strip_suffix(".gz") {
        Some(b) => (b.to_string(), true),
        None => (name, false),
    };
    if base.ends_with(".ndjson") || base.ends_with(".jsonl") {
        Some((FileKind::Ndjson, gzip))
    } else if base.ends_with(".json") {
        Some((FileKind::Json, gzip))
    } else {
        None
    }
}

/// Expands the command line's files and folders (a folder: its FHIR files,
/// not recursing, in name order).
pub fn list_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, ImportError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|source| ImportError::Io {
            path: p.clone(),
            what: "read",
            source,
        })?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = fs::read_dir(p)
                .map_err(|source| ImportError::Io {
                    path: p.clone(),
                    what: "list",
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && kind_of(f).is_some())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(ImportError::Input(format!(
                    "{} holds no FHIR files (*.ndjson, *.jsonl, *.json, optionally .gz)",
                    p.display()
                )));
            }
            for f in files {
                out.push(input(f)?);
            }
        } else {
            if kind_of(p).is_none() {
                return Err(ImportError::Input(format!(
                    "{}: not a FHIR file name; expected *.ndjson or *.jsonl (one resource per line) \
                     or *.json (a Bundle or one resource), optionally .gz",
                    p.display()
                )));
            }
            out.push(input(p.clone())?);
        }
    }
    Ok(out)
}

fn input(path: PathBuf) -> Result<Input, ImportError> {
    let (kind, gzip) = kind_of(&path).expect("checked by the caller");
    let bytes = fs::metadata(&path)
        .map_err(|source| ImportError::Io {
            path: path.clone(),
            what: "read",
            source,
        })?
        .len();
    Ok(Input {
        path,
        kind,
        gzip,
        bytes,
    })
}

/// Bytes of NDJSON per parsed block.
pub const BLOCK_BYTES: usize = 4 << 20;

fn open(input: &Input) -> Result<Box<dyn Read>, ImportError> {
    let f = fs::File::open(&input.path).map_err(|source| ImportError::Io {
        path: input.path.clone(),
        what: "open",
        source,
    })?;
    Ok(if input.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            f,
        )))
    } else {
        Box::new(f)
    })
}

/// Reads every input into `into`. `strict` stops at the first rejected
/// resource (the caller's error names it).
pub fn read_all(
    inputs: &[Input],
    mapping: &Mapping,
    into: &mut Collected,
    strict: bool,
    progress: &dyn Fn(Progress),
) -> Result<(), ImportError> {
    let total: u64 = inputs.iter().map(|i| i.bytes).sum();
    let mut done = 0u64;
    let names: Vec<String> = inputs.iter().map(|i| display_name(&i.path)).collect();
    for (fi, input) in inputs.iter().enumerate() {
        into.report.inputs.push(InputFile {
            path: input.path.display().to_string(),
            bytes: input.bytes,
        });
        let example = |loc: Loc| format!("{}:{}", names[loc.file as usize], loc.line);
        match input.kind {
            FileKind::Ndjson => {
                let mut reader = open(input)?;
                let mut line = 1u32;
                let mut carry: Vec<u8> = Vec::new();
                let mut eof = false;
                while !eof {
                    // A batch of blocks, each ending at a line end.
                    let mut blocks: Vec<(Vec<u8>, u32)> = Vec::new();
                    while blocks.len() < rayon::current_num_threads() * 2 && !eof {
                        let mut buf = std::mem::take(&mut carry);
                        let start = buf.len();
                        buf.resize(start + BLOCK_BYTES, 0);
                        let mut filled = start;
                        while filled < buf.len() {
                            let n = reader.read(&mut buf[filled..]).map_err(|source| {
                                ImportError::Io {
                                    path: input.path.clone(),
                                    what: "read",
                                    source,
                                }
                            })?;
                            if n == 0 {
                                eof = true;
                                break;
                            }
                            filled += n;
                        }
                        buf.truncate(filled);
                        if !eof && let Some(end) = memchr::memrchr(b'\n', &buf) {
                            carry = buf.split_off(end + 1);
                        }
                        if !input.gzip {
                            done += (buf.len() + carry.len()) as u64 - start as u64;
                        }
                        let lines = memchr::memchr_iter(b'\n', &buf).count() as u32;
                        blocks.push((buf, line));
                        line += lines;
                    }
                    let ctx = Ctx {
                        mapping,
                        file: fi as u32,
                        file_name: &names[fi],
                        urns: None,
                    };
                    let chunks: Vec<Chunk> = blocks
                        .par_iter()
                        .map(|(text, first)| ndjson_block(text, *first, &ctx))
                        .collect();
                    for c in chunks {
                        into.merge(c, example);
                    }
                    progress(Progress { done, total });
                    if strict && let Some(why) = into.report.first_rejection() {
                        return Err(ImportError::Strict(why));
                    }
                }
            }
            FileKind::Json => {
                let mut text = Vec::new();
                open(input)?
                    .read_to_end(&mut text)
                    .map_err(|source| ImportError::Io {
                        path: input.path.clone(),
                        what: "read",
                        source,
                    })?;
                let chunks = json_file(&text, mapping, fi as u32, &names[fi]);
                for c in chunks {
                    into.merge(c, example);
                }
                if strict && let Some(why) = into.report.first_rejection() {
                    return Err(ImportError::Strict(why));
                }
            }
        }
        if input.gzip {
            done += input.bytes;
        }
        progress(Progress { done, total });
    }
    Ok(())
}

fn display_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Parses one block of whole NDJSON lines whose first line is `first_line`.
fn ndjson_block(text: &[u8], first_line: u32, ctx: &Ctx) -> Chunk {
    let mut chunk = Chunk::default();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
    for (i, end) in ends.enumerate() {
        let raw = &text[start..end];
        start = (end + 1).min(text.len());
        let line = first_line + i as u32;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match std::str::from_utf8(raw) {
            Ok(json) => convert::resource(&mut chunk, ctx, json, line, None),
            Err(e) => {
                chunk.report.read(convert::UNREADABLE);
                chunk.report.reject(convert::UNREADABLE, "not UTF-8", || {
                    format!("{}:{line} ({e})", ctx.file_name)
                });
            }
        }
    }
    chunk
}

/// Entries per parallel work item of a Bundle.
const ENTRIES_PER_CHUNK: usize = 4096;

/// A `.json` file: a Bundle (its entries) or a single resource.
fn json_file(bytes: &[u8], mapping: &Mapping, file: u32, name: &str) -> Vec<Chunk> {
    let ctx = |urns| Ctx {
        mapping,
        file,
        file_name: name,
        urns,
    };
    let unreadable = |why: &str, detail: String| {
        let mut c = Chunk::default();
        c.report.read(convert::UNREADABLE);
        c.report
            .reject(convert::UNREADABLE, why, || format!("{name}:1 ({detail})"));
        vec![c]
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return unreadable("not UTF-8", e.to_string()),
    };
    let bundle: Bundle = match serde_json::from_str(text) {
        Ok(b) => b,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return unreadable("malformed JSON", e.to_string());
        }
        Err(_) => {
            // Valid JSON but not a Bundle's shape: read it as one resource.
            let mut c = Chunk::default();
            convert::resource(&mut c, &ctx(None), text, 1, None);
            return vec![c];
        }
    };
    if bundle.resource_type.as_deref() != Some("Bundle") {
        let mut c = Chunk::default();
        convert::resource(&mut c, &ctx(None), text, 1, None);
        return vec![c];
    }
    // Line of each entry: from its offset in the text.
    let base = text.as_ptr() as usize;
    let mut entries: Vec<(&RawValue, Option<&str>, u32)> = Vec::with_capacity(bundle.entry.len());
    let (mut pos, mut line) = (0usize, 1u32);
    let mut urns: HashMap<String, String> = HashMap::new();
    let mut skipped = 0u64;
    for e in &bundle.entry {
        let Some(raw) = e.resource else {
            skipped += 1;
            continue;
        };
        let off = raw.get().as_ptr() as usize - base;
        if off >= pos {
            line += memchr::memchr_iter(b'\n', &text.as_bytes()[pos..off]).count() as u32;
            pos = off;
        }
        let url = e.full_url.as_deref();
        if let Some(u) = url
            && let Ok(m) = serde_json::from_str::<MedicationPart>(raw.get())
            && m.resource_type.as_deref() == Some("Patient")
        {
            let key = m.id.as_deref().unwrap_or(u).to_string();
            urns.insert(u.to_string(), key);
        }
        entries.push((raw, url, line));
    }
    let ctx = ctx(Some(&urns));
    let mut chunks: Vec<Chunk> = entries
        .par_chunks(ENTRIES_PER_CHUNK)
        .map(|part| {
            let mut c = Chunk::default();
            for &(raw, url, line) in part {
                convert::resource(&mut c, &ctx, raw.get(), line, url);
            }
            c
        })
        .collect();
    if skipped > 0 {
        let mut c = Chunk::default();
        for _ in 0..skipped {
            c.report.read(convert::UNREADABLE);
            c.report.reject(
                convert::UNREADABLE,
                "Bundle entry without a resource",
                || format!("{name}:1"),
            );
        }
        chunks.push(c);
    }
    chunks
}
