//! NACHA files (issue 19, part 2, the format): the ACH file a bank takes
//! for payouts to bank accounts (credits) and for refills from an app's funding
//! account (debits). 94-character records — File Header (1), Batch Header (5), Entry
//! Detail (6), Batch Control (8), File Control (9) — padded with `9`s to a multiple
//! of the blocking factor, 10. Each batch is PPD (payments to people) or CCD (to
//! businesses); each control carries its entries' count, their entry hash (the sum
//! of the receiving banks' 8-digit routing prefixes, its last 10 digits) and their
//! debit and credit totals in cents.
//!
//! A bank's return file is read by [`parse_returns`]: which of our entries came back
//! (by trace number), why (`R01`…`R85`, [`return_meaning`]) and for how much.
//!
//! Gathering payouts, refills and pre-notes into files at cut-offs, storing and
//! offering them, settling and applying returns: `crate::ach_rail`. Checked by an
//! independent NACHA library in the tests (`achkit`, PyPI).

use std::fmt::Write as _;

/// A record's length.
pub const RECORD_LEN: usize = 94;
/// Records per block; a file is padded with `9`s to a whole number of blocks.
pub const BLOCKING_FACTOR: usize = 10;

/// Standard Entry Class: who is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sec {
    /// Prearranged Payment and Deposit: to (or from) a person's account.
    Ppd,
    /// Corporate Credit or Debit: to (or from) a business's account.
    Ccd,
}

impl Sec {
    pub fn as_str(self) -> &'static str {
        match self {
            Sec::Ppd => "PPD",
            Sec::Ccd => "CCD",
        }
    }
}

/// What an entry does to the receiver's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionCode {
    CheckingCredit,
    SavingsCredit,
    CheckingDebit,
    SavingsDebit,
    /// Zero-dollar debits that prove an account before money is debited from it.
    CheckingDebitPrenote,
    SavingsDebitPrenote,
}

impl TransactionCode {
    /// The two digits of the Entry Detail record (22, 32, 27, 37; pre-notes 28, 38).
    pub fn code(self) -> u8 {
        match self {
            TransactionCode::CheckingCredit => 22,
            TransactionCode::SavingsCredit => 32,
            TransactionCode::CheckingDebit => 27,
            TransactionCode::SavingsDebit => 37,
            TransactionCode::CheckingDebitPrenote => 28,
            TransactionCode::SavingsDebitPrenote => 38,
        }
    }

    pub fn is_credit(self) -> bool {
        matches!(self, TransactionCode::CheckingCredit | TransactionCode::SavingsCredit)
    }

    /// A credit (a payout) or a debit (a refill) to a `checking` or `savings` account.
    pub fn of(account_type: &str, credit: bool) -> Option<TransactionCode> {
        match (account_type, credit) {
            ("checking", true) => Some(TransactionCode::CheckingCredit),
            ("savings", true) => Some(TransactionCode::SavingsCredit),
            ("checking", false) => Some(TransactionCode::CheckingDebit),
            ("savings", false) => Some(TransactionCode::SavingsDebit),
            _ => None,
        }
    }

    /// The pre-note of a future debit from a `checking` or `savings` account.
    pub fn prenote_of(account_type: &str) -> Option<TransactionCode> {
        match account_type {
            "checking" => Some(TransactionCode::CheckingDebitPrenote),
            "savings" => Some(TransactionCode::SavingsDebitPrenote),
            _ => None,
        }
    }
}

/// One payment in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub transaction_code: TransactionCode,
    /// The receiving bank's 9-digit ABA routing number.
    pub routing_number: String,
    /// Up to 17 characters.
    pub account_number: String,
    /// Cents, 0 to 99,999,999.99.
    pub amount: i64,
    /// Our reference for the receiver (up to 15 characters): the transfer's id, shortened.
    pub id_number: String,
    /// The receiver's name (up to 22 characters; longer ones are cut).
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub sec: Sec,
    /// The originator as the receiver's statement shows it (up to 16 characters).
    pub company_name: String,
    /// The originator's 10-character company identification (often `1` + its EIN).
    pub company_id: String,
    /// What the entries are, on statements (up to 10 characters): `PAYOUT`, `REFILL`.
    pub entry_description: String,
    /// YYMMDD: the day the money should move.
    pub effective_date: String,
    pub entries: Vec<Entry>,
}

