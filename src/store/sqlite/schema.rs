//! The SQLite schema and its migrations.
//!
//! The schema version is `PRAGMA user_version`. [`MIGRATIONS`] is ordered: migration `i` takes the schema from
//! version `i` to `i + 1`, in one transaction with the version bump. A database whose version is larger than
//! `MIGRATIONS.len()` was written by a newer build and is refused. Never edit a released migration: append one.

use rusqlite::Connection;

use super::sql;
use crate::store::StoreError;

/// The migrations, oldest first.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    -- One row per outbound message. `state` is derived from the segments (model::derive_message_state).
    CREATE TABLE messages (
        id            INTEGER PRIMARY KEY,   -- model::MessageId (time-ordered, so rowid order is age order)
        client        TEXT NOT NULL,
        client_ref    TEXT,
        to_addr       TEXT NOT NULL,
        from_addr     TEXT NOT NULL,
        body_kind     INTEGER NOT NULL,      -- 0 text, 1 binary
        body          BLOB NOT NULL,
        data_coding   INTEGER,
        encoding      TEXT NOT NULL,
        carrier       TEXT NOT NULL,
        priority      INTEGER NOT NULL,
        want_receipt  INTEGER NOT NULL,
        valid_until   INTEGER NOT NULL,
        tags          TEXT,                  -- JSON object, NULL when empty
        seg_count     INTEGER NOT NULL,
        state         INTEGER NOT NULL,      -- model::MessageState::code
        accepted_at   INTEGER NOT NULL,
        queued_at     INTEGER,
        submitted_at  INTEGER,
        final_at      INTEGER
    );
    -- Idempotency: one message per (client, client_ref).
    CREATE UNIQUE INDEX messages_client_ref ON messages(client, client_ref) WHERE client_ref IS NOT NULL;
    -- expire(): queued messages by validity, without scanning the table.
    CREATE INDEX messages_queued_validity ON messages(valid_until) WHERE state = 1;

    CREATE TABLE segments (
        msg_id             INTEGER NOT NULL,
        idx                INTEGER NOT NULL,
        payload            BLOB NOT NULL,
        state              INTEGER NOT NULL,
        carrier_msg_id     TEXT,
        attempts           INTEGER NOT NULL DEFAULT 0,
        resends            INTEGER NOT NULL DEFAULT 0,
        lease              INTEGER,          -- set while a link holds it
        unknown_outcome    INTEGER NOT NULL DEFAULT 0, -- the last attempt's outcome is unknown: next is a resend
        retry_at           INTEGER,          -- set while it waits in `retry`
        submitted_at       INTEGER,
        final_at           INTEGER,
        last_error         TEXT,
        stat               TEXT,
        err                TEXT,
        network_error_code BLOB,
        done_date          TEXT,
        receipt_raw        TEXT,
        PRIMARY KEY (msg_id, idx)
    ) WITHOUT ROWID;
    CREATE INDEX segments_leased ON segments(lease) WHERE lease IS NOT NULL;

    -- Segments ready to send, in claim order: priority (rank 0 = most urgent), then age.
    CREATE TABLE queue (
        carrier   TEXT NOT NULL,
        prio_rank INTEGER NOT NULL,
        msg_id    INTEGER NOT NULL,
        idx       INTEGER NOT NULL,
        PRIMARY KEY (carrier, prio_rank, msg_id, idx)
    ) WITHOUT ROWID;

    -- Segments waiting for a retry time; moved back to `queue` (same position) when it comes.
    CREATE TABLE retry (
        carrier    TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        msg_id     INTEGER NOT NULL,
        idx        INTEGER NOT NULL,
        prio_rank  INTEGER NOT NULL,
        PRIMARY KEY (carrier, not_before, msg_id, idx)
    ) WITHOUT ROWID;

    -- (carrier, normalized carrier message id) -> segment, for receipts.
    CREATE TABLE carrier_ids (
        carrier        TEXT NOT NULL,
        carrier_msg_id TEXT NOT NULL,
        msg_id         INTEGER NOT NULL,
        idx            INTEGER NOT NULL,
        PRIMARY KEY (carrier, carrier_msg_id)
    ) WITHOUT ROWID;

    -- Receipts that matched nothing yet (e.g. deliver_sm before submit_sm_resp), until expires_at.
    CREATE TABLE held_receipts (
        carrier            TEXT NOT NULL,
        carrier_msg_id     TEXT NOT NULL,
        received_at        INTEGER NOT NULL,
        expires_at         INTEGER NOT NULL,
        state              INTEGER NOT NULL,
        stat               TEXT,
        err                TEXT,
        network_error_code BLOB,
        done_date          TEXT,
        raw                TEXT,
        PRIMARY KEY (carrier, carrier_msg_id)
    ) WITHOUT ROWID;
    CREATE INDEX held_receipts_expiry ON held_receipts(expires_at);

    -- The event log. `cursor` is assigned by the writer, strictly increasing.
    CREATE TABLE events (
        cursor         INTEGER PRIMARY KEY,
        time           INTEGER NOT NULL,
        msg_id         INTEGER NOT NULL,
        kind           INTEGER NOT NULL,     -- model::EventKind::code
        old_state      INTEGER,
        new_state      INTEGER,
        segment        INTEGER,
        mo_from        TEXT,
        mo_to          TEXT,
        mo_text        TEXT,
        mo_carrier     TEXT,
        mo_received_at INTEGER,
        concat_ref     INTEGER,
        concat_total   INTEGER,
        concat_seq     INTEGER
    );
    "#,
    // 2: when a segment was leased, so that leases a dispatcher never answered can be taken back.
    r#"
    ALTER TABLE segments ADD COLUMN leased_at INTEGER;
    "#,
    // 3: retention (see retention.rs): finished messages by the time they became final, carrier id mappings
    // by message, and how far the event log was pruned (cursors are never reused, and a consumer resuming
    // from before it must be told).
    r#"
    CREATE INDEX messages_final_at ON messages(final_at) WHERE final_at IS NOT NULL;
    CREATE INDEX carrier_ids_msg ON carrier_ids(msg_id);
    CREATE TABLE retention (
        id                    INTEGER PRIMARY KEY CHECK (id = 1),
        events_pruned_through INTEGER NOT NULL  -- every event with cursor <= this may have been deleted
    );
    INSERT INTO retention (id, events_pruned_through) VALUES (1, 0);
    "#,
    // 4: the carrier's message id exactly as it gave it (submit_sm_resp, +CMGS), beside the normalized one in
    // carrier_msg_id that receipts are matched by: cancel_sm must quote the id as issued, and GetMessage shows
    // it. Set together with carrier_msg_id; NULL in rows written before, which read as carrier_msg_id.
    r#"
    ALTER TABLE segments ADD COLUMN carrier_msg_id_raw TEXT;
    "#,
    // 5: messages submitted and still waiting for a receipt, by validity, for the receipt timeout
    // (`give_up_receipts`); and messages that asked for no receipt are finished once submitted (`final_at`).
    r#"
    CREATE INDEX IF NOT EXISTS messages_awaiting_receipt ON messages(valid_until) WHERE state = 2 AND want_receipt = 1;
    UPDATE messages SET final_at = submitted_at
     WHERE state = 2 AND want_receipt = 0 AND final_at IS NULL AND submitted_at IS NOT NULL;
    "#,
];

/// The schema version this build writes.
pub(crate) fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema up to [`known_version`], or refuses a newer one. Returns the version found at open.
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql("reading the schema version"))?;
    let known = known_version();
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    if found < 0 {
        return Err(StoreError::Corrupt {
            what: "schema version",
            detail: format!("negative user_version {found}"),
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn
            .transaction()
            .map_err(sql("starting a schema migration"))?;
        tx.execute_batch(migration)
            .map_err(sql("applying a schema migration"))?;
        // PRAGMA takes no bound parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(sql("recording the schema version"))?;
        tx.commit().map_err(sql("committing a schema migration"))?;
        tracing::info!(version = i + 1, "store schema migrated");
    }
    Ok(found)
}
