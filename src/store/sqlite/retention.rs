//! Retention for the SQLite engine: the SQL that deletes finished messages (with their segments and carrier
//! id mappings) and old events, one bounded chunk per writer request, and the check that tells a consumer
//! when the events after its cursor are gone.
//!
//! A chunk runs inside the writer's group transaction like any other request, so it is atomic with the rest
//! of its group and never seen half-done by readers. Chunks are small (about `chunk_rows` rows) and
//! [`super::SqliteStore`] sends them one at a time, so submits queued behind a chunk wait for one chunk only.
//!
//! Space: deleted rows leave free pages in the database file, and SQLite reuses free pages for new rows
//! before it grows the file. Under a steady load the file therefore stops growing once retention catches up;
//! no VACUUM is needed (and one would rewrite the whole file while holding the writer).
//!
//! Relies on migration 3 (`schema.rs`): `messages_final_at` finds finished messages oldest first without a
//! scan, `carrier_ids_msg` finds a message's mappings, and the `retention` row records how far the event log
//! was pruned.

use rusqlite::{Connection, OptionalExtension, params};

use super::sql;
use crate::model::{MessageState, UnixMs};
use crate::store::{PruneReport, StoreError};

/// What one chunk may delete.
#[derive(Debug, Clone, Copy)]
pub(super) struct PruneChunk {
    /// Messages that became final before this are deleted; `None`: none are.
    pub finished_before: Option<UnixMs>,
    /// Events written before this are deleted; `None`: none are.
    pub events_before: Option<UnixMs>,
    /// About the most rows deleted (a message counts as itself plus two rows per segment).
    pub max_rows: usize,
}

/// The smallest final state code: the final states are the codes from `Delivered` up (`model.rs`).
fn first_final_code() -> i64 {
    i64::from(MessageState::Delivered.code())
}

/// How far the event log was pruned: every event with a cursor up to this may be gone.
pub(super) fn events_pruned_through(conn: &Connection) -> Result<u64, StoreError> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT events_pruned_through FROM retention WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(sql("reading the retention state"))?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

/// Refuses to resume after `after` when events after it were pruned. Call it after reading the events: a
/// prune raises the mark in the same commit as its deletes, so a read that missed deleted events always sees
/// the raised mark here. Cursor 0 means "from the oldest event kept" and is never refused.
pub(super) fn check_cursor(conn: &Connection, after: u64) -> Result<(), StoreError> {
    if after == 0 {
        return Ok(());
    }
    let through = events_pruned_through(conn)?;
    if after < through {
        return Err(StoreError::CursorPruned {
            after,
            oldest: through,
        });
    }
    Ok(())
}

/// Deletes one chunk, inside the writer's open transaction.
pub(super) fn prune_chunk(conn: &Connection, chunk: PruneChunk) -> Result<PruneReport, StoreError> {
    let budget = chunk.max_rows.max(1);
    let mut report = PruneReport {
        chunks: 1,
        ..PruneReport::default()
    };
    let mut used = 0usize;
    if let Some(before) = chunk.finished_before {
        used = prune_messages(conn, before, budget, &mut report)?;
    }
    if let Some(before) = chunk.events_before {
        let left = budget.saturating_sub(used);
        if left == 0 {
            report.more = true;
        } else {
            prune_events(conn, before, left, &mut report)?;
        }
    }
    Ok(report)
}

/// Deletes finished messages, oldest final time first; returns the row budget used.
fn prune_messages(
    conn: &Connection,
    before: UnixMs,
    budget: usize,
    report: &mut PruneReport,
) -> Result<usize, StoreError> {
    // Every message is at least itself and one segment: `budget / 2` candidates are enough to fill the
    // budget. The state checks are belts and braces: `final_at` is only set when the message became final
    // (or, for a message that asked for no receipt, SUBMITTED: its last state), and such a message has no
    // segment still waiting or in flight.
    let limit = i64::try_from((budget / 2).max(1)).unwrap_or(i64::MAX);
    let candidates: Vec<(i64, i64)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT m.id, m.seg_count FROM messages m
                 WHERE m.final_at IS NOT NULL AND m.final_at < ?1
                   AND (m.state >= ?2 OR (m.state = ?4 AND m.want_receipt = 0))
                   AND NOT EXISTS (SELECT 1 FROM segments s
                                   WHERE s.msg_id = m.id AND (s.lease IS NOT NULL
                                     OR (s.state < ?2 AND NOT (s.state = ?4 AND m.want_receipt = 0))))
                 ORDER BY m.final_at
                 LIMIT ?3",
            )
            .map_err(sql("finding finished messages to prune"))?;
        let rows = stmt
            .query_map(
                params![
                    before.0,
                    first_final_code(),
                    limit,
                    MessageState::Submitted.code()
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql("finding finished messages to prune"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("finding finished messages to prune"))?
    };
    let full = candidates.len() as i64 >= limit;
    let mut used = 0usize;
    for (id, seg_count) in candidates {
        let cost = 1 + 2 * usize::try_from(seg_count).unwrap_or(0);
        if used > 0 && used + cost > budget {
            report.more = true;
            return Ok(used);
        }
        let ids = conn
            .prepare_cached("DELETE FROM carrier_ids WHERE msg_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(sql("pruning carrier id mappings"))?;
        let segs = conn
            .prepare_cached("DELETE FROM segments WHERE msg_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(sql("pruning segments"))?;
        let msgs = conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(sql("pruning a message"))?;
        report.carrier_ids += ids as u64;
        report.segments += segs as u64;
        report.messages += msgs as u64;
        used += ids + segs + msgs;
    }
    if full {
        report.more = true;
    }
    Ok(used)
}

/// Deletes the oldest events written before `before`, at most `budget`, as one run of cursors from the
/// start of the log (so "pruned through cursor N" stays exact), and records how far it got.
fn prune_events(
    conn: &Connection,
    before: UnixMs,
    budget: usize,
    report: &mut PruneReport,
) -> Result<(), StoreError> {
    let through = i64::try_from(events_pruned_through(conn)?).unwrap_or(i64::MAX);
    let limit = i64::try_from(budget).unwrap_or(i64::MAX);
    let head: Vec<(i64, i64)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT cursor, time FROM events WHERE cursor > ?1 ORDER BY cursor LIMIT ?2",
            )
            .map_err(sql("finding old events"))?;
        let rows = stmt
            .query_map(params![through, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql("finding old events"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("finding old events"))?
    };
    let full = head.len() as i64 >= limit;
    // Stop at the first event that is still kept: a later one with an older time (the clock went back) waits
    // for it rather than leaving a hole in the log.
    let old = head.iter().take_while(|(_, time)| *time < before.0).count();
    let Some(&(last, _)) = old.checked_sub(1).and_then(|i| head.get(i)) else {
        return Ok(());
    };
    let n = conn
        .prepare_cached("DELETE FROM events WHERE cursor > ?1 AND cursor <= ?2")
        .and_then(|mut s| s.execute(params![through, last]))
        .map_err(sql("pruning events"))?;
    conn.prepare_cached("UPDATE retention SET events_pruned_through = ?1 WHERE id = 1")
        .and_then(|mut s| s.execute([last]))
        .map_err(sql("recording how far events were pruned"))?;
    report.events += n as u64;
    if full && old == head.len() {
        report.more = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