/// A file for one bank (the ODFI), in its batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The bank's 9-digit routing number (Immediate Destination).
    pub destination_routing: String,
    pub destination_name: String,
    /// The originator's 10-character identification at the bank (Immediate Origin).
    pub origin_id: String,
    pub origin_name: String,
    /// The originating bank's 8-digit routing prefix: it starts every trace number.
    pub odfi: String,
    /// YYMMDD and HHMM of the file's making.
    pub creation_date: String,
    pub creation_time: String,
    /// `A`–`Z` then `0`–`9`: tells apart the files made for the bank on one day.
    pub file_id_modifier: char,
    /// The first entry's trace sequence (1 to 9,999,999); the others follow it, so
    /// trace numbers stay unique across files, not only in one.
    pub first_trace: u64,
    pub batches: Vec<Batch>,
}

/// Why a file cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// `s` as NACHA's alphanumeric fields take it: uppercase ASCII letters, digits,
/// spaces and a few marks; anything else becomes a space; cut to `width`.
fn alnum(s: &str, width: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| if c.is_ascii_alphanumeric() || " .,-&/'".contains(c) { c } else { ' ' })
        .take(width)
        .collect();
    format!("{cleaned:<width$}")
}

fn digits(s: &str, len: usize, what: &str) -> Result<(), Invalid> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Invalid(format!("{what} must be {len} digits")))
    }
}

/// The ABA check digit: 3-7-1 weights over the nine digits sum to a multiple of 10.
pub fn routing_number_ok(routing: &str) -> bool {
    routing.len() == 9
        && routing.bytes().all(|b| b.is_ascii_digit())
        && routing.bytes().zip([3, 7, 1, 3, 7, 1, 3, 7, 1]).map(|(d, w)| u32::from(d - b'0') * w).sum::<u32>() % 10 == 0
}

/// The sum of the entries' 8-digit routing prefixes, its last 10 digits.
fn entry_hash<'a>(entries: impl Iterator<Item = &'a Entry>) -> u64 {
    entries.map(|e| e.routing_number[..8].parse::<u64>().unwrap_or(0)).sum::<u64>() % 10_000_000_000
}

impl File {
    fn check(&self) -> Result<(), Invalid> {
        digits(&self.destination_routing, 9, "the destination routing number")?;
        digits(&self.odfi, 8, "the originating bank's routing prefix")?;
        digits(&self.creation_date, 6, "the creation date (YYMMDD)")?;
        digits(&self.creation_time, 4, "the creation time (HHMM)")?;
        if self.origin_id.len() != 10 || !self.origin_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') {
            return Err(Invalid("the immediate origin must be 10 characters".into()));
        }
        if !self.file_id_modifier.is_ascii_uppercase() && !self.file_id_modifier.is_ascii_digit() {
            return Err(Invalid("the file id modifier is A-Z or 0-9".into()));
        }
        for batch in &self.batches {
            digits(&batch.effective_date, 6, "a batch's effective date (YYMMDD)")?;
            if batch.company_id.len() != 10 {
                return Err(Invalid("a company id must be 10 characters".into()));
            }
            for e in &batch.entries {
                if !routing_number_ok(&e.routing_number) {
                    return Err(Invalid(format!("{} is not a routing number", e.routing_number)));
                }
                if e.account_number.is_empty()
                    || e.account_number.len() > 17
                    || !e.account_number.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(Invalid("an account number is 1 to 17 letters, digits or dashes".into()));
                }
                if !(0..=9_999_999_999).contains(&e.amount) {
                    return Err(Invalid("an entry's amount is 0 to 99,999,999.99".into()));
                }
            }
        }
        Ok(())
    }

    /// The file's text: 94-character records, each ending in a newline, padded to
    /// whole blocks. Trace numbers are the ODFI's prefix and each entry's place in
    /// the file (from 1), so they are unique in it.
    pub fn render(&self) -> Result<String, Invalid> {
        self.check()?;
        let mut records: Vec<String> = Vec::new();
        records.push(format!(
            "101 {}{}{}{}{}094101{}{}{}",
            self.destination_routing,
            alnum(&self.origin_id, 10),
            self.creation_date,
            self.creation_time,
            self.file_id_modifier,
            alnum(&self.destination_name, 23),
            alnum(&self.origin_name, 23),
            alnum("", 8),
        ));
        let mut trace = self.first_trace.saturating_sub(1);
        let (mut file_hash, mut file_debit, mut file_credit, mut file_count) = (0u64, 0i64, 0i64, 0usize);
        for (n, batch) in self.batches.iter().enumerate() {
            let number = n + 1;
            let credits = batch.entries.iter().any(|e| e.transaction_code.is_credit());
            let debits = batch.entries.iter().any(|e| !e.transaction_code.is_credit());
            let service_class = match (credits, debits) {
                (true, false) => 220,
                (false, true) => 225,
                _ => 200,
            };
            records.push(format!(
                "5{service_class}{}{}{}{}{}{}{}   1{}{number:07}",
                alnum(&batch.company_name, 16),
                alnum("", 20),
                alnum(&batch.company_id, 10),
                batch.sec.as_str(),
                alnum(&batch.entry_description, 10),
                alnum("", 6),
                batch.effective_date,
                self.odfi,
            ));
            let (mut debit, mut credit) = (0i64, 0i64);
            for e in &batch.entries {
                trace = trace % 9_999_999 + 1;
                if e.transaction_code.is_credit() {
                    credit += e.amount;
                } else {
                    debit += e.amount;
                }
                records.push(format!(
                    "6{}{}{}{:<17}{:010}{}{}  0{}{trace:07}",
                    e.transaction_code.code(),
                    &e.routing_number[..8],
                    &e.routing_number[8..],
                    e.account_number,
                    e.amount,
                    alnum(&e.id_number, 15),
                    alnum(&e.name, 22),
                    self.odfi,
                ));
            }
            let hash = entry_hash(batch.entries.iter());
            records.push(format!(
                "8{service_class}{:06}{hash:010}{debit:012}{credit:012}{}{}{}{}{number:07}",
                batch.entries.len(),
                alnum(&batch.company_id, 10),
                alnum("", 19),
                alnum("", 6),
                self.odfi,
            ));
            file_hash += hash;
            file_debit += debit;
            file_credit += credit;
            file_count += batch.entries.len();
        }
        let lines = records.len() + 1;
        let blocks = lines.div_ceil(BLOCKING_FACTOR);
        records.push(format!(
            "9{:06}{blocks:06}{file_count:08}{:010}{file_debit:012}{file_credit:012}{}",
            self.batches.len(),
            file_hash % 10_000_000_000,
            alnum("", 39),
        ));
        while !records.len().is_multiple_of(BLOCKING_FACTOR) {
            records.push("9".repeat(RECORD_LEN));
        }
        let mut text = String::with_capacity(records.len() * (RECORD_LEN + 1));
        for record in &records {
            debug_assert_eq!(record.len(), RECORD_LEN, "{record}");
            let _ = writeln!(text, "{record}");
        }
        Ok(text)
    }
}

