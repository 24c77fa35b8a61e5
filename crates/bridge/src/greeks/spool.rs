//! Spool: the JSON Lines file (`BRIDGE_BUFFER_PATH`) that keeps records while PostgreSQL cannot
//! take them, one record per line, oldest first.
//!
//! What it promises, with the writer's help:
//! - a record counts as kept only once its line is written *and* flushed to disk (`fsync`);
//! - the drain position lives beside the file (`<spool>.offset`, replaced atomically), so a
//!   drain that stops anywhere resumes where it was; records replayed after a crash are stored
//!   once thanks to their keys. The position is kept in memory too and moves even when it
//!   cannot be saved (a full disk): a crash then replays a little more, which the keys make
//!   harmless, instead of the drain never getting past a batch;
//! - only what was appended is read: a read never runs past the length the spool knows;
//! - a torn last line (a crash mid-append) is cut off when the spool is opened, and counted;
//! - any other unreadable line is copied to `<spool>.rejects` and reported, never silently
//!   skipped;
//! - one process owns the spool at a time (`<spool>.lock`, an exclusive file lock).
//!
//! It never talks to the database.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::record::Record;
use crate::failpoint;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error(
        "the spool {path} is in use by another portfolio-bridge process (it holds {lock}); stop \
         it first, or let it drain the spool itself"
    )]
    Busy { path: String, lock: String },
    #[error("the spool {path} cannot be used: {source}")]
    Io { path: String, source: io::Error },
}

/// What opening found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Opened {
    /// A torn last line (a crash mid-append) was cut off.
    pub torn_line_dropped: bool,
}

/// Records read from the spool, and where the next read starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub records: Vec<Record>,
    /// Complete lines that are not records, as they were.
    pub unreadable: Vec<String>,
    pub next: u64,
}

/// What `portfolio-bridge spool status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpoolStatus {
    /// Records not yet drained.
    pub rows: usize,
    pub bytes: u64,
    pub oldest: Option<Timestamp>,
    pub newest: Option<Timestamp>,
    /// Lines waiting that are not records (the drain will reject them).
    pub unreadable: usize,
    /// The file ends in a torn line (cut off when the bridge next opens it).
    pub torn_tail: bool,
    /// Lines already moved to the rejects file.
    pub rejected: usize,
}

/// An open spool, locked for this process.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    file: File,
    len: u64,
    /// Where the drain stands; saved in `<spool>.offset` whenever that can be written.
    offset: u64,
    _lock: File,
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// Where the drain resumes: the saved position, or 0 if there is none or it does not fit.
fn read_offset(path: &Path, len: u64) -> u64 {
    let saved = std::fs::read_to_string(sidecar(path, ".offset"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    saved.filter(|o| *o <= len).unwrap_or(0)
}

/// Complete lines from `offset` up to `end`, each with the offset after it; a last line without
/// its newline is reported as torn instead.
fn lines_from(
    file: &File,
    offset: u64,
    end: u64,
    max: usize,
) -> io::Result<(Vec<(String, u64)>, bool)> {
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file.take(end.saturating_sub(offset)));
    let mut out = Vec::new();
    let mut pos = offset;
    let mut buf = Vec::new();
    while out.len() < max {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok((out, false));
        }
        if buf.last() != Some(&b'\n') {
            return Ok((out, true));
        }
        pos += n as u64;
        buf.pop();
        out.push((String::from_utf8_lossy(&buf).into_owned(), pos));
    }
    Ok((out, false))
}

