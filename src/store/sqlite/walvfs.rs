//! A VFS that writes each WAL commit with one system call.
//!
//! SQLite appends a commit to the WAL one frame at a time, and each frame is two `pwrite`s: its 24-octet header,
//! then the page. A group commit that dirtied 20 pages costs 40 system calls, and on the store writer those
//! calls were ~17 % of its time (`benches/notes-load.md`, "Round 4"). This VFS is SQLite's default one with a
//! single change: the writes to a `-wal` file that append to what the same handle just wrote are gathered in
//! memory and written together, at the latest when the commit frame's page is written. So the file holds
//! exactly the same octets, in the same order relative to the WAL index, as without it:
//!
//! - SQLite publishes a commit to other connections only after writing its commit frame (it updates the
//!   shared WAL index afterwards), and the gathered writes are in the file before that write returns. Readers
//!   and the checkpointer, on other handles, never see a frame that is not in the file.
//! - Any other call on the handle (read, sync, size, truncate, lock, file control, close) and any write that
//!   is not an append (SQLite rewrites frames in place within a transaction) first writes what was gathered,
//!   so the handle itself reads its own writes and syncs them.
//! - A failed write is returned by the call that made it (the append that triggered it, or the other call),
//!   as an I/O error SQLite handles as it would a failed `pwrite` (the transaction rolls back).
//! - Nothing is held across a commit, so a crash loses nothing the default VFS would have kept: the gathered
//!   frames were not committed yet, and WAL recovery ignores frames after the last valid commit frame.
//!
//! Every other file (the database, the shared-memory index, temporary files) is opened by the default VFS in
//! place, with its own methods: reads of the database pay nothing for this.
//!
//! `register` is idempotent; [`NAME`] is the VFS to pass when opening connections.

