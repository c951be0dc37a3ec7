//! The widget's message catalogue (`widget/src/words`), one file per language. A
//! message missing from a language does not compile (each is a `Words` struct);
//! this holds every language to English's placeholders and checks the choice of
//! language and the filling of placeholders.

#[path = "../../widget/src/words/mod.rs"]
mod words;

use words::{LANGUAGES, choose, fill};

#[test]
fn every_language_has_every_message_with_the_same_placeholders() {
    let english = LANGUAGES[0];
    assert_eq!(english.lang(), "en", "English comes first: it is the fallback");
    for language in LANGUAGES {
        let (entries, reference) = (language.entries(), english.entries());
        assert_eq!(entries.len(), reference.len());
        for ((key, text), (english_key, english_text)) in entries.iter().zip(&reference) {
            assert_eq!(key, english_key);
            assert!(!text.trim().is_empty(), "{}: {key} is empty", language.lang());
            assert_eq!(
                text.matches("{}").count(),
                english_text.matches("{}").count(),
                "{}: {key} has other placeholders than English: {text:?}",
                language.lang()
            );
            assert!(!text.contains('_'), "{}: {key} reads like a field name: {text:?}", language.lang());
        }
        if language.lang() != "en" {
            // Translated, not copied: only brand names stay the same.
            let same: Vec<_> =
                entries.iter().zip(&reference).filter(|((_, a), (_, b))| a == b).map(|((k, _), _)| *k).collect();
            assert_eq!(same, ["paypal", "venmo"], "{}: left in English", language.lang());
        }
    }
}

#[test]
fn the_language_follows_the_locale_with_english_as_the_fallback() {
    assert_eq!(choose("es-MX", None).lang(), "es");
    assert_eq!(choose("ES", None).lang(), "es");
    assert_eq!(choose("es_419", None).lang(), "es");
    assert_eq!(choose("en-GB", None).lang(), "en");
    assert_eq!(choose("fr-FR", None).lang(), "en");
    assert_eq!(choose("", None).lang(), "en");
    assert_eq!(words::t().lang(), "en", "the last choice is the one in use");
}

#[test]
fn placeholders_are_filled_in_order() {
    assert_eq!(fill("Step {} of {}", &["2", "4"]), "Step 2 of 4");
    assert_eq!(fill("{} sent you {}", &["Acme", "$5.00"]), "Acme sent you $5.00");
    assert_eq!(fill("no placeholder", &["x"]), "no placeholder");
    assert_eq!(fill("{} and {}", &["one"]), "one and ");
}