/// An entry a bank sent back, read from a return file: which of ours (by the trace
/// number we gave it), why (`R01`…`R85`), and for how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    /// The trace number of our entry it returns.
    pub original_trace: String,
    pub code: String,
    pub amount: i64,
}

/// The returns in a NACHA return file: each Entry Detail followed by its return
/// addenda (type `99`: the reason code, then the original entry's trace number).
/// Anything that is not a well-formed record is refused, not skipped.
pub fn parse_returns(text: &str) -> Result<Vec<Return>, Invalid> {
    let mut returns = Vec::new();
    let mut amount: Option<i64> = None;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |why: &str| Invalid(format!("record {}: {why}", n + 1));
        if line.len() != RECORD_LEN || !line.is_ascii() {
            return Err(bad("not a 94-character record"));
        }
        match &line[..1] {
            "6" => {
                let digits = &line[29..39];
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the amount is not digits"));
                }
                amount = Some(digits.parse().map_err(|_| bad("the amount is not digits"))?);
            }
            "7" if &line[1..3] == "99" => {
                let code = &line[3..6];
                if return_meaning(code).is_none() {
                    return Err(bad(&format!("{code} is not a return reason code")));
                }
                let original_trace = &line[6..21];
                if !original_trace.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the original trace number is not 15 digits"));
                }
                let amount = amount.take().ok_or_else(|| bad("a return addenda without its entry"))?;
                returns.push(Return { original_trace: original_trace.to_string(), code: code.to_string(), amount });
            }
            "1" | "5" | "7" | "8" | "9" => {}
            _ => return Err(bad("an unknown record type")),
        }
    }
    Ok(returns)
}

/// The return of a transfer whose status history ends in a return code (`R01`…):
/// failed or reversed by an ACH return.
pub fn rail_return(history: &[dots_shared::api::StatusChange]) -> Option<dots_shared::api::RailReturn> {
    let last = history.last()?;
    let code = last.reason.as_deref()?;
    let meaning = return_meaning(code)?;
    Some(dots_shared::api::RailReturn { code: code.to_string(), meaning: meaning.to_string() })
}

