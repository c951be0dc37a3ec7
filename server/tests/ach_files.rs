//! NACHA files as an independent library reads them (issue 19, acceptance 1's
//! first half): files of random batches — PPD and CCD, credits and debits to
//! checking and savings accounts, amounts up to the field's limit — written by
//! `dots_server::ach` are validated and parsed by `achkit` (PyPI; `cargo xtask
//! test` installs it), and its record counts, entry hashes and totals are the ones
//! we paid.

use dots_server::ach::{Batch, Entry, File, Sec, TransactionCode};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

/// Real routing numbers (their ABA check digits hold).
const ROUTING: [&str; 5] = ["011000015", "091000019", "021000021", "122000247", "026009593"];

fn entry() -> impl Strategy<Value = Entry> {
    (0..ROUTING.len(), 0..4u8, 0..=9_999_999_999i64, "[0-9]{4,17}", "[a-zA-Z ]{1,30}").prop_map(
        |(r, code, amount, account, name)| Entry {
            transaction_code: [
                TransactionCode::CheckingCredit,
                TransactionCode::SavingsCredit,
                TransactionCode::CheckingDebit,
                TransactionCode::SavingsDebit,
            ][code as usize],
            routing_number: ROUTING[r].into(),
            account_number: account,
            amount,
            id_number: "tr_0Vabcdefghijkl".into(),
            name,
        },
    )
}

fn batch() -> impl Strategy<Value = Batch> {
    (any::<bool>(), prop::collection::vec(entry(), 1..40)).prop_map(|(people, entries)| Batch {
        sec: if people { Sec::Ppd } else { Sec::Ccd },
        company_name: "Acme Payroll".into(),
        company_id: "1234567890".into(),
        entry_description: "PAYOUT".into(),
        effective_date: "261207".into(),
        entries,
    })
}

fn file() -> impl Strategy<Value = File> {
    prop::collection::vec(batch(), 1..4).prop_map(|batches| File {
        destination_routing: "091000019".into(),
        destination_name: "Wells Fargo".into(),
        origin_id: "1234567890".into(),
        origin_name: "Dots Payouts".into(),
        odfi: "09100001".into(),
        creation_date: "261205".into(),
        creation_time: "0930".into(),
        file_id_modifier: 'A',
        batches,
    })
}

/// What the file holds, as we made it: per batch (entries, credits, debits), in all.
fn expected(file: &File) -> Value {
    let batches: Vec<Value> = file
        .batches
        .iter()
        .map(|b| {
            let sum = |credit: bool| {
                b.entries.iter().filter(|e| e.transaction_code.is_credit() == credit).map(|e| e.amount).sum::<i64>()
            };
            json!({"entries": b.entries.len(), "credit": sum(true), "debit": sum(false), "sec": b.sec.as_str()})
        })
        .collect();
    json!({"batches": batches})
}

const CHECK: &str = r#"
import json, sys
from achkit import parse, validate
out = []
for text in json.load(open(sys.argv[1])):
    v = validate(text)
    if not v["ok"]:
        out.append({"errors": v["errors"]})
        continue
    f = parse(text)
    out.append({
        "lines": len([r for r in text.splitlines() if r]),
        "control": f["control"],
        "batches": [{
            "entries": len(b["entries"]),
            "credit": b["control"]["total_credit"],
            "debit": b["control"]["total_debit"],
            "sec": b["sec"],
            "hash": b["control"]["entry_hash"],
            "amounts": sum(e["amount_cents"] for e in b["entries"]),
        } for b in f["batches"]],
    })
print(json.dumps(out))
"#;

#[test]
fn our_nacha_files_are_read_by_an_independent_library_with_our_totals() {
    let mut runner =
        proptest::test_runner::TestRunner::new(proptest::test_runner::Config { cases: 64, ..Default::default() });
    let mut files = Vec::new();
    for _ in 0..64 {
        files.push(file().new_tree(&mut runner).expect("a file").current());
    }
    let texts: Vec<String> = files.iter().map(|f| f.render().expect("a valid file")).collect();
    let input = std::env::temp_dir().join(format!("dots-ach-{}.json", dots_server::store::random_base62(8)));
    std::fs::write(&input, serde_json::to_vec(&texts).unwrap()).unwrap();
    let out = std::process::Command::new("python3").args(["-c", CHECK, input.to_str().unwrap()]).output();
    let _ = std::fs::remove_file(&input);
    let out = out.expect("python3 runs");
    assert!(
        out.status.success(),
        "achkit could not check the files (pip install achkit==0.2.0): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Vec<Value> = serde_json::from_slice(&out.stdout).expect("achkit's answers");
    assert_eq!(read.len(), files.len());
    for ((file, text), read) in files.iter().zip(&texts).zip(&read) {
        assert!(read.get("errors").is_none(), "achkit refused a file: {read}\n{text}");
        let expect = expected(file);
        let total =
            |key: &str| expect["batches"].as_array().unwrap().iter().map(|b| b[key].as_i64().unwrap()).sum::<i64>();
        assert_eq!(read["control"]["total_credit"].as_i64(), Some(total("credit")), "{text}");
        assert_eq!(read["control"]["total_debit"].as_i64(), Some(total("debit")));
        assert_eq!(read["control"]["entry_addenda_count"].as_i64(), Some(total("entries")));
        assert_eq!(read["control"]["batch_count"].as_u64(), Some(file.batches.len() as u64));
        assert_eq!(read["lines"].as_u64().unwrap() % 10, 0, "whole blocks");
        assert_eq!(read["control"]["block_count"].as_u64(), Some(read["lines"].as_u64().unwrap() / 10));
        for (ours, theirs) in expect["batches"].as_array().unwrap().iter().zip(read["batches"].as_array().unwrap()) {
            for key in ["entries", "credit", "debit", "sec"] {
                assert_eq!(ours[key], theirs[key], "{key}");
            }
            assert_eq!(
                theirs["amounts"].as_i64(),
                Some(ours["credit"].as_i64().unwrap() + ours["debit"].as_i64().unwrap())
            );
        }
    }
}
