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

/// Return reason codes the test returns entries with (common ones and others).
const CODES: [&str; 8] = ["R01", "R02", "R03", "R16", "R20", "R29", "R42", "R85"];

/// A 94-character record from its fields (left-aligned, space-padded).
fn record(fields: &[&str]) -> String {
    let line: String = fields.concat();
    assert!(line.len() <= 94, "{line}");
    format!("{line:<94}")
}

/// The bank's return file for `file`: every `every`-th entry sent back, each as an
/// Entry Detail (credit return codes 21/31, our amount) and its return addenda
/// (type 99: the reason code, our trace number, our bank) — NACHA's return layout,
/// written here, not by the code under test. Answers the text and what it returns.
/// What a return file sends back: (our trace number, reason code, amount) each.
type Returned = Vec<(String, String, i64)>;

fn return_file(file: &File, every: usize) -> (String, Returned) {
    let mut lines =
        vec![record(&["101 ", &file.destination_routing, " 011000015", "2612080900A094101", "DOTS RETURNS"])];
    let mut returned = Vec::new();
    let mut trace = 0;
    let mut seq = 0;
    lines.push(format!(
        "5220{:<16}{:20}1234567890PPD{:<10}{:6}261208   1011000010000001",
        "DOTS RETURNS", "", "RETURN", ""
    ));
    let (mut count, mut hash, mut credit) = (0u64, 0u64, 0i64);
    for batch in &file.batches {
        for e in &batch.entries {
            trace += 1;
            if trace % every != 0 || !e.transaction_code.is_credit() {
                continue;
            }
            seq += 1;
            let code = CODES[seq % CODES.len()];
            let original = format!("{}{trace:07}", file.odfi);
            let return_code = e.transaction_code.code() - 1;
            lines.push(record(&[
                "6",
                &return_code.to_string(),
                &e.routing_number,
                &format!("{:<17}", e.account_number),
                &format!("{:010}", e.amount),
                &format!("{:<15}", "RETURN"),
                &format!("{:<22}", "RETURNED ENTRY"),
                "  1",
                &format!("01100001{seq:07}"),
            ]));
            lines.push(record(&[
                "799",
                code,
                &original,
                "      ",
                &file.odfi,
                &" ".repeat(44),
                &format!("01100001{seq:07}"),
            ]));
            returned.push((original, code.to_string(), e.amount));
            count += 2;
            hash += e.routing_number[..8].parse::<u64>().unwrap();
            credit += e.amount;
        }
    }
    let hash = hash % 10_000_000_000;
    lines.push(record(&[
        &format!("8220{count:06}{hash:010}{:012}{credit:012}1234567890", 0),
        &" ".repeat(25),
        "01100001",
        "0000001",
    ]));
    let blocks = (lines.len() + 1).div_ceil(10);
    lines.push(record(&[&format!("9000001{blocks:06}{count:08}{hash:010}{:012}{credit:012}", 0)]));
    while lines.len() % 10 != 0 {
        lines.push("9".repeat(94));
    }
    (lines.iter().map(|l| format!("{l}\n")).collect(), returned)
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