use std::ffi::{CStr, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections open this VFS by.
pub(crate) const NAME: &CStr = c"smsbridge-wal";

/// Octets of a WAL frame header (SQLite's `WAL_FRAME_HDRSIZE`), and of the WAL file header before the first.
const FRAME_HEADER: usize = 24;

/// The largest write the default VFS makes in one call (its `seekAndWriteFd` masks sizes to 17 bits), rounded
/// down to whole 4 KiB pages.
const MAX_WRITE: usize = 0x1_f000;

/// Gathered writes beyond this are written at once (a very large transaction, e.g. a bulk prune).
const MAX_GATHER: usize = 4 << 20;

/// After a flush, a buffer that grew beyond this is shrunk back, so one large transaction does not pin memory.
const KEEP_CAPACITY: usize = 1 << 20;

/// The default VFS, and ours built from it, registered once per process.
struct Registered {
    base: *mut ffi::sqlite3_vfs,
}

// SAFETY: SQLite's VFS objects are immutable once registered and meant to be shared by every thread.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();

/// Registers the VFS (once per process). Errors say why it could not be (no default VFS, or SQLite refused).
pub(crate) fn register() -> Result<(), String> {
    match REGISTERED.get_or_init(register_once) {
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}

fn register_once() -> Result<Registered, String> {
    // SAFETY: sqlite3_vfs_find with NULL returns the default VFS (or NULL); it is never freed.
    let base = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
    if base.is_null() {
        return Err("SQLite has no default VFS".into());
    }
    // SAFETY: `base` is a valid registered VFS; we copy it by value.
    let mut ours: ffi::sqlite3_vfs = unsafe { *base };
    let base_size = usize::try_from(ours.szOsFile).map_err(|_| "bad szOsFile".to_string())?;
    ours.szOsFile = c_int::try_from(REAL_OFFSET + base_size).map_err(|_| "szOsFile overflows")?;
    ours.pNext = ptr::null_mut();
    ours.zName = NAME.as_ptr();
    ours.xOpen = Some(open);
    // `pAppData` and every other method stay the default VFS's: they only use what they find there.
    let ours = Box::leak(Box::new(ours));
    // SAFETY: `ours` lives for the rest of the process; 0 = not the default VFS.
    let rc = unsafe { ffi::sqlite3_vfs_register(ours, 0) };
    if rc != ffi::SQLITE_OK {
        return Err(format!("sqlite3_vfs_register failed with code {rc}"));
    }
    Ok(Registered { base })
}

/// A `-wal` file opened through this VFS: SQLite sees `head`, the default VFS's file lives at [`REAL_OFFSET`].
#[repr(C)]
struct WalFile {
    head: ffi::sqlite3_file,
    gather: *mut Gather,
}

/// Where the default VFS's file object starts inside ours (8-aligned, after [`WalFile`]).
const REAL_OFFSET: usize = std::mem::size_of::<WalFile>().next_multiple_of(8);

/// Writes not made yet: `data` goes at `offset` in the file.
#[derive(Default)]
struct Gather {
    offset: i64,
    data: Vec<u8>,
    /// The last gathered write was the header of a commit frame: its page, next, ends the commit.
    commit_header: bool,
}

/// The default VFS's file inside `file`.
///
/// # Safety
/// `file` was allocated by SQLite with our `szOsFile`.
unsafe fn real(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: the allocation is REAL_OFFSET + the default VFS's szOsFile octets (register_once).
    unsafe { file.cast::<u8>().add(REAL_OFFSET).cast() }
}

/// The default VFS's methods of the real file.
///
/// # Safety
/// `file` is an open WalFile.
unsafe fn methods(file: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    // SAFETY: an open real file has non-null methods that live as long as the process (static in SQLite).
    unsafe { &*(*real(file)).pMethods }
}

/// Writes what `file` gathered, if anything. Returns an SQLite result code.
///
/// # Safety
/// `file` is an open WalFile.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: an open WalFile's `gather` is a live Box (set in `open`, freed only in `close`).
    let g = unsafe { &mut *(*file.cast::<WalFile>()).gather };
    g.commit_header = false;
    if g.data.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(write) = (unsafe { methods(file) }).xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let mut rc = ffi::SQLITE_OK;
    let mut offset = g.offset;
    for chunk in g.data.chunks(MAX_WRITE) {
        // MAX_WRITE fits a c_int.
        let len = chunk.len() as c_int;
        // SAFETY: the real file is open; `chunk` is `len` readable octets.
        rc = unsafe { write(real(file), chunk.as_ptr().cast(), len, offset) };
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += i64::from(len);
        #[cfg(test)]
        tests::REAL_WRITES.with(|n| n.set(n.get() + 1));
    }
    g.data.clear();
    if g.data.capacity() > KEEP_CAPACITY {
        g.data.shrink_to(KEEP_CAPACITY / 4);
    }
    rc
}

unsafe extern "C" fn open(
    _ours: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(Ok(reg)) = REGISTERED.get() else {
        return ffi::SQLITE_CANTOPEN;
    };
    let base = reg.base;
    // SAFETY: `base` is the registered default VFS; its xOpen exists.
    let Some(base_open) = (unsafe { (*base).xOpen }) else {
        return ffi::SQLITE_CANTOPEN;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // Not a WAL: the default VFS's file, in place (our szOsFile is larger than it needs).
        // SAFETY: `file` has room for the default VFS's object; SQLite passes the other arguments through.
        return unsafe { base_open(base, name, file, flags, out_flags) };
    }
    // SAFETY: as above, the real file goes after our head.
    let rc = unsafe { base_open(base, name, real(file), flags, out_flags) };
    // SAFETY: `file` has room for a WalFile; SQLite reads only `head.pMethods`, and calls xClose only when it
    // is not NULL.
    unsafe {
        let wal = file.cast::<WalFile>();
        if rc != ffi::SQLITE_OK || (*real(file)).pMethods.is_null() {
            (*wal).head.pMethods = ptr::null();
            (*wal).gather = ptr::null_mut();
            return rc;
        }
        (*wal).gather = Box::into_raw(Box::default());
        (*wal).head.pMethods = &WAL_METHODS;
    }
    rc
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// Flushes, then calls the real method `$m` with `$args`; `$missing` when the default VFS lacks it.
macro_rules! flush_then {
    ($file:ident, $m:ident, $missing:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls these methods only on a WalFile it opened successfully.
        unsafe {
            let rc = flush($file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            match methods($file).$m {
                Some(f) => f(real($file) $(, $arg)*),
                None => $missing,
            }
        }
    }};
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes an open WalFile once; its `gather` box is freed here and never used again.
    unsafe {
        let flushed = flush(file);
        let rc = match methods(file).xClose {
            Some(f) => f(real(file)),
            None => ffi::SQLITE_OK,
        };
        let wal = file.cast::<WalFile>();
        drop(Box::from_raw((*wal).gather));
        (*wal).gather = ptr::null_mut();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            rc
        }
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    off: i64,
) -> c_int {
    flush_then!(file, xRead, ffi::SQLITE_IOERR_READ, buf, n, off)
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: i64,
) -> c_int {
    let Ok(len) = usize::try_from(n) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: an open WalFile's `gather` is live; `buf` is `n` readable octets (SQLite's xWrite contract).
    let (g, data) = unsafe {
        (
            &mut *(*file.cast::<WalFile>()).gather,
            std::slice::from_raw_parts(buf.cast::<u8>(), len),
        )
    };
    let appends =
        g.data.is_empty() || i64::try_from(g.data.len()).is_ok_and(|l| g.offset + l == off);
    if !appends {
        // A write elsewhere (a frame rewritten in place, a new WAL header): what was gathered goes first.
        // SAFETY: an open WalFile.
        let rc = unsafe { flush(file) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    if g.data.is_empty() {
        g.offset = off;
    }
    let ends_commit = g.commit_header && len != FRAME_HEADER;
    // A frame header's octets 4..8 are the database size after a commit frame, 0 for the others.
    g.commit_header = len == FRAME_HEADER && data[4..8] != [0, 0, 0, 0];
    g.data.extend_from_slice(data);
    if ends_commit || g.data.len() >= MAX_GATHER {
        // SAFETY: an open WalFile.
        return unsafe { flush(file) };
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    flush_then!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size)
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    flush_then!(file, xSync, ffi::SQLITE_IOERR_FSYNC, flags)
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    flush_then!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, size)
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    flush_then!(file, xLock, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    flush_then!(file, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    flush_then!(
        file,
        xCheckReservedLock,
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
        out
    )
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    flush_then!(file, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: an open WalFile; no I/O, nothing to flush.
    unsafe { methods(file).xSectorSize.map_or(4096, |f| f(real(file))) }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: an open WalFile; no I/O, nothing to flush.
    unsafe {
        methods(file)
            .xDeviceCharacteristics
            .map_or(0, |f| f(real(file)))
    }
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    flush_then!(
        file,
        xShmMap,
        ffi::SQLITE_IOERR_SHMMAP,
        page,
        size,
        extend,
        out
    )
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    flush_then!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: an open WalFile. A barrier cannot fail: a failed flush is reported by the next call.
    unsafe {
        if let Some(f) = methods(file).xShmBarrier {
            f(real(file));
        }
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    flush_then!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    off: i64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // A WAL is never memory-mapped by SQLite; answer "no mapping" after flushing, like a VFS without mmap.
    flush_then!(
        file,
        xFetch,
        {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        },
        off,
        n,
        out
    )
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, off: i64, p: *mut c_void) -> c_int {
    flush_then!(file, xUnfetch, ffi::SQLITE_OK, off, p)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use rusqlite::{Connection, OpenFlags, params};

    use super::*;

    thread_local! {
        /// Writes this thread made to WAL files through the default VFS (each chunk of a flush).
        pub(super) static REAL_WRITES: Cell<u64> = const { Cell::new(0) };
    }

    fn writes() -> u64 {
        REAL_WRITES.with(Cell::get)
    }

    fn writer(path: &std::path::Path, cache_pages: i64) -> Connection {
        register().expect("register the VFS");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let c = Connection::open_with_flags_and_vfs(path, flags, NAME).expect("open with the VFS");
        c.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0;
             PRAGMA cache_size = {cache_pages};
             CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
             CREATE INDEX IF NOT EXISTS t_k ON t(k);"
        ))
        .expect("schema");
        c
    }

    /// A reader on SQLite's default VFS, as another process would see the file.
    fn reader(path: &std::path::Path) -> Connection {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open a reader")
    }

    fn wal_len(path: &std::path::Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    fn count_and_bytes(c: &Connection) -> (i64, i64) {
        c.query_row(
            "SELECT count(*), coalesce(sum(length(v)), 0) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("query")
    }

    fn insert(c: &Connection, from: i64, n: i64, len: usize) {
        for i in from..from + n {
            // Scattered index keys, so that a commit dirties many pages.
            let k = format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            c.execute(
                "INSERT INTO t (id, k, v) VALUES (?1, ?2, ?3)",
                params![i, k, vec![7u8; len]],
            )
            .expect("insert");
        }
    }

    #[test]
    fn each_commit_is_one_write_and_a_reader_on_the_default_vfs_sees_it_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let w = writer(&path, 2000);
        let r = reader(&path);
        let mut frames_total = 0;
        for round in 0..30i64 {
            let (wal0, writes0) = (wal_len(&path), writes());
            w.execute_batch("BEGIN").expect("begin");
            insert(&w, round * 40, 40, 300);
            w.execute_batch("COMMIT").expect("commit");
            let frames = (wal_len(&path) - wal0) / (4096 + FRAME_HEADER as u64);
            frames_total += frames;
            // One write per commit (plus the WAL header's own write on the first).
            assert!(
                writes() - writes0 <= 2,
                "round {round}: {} writes for {frames} frames",
                writes() - writes0
            );
            assert_eq!(
                count_and_bytes(&r),
                ((round + 1) * 40, (round + 1) * 40 * 300),
                "round {round}"
            );
        }
        // Without gathering, SQLite makes two writes per frame: the test is only meaningful with many frames.
        assert!(
            frames_total >= 30 * 4,
            "only {frames_total} frames in 30 commits"
        );
    }

    #[test]
    fn a_commit_larger_than_one_write_goes_out_in_chunks_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let w = writer(&path, 100_000);
        let writes0 = writes();
        w.execute_batch("BEGIN").expect("begin");
        insert(&w, 0, 400, 3000); // ~1.2 MB: several of the default VFS's largest writes
        w.execute_batch("COMMIT").expect("commit");
        let n = writes() - writes0;
        let chunks = wal_len(&path).div_ceil(MAX_WRITE as u64);
        assert!(
            n >= 2 && n <= chunks + 1,
            "{n} writes for a {} octet WAL",
            wal_len(&path)
        );
        assert_eq!(count_and_bytes(&reader(&path)), (400, 400 * 3000));
    }

    #[test]
    fn frames_spilled_before_a_rollback_are_not_seen_and_the_next_commit_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        // A tiny cache makes SQLite spill dirty pages to the WAL in the middle of the transaction.
        let w = writer(&path, 10);
        insert(&w, 0, 10, 100);
        let r = reader(&path);
        assert_eq!(count_and_bytes(&r), (10, 1000));
        w.execute_batch("BEGIN").expect("begin");
        insert(&w, 100, 300, 2000);
        // A reader between the spill and the end of the transaction sees only the committed rows.
        assert_eq!(count_and_bytes(&r), (10, 1000));
        w.execute_batch("ROLLBACK").expect("rollback");
        assert_eq!(count_and_bytes(&r), (10, 1000));
        // The next transaction overwrites the rolled-back frames, updates rows in place, and commits.
        w.execute_batch("BEGIN").expect("begin");
        insert(&w, 1000, 200, 2000);
        w.execute("UPDATE t SET v = zeroblob(50) WHERE id < 10", [])
            .expect("update");
        w.execute_batch("COMMIT").expect("commit");
        assert_eq!(count_and_bytes(&r), (210, 10 * 50 + 200 * 2000));
        drop(w);
        // After the writer closed (SQLite checkpoints and removes the WAL), a new connection reads the same.
        assert_eq!(count_and_bytes(&reader(&path)), (210, 10 * 50 + 200 * 2000));
    }
}
