//! Property test: random sequences of refills, balance transfers, payouts, cancels
//! and status changes. A model predicts every answer (success or refusal) and every
//! balance; after each sequence the balances match the model and the ledger check
//! holds. Runs on SQLite and on PostgreSQL; `PROPTEST_CASES` sets the case count.

mod common;

use axum::http::StatusCode;
use common::{Creds, TestApp};
use dots_server::error::Reply;
use dots_server::ledger::transfers;
use dots_server::store::Backend;
use dots_shared::TransferStatus;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

const USERS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Refill(i64),
    Balance {
        user: usize,
        amount: i64,
        to_user: bool,
    },
    Payout {
        user: usize,
        amount: i64,
    },
    Cancel {
        pick: usize,
    },
    /// Any status, allowed or not: refusals are part of the contract.
    SetStatus {
        pick: usize,
        to: TransferStatus,
    },
    /// One of the statuses a payout may move to next, so its long paths
    /// (pending → completed → reversed) are walked often.
    Advance {
        pick: usize,
        choice: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let amount = 1i64..=3_000;
    prop_oneof![
        2 => (1i64..=5_000).prop_map(Op::Refill),
        4 => (0..USERS, amount.clone(), any::<bool>()).prop_map(|(user, amount, to_user)| Op::Balance { user, amount, to_user }),
        3 => (0..USERS, amount).prop_map(|(user, amount)| Op::Payout { user, amount }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => (any::<usize>(), proptest::sample::select(TransferStatus::ALL.to_vec())).prop_map(|(pick, to)| Op::SetStatus { pick, to }),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(pick, choice)| Op::Advance { pick, choice }),
    ]
}

#[derive(Debug, Clone)]
struct ModelTransfer {
    id: String,
    kind: &'static str,
    user: Option<usize>,
    amount: i64,
    to_user: bool,
    status: TransferStatus,
}

#[derive(Default)]
struct Model {
    app: i64,
    available: [i64; USERS],
    transfers: Vec<ModelTransfer>,
}

impl Model {
    fn pending(&self, user: usize) -> i64 {
        self.transfers
            .iter()
            .filter(|t| t.kind == "payout" && t.user == Some(user) && t.status.holds_reservation())
            .map(|t| t.amount)
            .sum()
    }

    /// Applies a status change to the model if the ledger must accept it; returns
    /// whether it must.
    fn set_status(&mut self, index: usize, to: TransferStatus) -> bool {
        use TransferStatus::*;
        let t = self.transfers[index].clone();
        if !t.status.can_become(to) {
            return false;
        }
        let user = t.user;
        let ok = match (t.kind, t.status, to) {
            ("payout", from, Canceled | Failed) if from.holds_reservation() => {
                self.available[user.unwrap()] += t.amount;
                true
            }
            ("payout", Completed, Reversed) => {
                self.available[user.unwrap()] += t.amount;
                true
            }
            ("balance", Completed, Reversed) => {
                let u = user.unwrap();
                let (user_delta, app_delta) = if t.to_user { (-t.amount, t.amount) } else { (t.amount, -t.amount) };
                if self.available[u] + user_delta < 0 || self.app + app_delta < 0 {
                    return false;
                }
                self.available[u] += user_delta;
                self.app += app_delta;
                true
            }
            ("refill", Completed, Reversed) => {
                if self.app < t.amount {
                    return false;
                }
                self.app -= t.amount;
                true
            }
            _ => true,
        };
        if ok {
            self.transfers[index].status = to;
        }
        ok
    }
}

struct Case {
    t: TestApp,
    app: Creds,
    users: Vec<String>,
}

