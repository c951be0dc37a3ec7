//! NACHA files as an independent library reads them (issue 19, acceptance 1's
//! first half): files of random batches — PPD and CCD, credits and debits to
//! checking and savings accounts, amounts up to the field's limit — written by
//! `dots_server::ach` are validated and parsed by `achkit` (PyPI; `cargo xtask
//! test` installs it), and its record counts, entry hashes and totals are the ones
//! we paid.

mod common;

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
    // Trace numbers go on from file to file, and start again after 9,999,999.
    let first_trace = prop_oneof![Just(1u64), 9_999_900u64..=9_999_999, 1u64..=9_999_999];
    (prop::collection::vec(batch(), 1..4), first_trace).prop_map(|(batches, first_trace)| File {
        destination_routing: "091000019".into(),
        destination_name: "Wells Fargo".into(),
        origin_id: "1234567890".into(),
        origin_name: "Dots Payouts".into(),
        odfi: "09100001".into(),
        creation_date: "261205".into(),
        creation_time: "0930".into(),
        file_id_modifier: 'A',
        first_trace,
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

/// Return reason codes the test returns entries with (common ones and others).
const CODES: [&str; 8] = ["R01", "R02", "R03", "R16", "R20", "R29", "R42", "R85"];

/// What a return file sends back: (our trace number, reason code, amount) each.
type Returned = Vec<(String, String, i64)>;

/// The bank's return file for `file`: every `every`-th credit sent back, with a
/// reason code of [`CODES`] (`common::return_file` writes NACHA's return layout).
/// Answers the text and what it returns.
fn return_file(file: &File, every: usize) -> (String, Returned) {
    let (mut index, mut trace) = (0, file.first_trace - 1);
    let mut returned = Vec::new();
    for batch in &file.batches {
        for e in &batch.entries {
            index += 1;
            trace = trace % 9_999_999 + 1;
            if index % every != 0 || !e.transaction_code.is_credit() {
                continue;
            }
            let code = CODES[(returned.len() + 1) % CODES.len()];
            returned.push((format!("{}{trace:07}", file.odfi), code.to_string(), e.amount));
        }
    }
    let picks: Vec<(&str, &str)> = returned.iter().map(|(t, c, _)| (t.as_str(), c.as_str())).collect();
    (common::return_file(&file.render().expect("a valid file"), &picks), returned)
}

const PARSE_RETURNS: &str = r#"
import json, sys
from achkit import parse, RETURN_CODES
out = []
for text in json.load(open(sys.argv[1])):
    f = parse(text)
    out.append([
        {"amount": e["amount_cents"], "addenda": e["addenda"]}
        for b in f["batches"] for e in b["entries"]
    ])
print(json.dumps({"files": out, "codes": sorted(RETURN_CODES)}))
"#;

#[test]
fn a_banks_return_file_is_read_as_the_independent_library_reads_it() {
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config::default());
    let files: Vec<File> = (0..16).map(|_| file().new_tree(&mut runner).expect("a file").current()).collect();
    let returns: Vec<(String, Returned)> = files.iter().enumerate().map(|(i, f)| return_file(f, 1 + i % 3)).collect();
    let texts: Vec<&String> = returns.iter().map(|(text, _)| text).collect();
    let input = std::env::temp_dir().join(format!("dots-ach-returns-{}.json", dots_server::store::random_base62(8)));
    std::fs::write(&input, serde_json::to_vec(&texts).unwrap()).unwrap();
    let out = std::process::Command::new("python3").args(["-c", PARSE_RETURNS, input.to_str().unwrap()]).output();
    let _ = std::fs::remove_file(&input);
    let out = out.expect("python3 runs");
    assert!(out.status.success(), "achkit could not read a return file: {}", String::from_utf8_lossy(&out.stderr));
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    for ((text, returned), theirs) in returns.iter().zip(read["files"].as_array().unwrap()) {
        // The library reads each returned entry with its one return addenda: the code
        // and our trace number where the layout puts them.
        let theirs: Returned = theirs
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let addenda = &e["addenda"][0];
                assert_eq!(addenda["type"], "99", "{e}");
                let info = addenda["info"].as_str().unwrap();
                (info[3..18].to_string(), info[..3].to_string(), e["amount"].as_i64().unwrap())
            })
            .collect();
        assert_eq!(&theirs, returned, "{text}");
        // And ours reads the same.
        let ours: Returned = dots_server::ach::parse_returns(text)
            .expect("a return file")
            .into_iter()
            .map(|r| (r.original_trace, r.code, r.amount))
            .collect();
        assert_eq!(&ours, returned);
    }
    // Every return code the library knows has its own words in ours.
    for code in read["codes"].as_array().unwrap() {
        let code = code.as_str().unwrap();
        let meaning = dots_server::ach::return_meaning(code).unwrap_or_else(|| panic!("{code}"));
        assert_ne!(meaning, "Returned by the receiving bank", "{code} deserves its own words");
    }
    assert!(dots_server::ach::return_meaning("R86").is_none() && dots_server::ach::return_meaning("C01").is_none());
    // A damaged return file is refused, not half read.
    let (text, _) = &returns[0];
    let damaged = text.replacen("799R", "799X", 1);
    assert!(dots_server::ach::parse_returns(&damaged).is_err());
    assert!(dots_server::ach::parse_returns(&text.replacen('\n', "x\n", 1)).is_err());
}