impl Spool {
    /// Opens (creating if needed) and locks the spool at `path`, cutting off a torn last line.
    pub fn open(path: &Path) -> Result<(Spool, Opened), SpoolError> {
        let io_err = |source| SpoolError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.is_dir() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory; name a file in it instead",
            )));
        }
        let lock_path = sidecar(path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(SpoolError::Busy {
                    path: path.display().to_string(),
                    lock: lock_path.display().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_err(e)),
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err)?;
        let mut len = file.metadata().map_err(io_err)?.len();
        let mut opened = Opened::default();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1)).map_err(io_err)?;
            file.read_exact(&mut last).map_err(io_err)?;
            if last[0] != b'\n' {
                len = Self::last_newline(&mut file, len).map_err(io_err)?;
                file.set_len(len).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                opened.torn_line_dropped = true;
            }
        }
        Ok((
            Spool {
                offset: read_offset(path, len),
                path: path.to_owned(),
                file,
                len,
                _lock: lock,
            },
            opened,
        ))
    }

    /// Opens the spool at `path` as [`Spool::open`] does, first creating its directory if it
    /// is missing: what `run` does at startup, so that a place that cannot hold the spool
    /// stops the bridge before it starts rather than leaving it with memory only.
    pub fn prepare(path: &Path) -> Result<(Spool, Opened), SpoolError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            std::fs::create_dir_all(dir).map_err(|source| SpoolError::Io {
                path: path.display().to_string(),
                source: io::Error::new(
                    source.kind(),
                    format!(
                        "its directory {} cannot be created: {source}",
                        dir.display()
                    ),
                ),
            })?;
        }
        Spool::open(path)
    }

    /// The length the file has up to and including its last newline.
    fn last_newline(file: &mut File, len: u64) -> io::Result<u64> {
        let mut end = len;
        let mut chunk = vec![0u8; 4096];
        while end > 0 {
            let start = end.saturating_sub(chunk.len() as u64);
            let n = (end - start) as usize;
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut chunk[..n])?;
            if let Some(i) = chunk[..n].iter().rposition(|b| *b == b'\n') {
                return Ok(start + i as u64 + 1);
            }
            end = start;
        }
        Ok(0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_err(&self, source: io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Appends `records` and flushes them to disk; only then do they count as kept.
    pub fn append(&mut self, records: &[Record]) -> Result<(), SpoolError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(records.len() * 160);
        for r in records {
            serde_json::to_writer(&mut bytes, r).map_err(|e| self.io_err(io::Error::other(e)))?;
            bytes.push(b'\n');
        }
        self.file
            .seek(SeekFrom::Start(self.len))
            .map_err(|e| self.io_err(e))?;
        if failpoint::armed("spool.mid_append") {
            let half = bytes.len() / 2;
            self.file
                .write_all(&bytes[..half])
                .map_err(|e| self.io_err(e))?;
            self.file.sync_data().map_err(|e| self.io_err(e))?;
            failpoint::hit("spool.mid_append");
        }
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no partial line behind for the next append to run into.
            let _ = self.file.set_len(self.len);
            return Err(self.io_err(e));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Where the drain stands.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records between the drain position and the end (unreadable lines not counted), read a
    /// line at a time: a spool left by a long outage is not loaded whole.
    pub fn waiting(&self) -> Result<usize, SpoolError> {
        let count = || -> io::Result<usize> {
            let mut file = &self.file;
            file.seek(SeekFrom::Start(self.offset))?;
            let reader = BufReader::new(file.take(self.len.saturating_sub(self.offset)));
            let mut n = 0;
            for line in reader.split(b'\n') {
                if serde_json::from_slice::<Record>(&line?).is_ok() {
                    n += 1;
                }
            }
            Ok(n)
        };
        count().map_err(|e| self.io_err(e))
    }

    /// Where the spool's records end (and the next append goes).
    pub fn end(&self) -> u64 {
        self.len
    }

    /// Whether every record has been drained.
    pub fn is_drained(&self) -> bool {
        self.offset() >= self.len
    }

    /// Up to `max` records from `from`.
    pub fn read(&self, from: u64, max: usize) -> Result<Batch, SpoolError> {
        read_batch(&self.file, from, self.len, max).map_err(|e| self.io_err(e))
    }

    /// A reader of what the spool holds now, with a file handle of its own, so that the next
    /// batch can be read and parsed on another thread while the current one is being stored
    /// (and while records are appended: it never reads past the length the spool has now).
    pub fn reader(&self) -> Result<SpoolReader, SpoolError> {
        Ok(SpoolReader {
            file: File::open(&self.path).map_err(|e| self.io_err(e))?,
            path: self.path.clone(),
            len: self.len,
        })
    }

    /// Moves the drain position, and saves it durably (write, flush, rename). An error means
    /// only that it could not be saved: the position has moved all the same.
    pub fn set_offset(&mut self, offset: u64) -> Result<(), SpoolError> {
        self.offset = offset;
        let tmp = sidecar(&self.path, ".offset.tmp");
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(offset.to_string().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, sidecar(&self.path, ".offset"))?;
            sync_dir(&self.path)
        };
        write().map_err(|e| self.io_err(e))
    }

    /// Moves unreadable lines to the rejects file.
    pub fn reject(&self, lines: &[String]) -> Result<(), SpoolError> {
        let rejects = sidecar(&self.path, ".rejects");
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&rejects)?;
            for line in lines {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
            }
            f.sync_data()
        };
        write().map_err(|e| self.io_err(e))
    }

    /// Empties the spool once everything in it is stored. The drain position goes first: a
    /// crash in between only replays records the keys make harmless, whereas a position
    /// outliving the truncation could one day skip new records.
    pub fn clear(&mut self) -> Result<(), SpoolError> {
        match std::fs::remove_file(sidecar(&self.path, ".offset")) {
            Ok(()) => sync_dir(&self.path).map_err(|e| self.io_err(e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io_err(e)),
        }
        self.file.set_len(0).map_err(|e| self.io_err(e))?;
        // Emptied, flushed or not: the next append starts at 0 either way.
        self.len = 0;
        self.offset = 0;
        self.file.sync_all().map_err(|e| self.io_err(e))
    }
}