async fn run_sequence(case: &Case, ops: &[Op]) -> Result<(), TestCaseError> {
    let Case { t, app, users } = case;
    let mut model = Model::default();
    // Fund the app and every user first, so payouts happen from the first step.
    let mut funded = vec![Op::Refill(20_000)];
    funded.extend((0..USERS).map(|user| Op::Balance { user, amount: 5_000, to_user: true }));
    for op in funded.iter().chain(ops) {
        match op {
            Op::Refill(amount) => {
                let r = t.post(app, "/v2/refills", json!({"amount": amount, "currency": "USD"})).await;
                prop_assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
                model.app += amount;
                model.transfers.push(ModelTransfer {
                    id: r.id(),
                    kind: "refill",
                    user: None,
                    amount: *amount,
                    to_user: false,
                    status: TransferStatus::Completed,
                });
            }
            Op::Balance { user, amount, to_user } => {
                let direction = if *to_user { "app_to_user" } else { "user_to_app" };
                let body = json!({"type": "balance", "user_id": users[*user], "amount": amount, "currency": "USD", "direction": direction});
                let r = t.post(app, "/v2/transfers", body).await;
                let funded = if *to_user { model.app >= *amount } else { model.available[*user] >= *amount };
                if funded {
                    prop_assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
                    if *to_user {
                        model.app -= amount;
                        model.available[*user] += amount;
                    } else {
                        model.available[*user] -= amount;
                        model.app += amount;
                    }
                    model.transfers.push(ModelTransfer {
                        id: r.id(),
                        kind: "balance",
                        user: Some(*user),
                        amount: *amount,
                        to_user: *to_user,
                        status: TransferStatus::Completed,
                    });
                } else {
                    prop_assert_eq!(r.code(), "insufficient_funds", "{}", r.json);
                }
            }
            Op::Payout { user, amount } => {
                let r = t.transfer(app, "payout", &users[*user], *amount).await;
                if model.available[*user] >= *amount {
                    prop_assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
                    model.available[*user] -= amount;
                    model.transfers.push(ModelTransfer {
                        id: r.id(),
                        kind: "payout",
                        user: Some(*user),
                        amount: *amount,
                        to_user: false,
                        status: TransferStatus::Created,
                    });
                } else {
                    prop_assert_eq!(r.code(), "insufficient_funds", "{}", r.json);
                }
            }
            Op::Cancel { pick } => {
                if model.transfers.is_empty() {
                    continue;
                }
                let index = pick % model.transfers.len();
                let id = model.transfers[index].id.clone();
                let r = t.post(app, &format!("/v2/transfers/{id}/cancel"), json!({})).await;
                if model.set_status(index, TransferStatus::Canceled) {
                    prop_assert_eq!(r.status, StatusCode::OK, "{}", r.json);
                } else {
                    prop_assert_eq!(r.code(), "transfer_not_cancelable", "{}", r.json);
                }
            }
            Op::SetStatus { .. } | Op::Advance { .. } => {
                if model.transfers.is_empty() {
                    continue;
                }
                let (index, to) = match *op {
                    Op::SetStatus { pick, to } => (pick % model.transfers.len(), to),
                    Op::Advance { pick, choice } => {
                        let payouts: Vec<usize> =
                            (0..model.transfers.len()).filter(|i| model.transfers[*i].kind == "payout").collect();
                        if payouts.is_empty() {
                            continue;
                        }
                        let index = payouts[pick % payouts.len()];
                        let from = model.transfers[index].status;
                        let next: Vec<_> = TransferStatus::ALL.into_iter().filter(|to| from.can_become(*to)).collect();
                        if next.is_empty() {
                            continue;
                        }
                        (index, next[choice % next.len()])
                    }
                    _ => unreachable!(),
                };
                let to = &to;
                let (to_status, args) = (*to, (app.id.clone(), model.transfers[index].id.clone()));
                let reply = t
                    .state
                    .writer
                    .run(Default::default(), args, move |conn, (app_id, id), now| {
                        Box::pin(async move {
                            let reason = Some("property test");
                            let changed = transfers::set_status(conn, app_id, id, to_status, reason, now).await?;
                            Ok(Reply::json(StatusCode::OK, &changed)?)
                        })
                    })
                    .await
                    .expect("no infrastructure failure");
                let expected = if model.set_status(index, *to) { StatusCode::OK } else { StatusCode::CONFLICT };
                prop_assert_eq!(
                    reply.status,
                    expected,
                    "{:?} → {:?}: {}",
                    op,
                    to,
                    String::from_utf8_lossy(&reply.body)
                );
            }
        }
    }
    prop_assert_eq!(t.app_available(app).await, model.app);
    for (i, user) in users.iter().enumerate() {
        prop_assert_eq!(t.user_wallet(app, user).await, (model.available[i], model.pending(i)));
    }
    let report = dots_server::ledger::check(&t.store).await.expect("ledger check ran");
    prop_assert!(report.is_ok(), "{:#?}", report.violations);
    Ok(())
}

fn random_sequences_keep_the_ledger_whole(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (url, cleanup) = rt.block_on(common::fresh_database(backend));
    let t = rt.block_on(TestApp::start(&url));
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        rt.block_on(async {
            // Each case is its own app: tenants are isolated, and the ledger check
            // covers every app in the database.
            let app = t.create_app("prop").await;
            let mut users = Vec::new();
            for _ in 0..USERS {
                users.push(t.create_payee(&app).await);
            }
            run_sequence(&Case { t: t.clone(), app, users }, &ops).await
        })
    });
    rt.block_on(async {
        t.store.close().await;
        cleanup.run().await;
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn sqlite_random_sequences_keep_the_ledger_whole() {
    random_sequences_keep_the_ledger_whole(Backend::Sqlite);
}

#[test]
fn postgres_random_sequences_keep_the_ledger_whole() {
    random_sequences_keep_the_ledger_whole(Backend::Postgres);
}