/// What a return reason code means, for the people who read it on a transfer
/// (`None`: not a return code). The codes a payout's bank sends most often have
/// their own words; every other code from R01 to R85 reads as a return by the bank.
pub fn return_meaning(code: &str) -> Option<&'static str> {
    let known = match code {
        "R01" => "Not enough money in the account",
        "R02" => "The account is closed",
        "R03" => "No such account at that bank",
        "R04" => "The account number is not one that bank uses",
        "R05" => "A business debit to a personal account without its owner's agreement",
        "R06" => "Returned at our bank's request",
        "R07" => "The account holder took back their authorization",
        "R08" => "The account holder stopped this payment",
        "R09" => "The money in the account is not yet available",
        "R10" => "The account holder says it was not authorized",
        "R11" => "The account holder says it does not match what they authorized",
        "R12" => "The account was sold to another bank",
        "R13" => "That routing number is not an ACH bank",
        "R14" => "The representative payee has died or can no longer act",
        "R15" => "The account holder has died",
        "R16" => "The account is frozen",
        "R17" => "The bank could not process the entry as written",
        "R18" => "The effective date was not valid",
        "R19" => "The amount was not valid",
        "R20" => "The account cannot take this kind of payment",
        "R21" => "The company identification was not valid",
        "R22" => "The individual identification was not valid",
        "R23" => "The account holder refused the payment",
        "R24" => "The bank received it twice",
        "R29" => "The business says it was not authorized",
        "R31" => "Returned with our agreement",
        _ => "",
    };
    if !known.is_empty() {
        return Some(known);
    }
    let number: u32 = code.strip_prefix('R').filter(|n| n.len() == 2)?.parse().ok()?;
    (1..=85).contains(&number).then_some("Returned by the receiving bank")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(entries: Vec<Entry>) -> File {
        File {
            destination_routing: "091000019".into(),
            destination_name: "Wells Fargo".into(),
            origin_id: "1234567890".into(),
            origin_name: "Dots Payouts".into(),
            odfi: "09100001".into(),
            creation_date: "261205".into(),
            creation_time: "0930".into(),
            file_id_modifier: 'A',
            first_trace: 1,
            batches: vec![Batch {
                sec: Sec::Ppd,
                company_name: "Acme Payroll".into(),
                company_id: "1234567890".into(),
                entry_description: "PAYOUT".into(),
                effective_date: "261207".into(),
                entries,
            }],
        }
    }

    fn entry(amount: i64, code: TransactionCode) -> Entry {
        Entry {
            transaction_code: code,
            routing_number: "011000015".into(),
            account_number: "000123456789".into(),
            amount,
            id_number: "tr_0Vabc".into(),
            name: "Ada Lovelace-Byron, Countess of".into(),
        }
    }

    #[test]
    fn every_record_is_94_characters_in_whole_blocks_with_its_totals() {
        let file =
            sample(vec![entry(12_345, TransactionCode::CheckingCredit), entry(100, TransactionCode::SavingsCredit)]);
        let text = file.render().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() % BLOCKING_FACTOR, 0);
        assert!(lines.iter().all(|l| l.len() == RECORD_LEN), "{text}");
        assert!(lines[0].starts_with("101 091000019"));
        assert_eq!(&lines[1][..4], "5220", "credits only");
        assert_eq!(&lines[2][..3], "622");
        assert_eq!(&lines[2][29..39], "0000012345");
        assert_eq!(&lines[2][54..76], "ADA LOVELACE-BYRON, CO", "cut to 22");
        assert_eq!(&lines[2][79..94], "091000010000001", "trace: ODFI and place");
        assert_eq!(&lines[3][..3], "632");
        // Entry hash: 01100001 twice.
        assert_eq!(&lines[4][10..20], "0002200002");
        assert_eq!(&lines[4][32..44], "000000012445");
        assert_eq!(&lines[5][..1], "9");
        assert_eq!(&lines[5][13..21], "00000002");
        assert!(lines[6..].iter().all(|l| *l == "9".repeat(94)));
    }

    #[test]
    fn bad_fields_are_refused_not_written() {
        let mut bad = sample(vec![entry(1, TransactionCode::CheckingCredit)]);
        bad.batches[0].entries[0].routing_number = "011000016".into();
        assert!(bad.render().is_err(), "a wrong check digit");
        let mut bad = sample(vec![entry(10_000_000_000, TransactionCode::CheckingCredit)]);
        assert!(bad.render().is_err());
        bad.batches[0].entries[0].amount = 1;
        bad.batches[0].entries[0].account_number = "12 34".into();
        assert!(bad.render().is_err());
        assert!(routing_number_ok("011000015") && routing_number_ok("091000019") && !routing_number_ok("12345678"));
        assert_eq!(TransactionCode::of("savings", false), Some(TransactionCode::SavingsDebit));
        assert_eq!(TransactionCode::of("brokerage", true), None);
    }
}
