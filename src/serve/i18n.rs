//! Page texts in Finnish, Swedish and English (Project Fluent). Every text a
//! page shows comes from `locales/<lang>.ftl`; templates hold keys only. A
//! key missing from a locale falls back to English, and a test checks that
//! every key the pages use is in every locale.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::HashMap;

/// The languages offered, in the order of the selector.
pub const LANGUAGES: [&str; 3] = ["fi", "sv", "en"];

const SOURCES: [(&str, &str); 3] = [
    ("fi", include_str!("locales/fi.ftl")),
    ("sv", include_str!("locales/sv.ftl")),
    ("en", include_str!("locales/en.ftl")),
];

/// Every locale's bundle.
pub struct Texts {
    bundles: HashMap<&'static str, FluentBundle<FluentResource>>,
}

impl Texts {
    /// Parses the shipped locales (a syntax error in them is a bug: it panics at start-up,
    /// and the unit tests parse them).
    pub fn new() -> Texts {
        let mut bundles = HashMap::new();
        for (lang, src) in SOURCES {
            let res = FluentResource::try_new(src.to_string())
                .unwrap_or_else(|(_, e)| panic!("locales/{lang}.ftl does not parse: {e:?}"));
            let id: unic_langid::LanguageIdentifier = lang.parse().expect("a language id");
            let mut b = FluentBundle::new_concurrent(vec![id]);
            b.set_use_isolating(false);
            b.add_resource(res)
                .unwrap_or_else(|e| panic!("locales/{lang}.ftl: {e:?}"));
            bundles.insert(lang, b);
        }
        Texts { bundles }
    }

    /// A language this service speaks (`en` for anything else).
    pub fn lang(lang: &str) -> &'static str {
        LANGUAGES.into_iter().find(|l| *l == lang).unwrap_or("en")
    }

    /// The text of `key` in `lang` with `args`; English when the locale lacks it,
    /// the key itself when English does too.
    pub fn get(&self, lang: &str, key: &str, args: &[(&str, String)]) -> String {
        let lang = Texts::lang(lang);
        for l in [lang, "en"] {
            let b = &self.bundles[l];
            if let Some(pattern) = b.get_message(key).and_then(|m| m.value()) {
                let mut fa = FluentArgs::new();
                for (k, v) in args {
                    fa.set(*k, FluentValue::from(v.clone()));
                }
                let mut errors = Vec::new();
                return b
                    .format_pattern(pattern, Some(&fa), &mut errors)
                    .into_owned();
            }
        }
        key.to_string()
    }

    /// Whether `lang` has `key`.
    pub fn has(&self, lang: &str, key: &str) -> bool {
        self.bundles
            .get(lang)
            .is_some_and(|b| b.get_message(key).is_some())
    }
}

impl Default for Texts {
    fn default() -> Self {
        Texts::new()
    }
}

/// A page's translator: the texts and the user's language.
#[derive(Clone, Copy)]
pub struct Tr<'a> {
    pub texts: &'a Texts,
    pub lang: &'static str,
}

impl Tr<'_> {
    pub fn t(&self, key: &str) -> String {
        self.texts.get(self.lang, key, &[])
    }

    pub fn ta(&self, key: &str, args: &[(&str, String)]) -> String {
        self.texts.get(self.lang, key, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys used in the templates: every `t("…")` and `ta("…"` in the source.
    fn used_keys() -> Vec<String> {
        let mut keys = Vec::new();
        for src in [include_str!("pages.rs"), include_str!("handlers.rs")] {
            for pat in [".t(\"", ".ta(\""] {
                for (i, _) in src.match_indices(pat) {
                    let rest = &src[i + pat.len()..];
                    if let Some(end) = rest.find('"') {
                        keys.push(rest[..end].to_string());
                    }
                }
            }
        }
        // Keys built at run time (`format!`) from a closed set.
        let mut dynamic: Vec<String> = vec!["page-previous".into(), "page-next".into()];
        for r in ["scheduler", "analyst", "admin"] {
            dynamic.push(format!("role-{r}"));
        }
        for l in LANGUAGES {
            dynamic.push(format!("language-{l}"));
        }
        for o in super::super::store::OUTCOMES
            .iter()
            .chain(&["not_reachable"])
        {
            dynamic.push(format!("outcome-{}", o.replace('_', "-")));
        }
        for b in ["low-to-moderate", "high", "very-high"] {
            dynamic.push(format!("band-{b}"));
        }
        for s in super::super::store::SCOPES {
            dynamic.push(format!("scope-{s}"));
        }
        for o in ["booked", "cool-down", "consent-withdrawn"] {
            dynamic.push(format!("person-off-{o}"));
        }
        keys.extend(dynamic);
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn every_used_key_is_in_every_locale() {
        let t = Texts::new();
        let keys = used_keys();
        assert!(keys.len() > 40, "found only {} keys", keys.len());
        let mut missing = Vec::new();
        for k in &keys {
            for l in LANGUAGES {
                if !t.has(l, k) {
                    missing.push(format!("{l}: {k}"));
                }
            }
        }
        assert!(missing.is_empty(), "missing texts: {missing:?}");
    }

    #[test]
    fn locales_have_the_same_keys() {
        let ids = |src: &str| -> Vec<String> {
            let mut v: Vec<String> = src
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && l.contains(" ="))
                .map(|l| l.split(" =").next().unwrap_or("").trim().to_string())
                .collect();
            v.sort();
            v
        };
        let en = ids(SOURCES[2].1);
        assert_eq!(ids(SOURCES[0].1), en, "fi.ftl and en.ftl differ in keys");
        assert_eq!(ids(SOURCES[1].1), en, "sv.ftl and en.ftl differ in keys");
    }

    #[test]
    fn arguments_are_filled_in() {
        let t = Texts::new();
        let s = t.get("fi", "list-title", &[("clinic", "HC01".into())]);
        assert!(s.contains("HC01"), "{s}");
        assert_ne!(
            t.get("sv", "login-title", &[]),
            t.get("en", "login-title", &[])
        );
    }
}
