//! Re-sealing what older keys sealed (`dots keys rotate`, and the server at start):
//! every sealed column is read in batches, opened with whichever key sealed it and
//! sealed again under the primary key, each row written only if it has not
//! changed meanwhile. Processes given both keys keep serving throughout.

use sqlx::Row;

use crate::secrets::Keys;
use crate::store::Store;

/// A sealed column: its table, the row's id column, and the context it is sealed to.
struct Sealed {
    table: &'static str,
    id: &'static str,
    column: &'static str,
    context: fn(&str) -> String,
}

const SEALED: [Sealed; 6] = [
    Sealed { table: "payout_links", id: "id", column: "token_encrypted", context: crate::flows::link_token_context },
    Sealed {
        table: "payout_methods",
        id: "id",
        column: "details_encrypted",
        context: crate::payees::payout_methods::seal_context,
    },
    Sealed {
        table: "compliance",
        id: "user_id",
        column: "tax_id_encrypted",
        context: crate::payees::compliance::seal_context,
    },
    Sealed {
        table: "webhook_endpoints",
        id: "id",
        column: "secret_encrypted",
        context: crate::webhooks::secret_context,
    },
    Sealed {
        table: "webhook_endpoints",
        id: "id",
        column: "previous_secret_encrypted",
        context: crate::webhooks::secret_context,
    },
    Sealed { table: "members", id: "id", column: "totp_secret_encrypted", context: crate::members::totp_context },
];

/// What a re-sealing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Resealed {
    /// Values now under the primary key.
    pub resealed: u64,
    /// Values no given key opens (left as they are; named in the log).
    pub unreadable: u64,
}

const BATCH: i64 = 200;

/// Re-seals every value not under `keys`' primary key.
pub async fn reseal_all(store: &Store, keys: &Keys) -> Result<Resealed, sqlx::Error> {
    let mut done = Resealed::default();
    let current = format!("v2${}$%", keys.primary_id());
    for s in &SEALED {
        let mut after = String::new();
        loop {
            let rows = {
                let mut conn = store.reader().acquire().await?;
                sqlx::query(&format!(
                    "SELECT {id} AS id, {col} AS sealed FROM {table}
                     WHERE {col} IS NOT NULL AND {col} NOT LIKE $1 AND {id} > $2 ORDER BY {id} LIMIT {BATCH}",
                    id = s.id,
                    col = s.column,
                    table = s.table
                ))
                .bind(&current)
                .bind(&after)
                .fetch_all(&mut *conn)
                .await?
            };
            if rows.is_empty() {
                break;
            }
            let mut tx = store.begin_write().await?;
            for row in &rows {
                let (id, sealed): (String, String) = (row.try_get("id")?, row.try_get("sealed")?);
                after = id.clone();
                let context = (s.context)(&id);
                match keys.open(&context, &sealed) {
                    Ok(plain) => {
                        sqlx::query(&format!(
                            "UPDATE {table} SET {col} = $1 WHERE {id} = $2 AND {col} = $3",
                            table = s.table,
                            col = s.column,
                            id = s.id
                        ))
                        .bind(keys.seal(&context, &plain))
                        .bind(&id)
                        .bind(&sealed)
                        .execute(&mut *tx)
                        .await?;
                        done.resealed += 1;
                    }
                    Err(e) => {
                        tracing::warn!(table = s.table, column = s.column, id = %id, error = %e, "cannot re-seal");
                        done.unreadable += 1;
                    }
                }
            }
            tx.commit().await?;
        }
    }
    done = reseal_replays(store, keys, done).await?;
    Ok(done)
}

/// Idempotency answers kept sealed (`sealed:` + a sealed value), keyed by owner and key.
async fn reseal_replays(store: &Store, keys: &Keys, mut done: Resealed) -> Result<Resealed, sqlx::Error> {
    let prefix = crate::writer::SEALED_REPLAY;
    let current = format!("{prefix}v2${}$%", keys.primary_id());
    let rows = {
        let mut conn = store.reader().acquire().await?;
        sqlx::query("SELECT owner, key, body FROM idempotency_keys WHERE body LIKE $1 AND body NOT LIKE $2")
            .bind(format!("{prefix}%"))
            .bind(&current)
            .fetch_all(&mut *conn)
            .await?
    };
    for chunk in rows.chunks(BATCH as usize) {
        let mut tx = store.begin_write().await?;
        for row in chunk {
            let idem = crate::writer::Idempotency {
                owner: row.try_get("owner")?,
                key: row.try_get("key")?,
                fingerprint: String::new(),
            };
            let body: String = row.try_get("body")?;
            let context = crate::writer::replay_context(&idem);
            match keys.open(&context, &body[prefix.len()..]) {
                Ok(plain) => {
                    sqlx::query("UPDATE idempotency_keys SET body = $1 WHERE owner = $2 AND key = $3 AND body = $4")
                        .bind(format!("{prefix}{}", keys.seal(&context, &plain)))
                        .bind(&idem.owner)
                        .bind(&idem.key)
                        .bind(&body)
                        .execute(&mut *tx)
                        .await?;
                    done.resealed += 1;
                }
                Err(_) => done.unreadable += 1,
            }
        }
        tx.commit().await?;
    }
    Ok(done)
}