/// The records of a spool as it was when [`Spool::reader`] made this.
#[derive(Debug)]
pub struct SpoolReader {
    file: File,
    path: PathBuf,
    len: u64,
}

impl SpoolReader {
    /// Up to `max` records from `from`, as [`Spool::read`] reads them.
    pub fn read(&self, from: u64, max: usize) -> Result<Batch, SpoolError> {
        read_batch(&self.file, from, self.len, max).map_err(|source| SpoolError::Io {
            path: self.path.display().to_string(),
            source,
        })
    }
}

/// Up to `max` records from `from` up to `end`.
fn read_batch(file: &File, from: u64, end: u64, max: usize) -> io::Result<Batch> {
    let (lines, _) = lines_from(file, from, end, max)?;
    let mut batch = Batch {
        next: from,
        ..Batch::default()
    };
    for (line, next) in lines {
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => batch.records.push(r),
            Err(_) => batch.unreadable.push(line),
        }
        batch.next = next;
    }
    Ok(batch)
}

/// What the spool at `path` holds, read without locking it (a running bridge may be writing);
/// `None` if there is no spool file.
pub fn status(path: &Path) -> Result<Option<SpoolStatus>, SpoolError> {
    let io_err = |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    let bytes = file.metadata().map_err(io_err)?.len();
    let (lines, torn_tail) =
        lines_from(&file, read_offset(path, bytes), bytes, usize::MAX).map_err(io_err)?;
    let mut s = SpoolStatus {
        rows: 0,
        bytes,
        oldest: None,
        newest: None,
        unreadable: 0,
        torn_tail,
        rejected: 0,
    };
    for (line, _) in lines {
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => {
                s.rows += 1;
                let at = Timestamp::from_millisecond(r.at_ms()).ok();
                s.oldest = s.oldest.or(at);
                s.newest = at.or(s.newest);
            }
            Err(_) => s.unreadable += 1,
        }
    }
    s.rejected = match File::open(sidecar(path, ".rejects")) {
        Ok(f) => BufReader::new(f).lines().count(),
        Err(_) => 0,
    };
    Ok(Some(s))
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
