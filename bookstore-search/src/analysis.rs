//! Analyzers from an index's `settings.analysis`, built as tantivy text analyzers.
//!
//! Supported: the built-in `standard`, `simple`, `whitespace`, `keyword` and `spanish`
//! analyzers (`stopwords` as a list, `_spanish_` or `_none_`), `custom` analyzers of a
//! `standard`/`whitespace`/`keyword`/`letter` tokenizer and `lowercase`, `asciifolding`,
//! `stop`, `stemmer`/`snowball` filters, and `custom` normalizers of `lowercase` and
//! `asciifolding`. The `spanish` analyzer folds accents before it stems, as Lucene's light
//! Spanish stemmer does. Anything else is refused with Elasticsearch's error.

use std::collections::BTreeMap;

use serde_json::Value;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer, TokenizerManager, WhitespaceTokenizer,
};

use crate::error::EsError;

/// Tokens longer than this are dropped (Lucene's standard tokenizer splits at 255).
const MAX_TOKEN_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq)]
enum Tokenizer {
    Standard,
    Whitespace,
    Keyword,
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Lowercase,
    AsciiFolding,
    Stop(StopWords),
    Stem(Language),
}

/// An analyzer's recipe: a tokenizer and filters in order.
#[derive(Debug, Clone, PartialEq)]
struct Recipe {
    tokenizer: Tokenizer,
    filters: Vec<Filter>,
}

/// The analyzers and normalizers an index may name, and how to build each.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    analyzers: BTreeMap<String, Recipe>,
    normalizers: BTreeMap<String, Recipe>,
}

/// A stop filter's words: Lucene's Spanish list, or the index's own.
#[derive(Debug, Clone, PartialEq)]
enum StopWords {
    Spanish,
    Listed(Vec<String>),
}

fn stop_words(value: Option<&Value>, default: StopWords, owner: &str) -> Result<StopWords, EsError> {
    match value {
        None => Ok(default),
        Some(Value::String(name)) if name == "_spanish_" => Ok(StopWords::Spanish),
        Some(Value::String(name)) if name == "_none_" => Ok(StopWords::Listed(Vec::new())),
        Some(Value::Array(words)) => words
            .iter()
            .map(|w| w.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(StopWords::Listed)
            .ok_or_else(|| EsError::illegal_argument(format!("[stopwords] of [{owner}] must be a list of strings"))),
        Some(other) => Err(EsError::illegal_argument(format!(
            "[stopwords] of [{owner}] must be a list, `_spanish_` or `_none_`, not {other}"
        ))),
    }
}

fn language(name: &str) -> Option<Language> {
    match name {
        "spanish" | "light_spanish" => Some(Language::Spanish),
        "english" | "light_english" | "minimal_english" => Some(Language::English),
        "portuguese" | "light_portuguese" => Some(Language::Portuguese),
        "french" | "light_french" => Some(Language::French),
        "german" | "light_german" => Some(Language::German),
        "italian" | "light_italian" => Some(Language::Italian),
        _ => None,
    }
}

fn builtin_analyzer(name: &str) -> Option<Recipe> {
    let folded_spanish = |stop: StopWords| Recipe {
        tokenizer: Tokenizer::Standard,
        filters: vec![Filter::Lowercase, Filter::AsciiFolding, Filter::Stop(stop), Filter::Stem(Language::Spanish)],
    };
    Some(match name {
        "standard" | "simple" => Recipe { tokenizer: Tokenizer::Standard, filters: vec![Filter::Lowercase] },
        "whitespace" => Recipe { tokenizer: Tokenizer::Whitespace, filters: Vec::new() },
        "keyword" => Recipe { tokenizer: Tokenizer::Keyword, filters: Vec::new() },
        "spanish" => folded_spanish(StopWords::Spanish),
        _ => return None,
    })
}

fn builtin_filter(name: &str) -> Option<Filter> {
    Some(match name {
        "lowercase" => Filter::Lowercase,
        "asciifolding" => Filter::AsciiFolding,
        "spanish_stop" => Filter::Stop(StopWords::Spanish),
        "spanish_stemmer" | "light_spanish" => Filter::Stem(Language::Spanish),
        _ => return None,
    })
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a serde_json::Map<String, Value>, EsError> {
    value.as_object().ok_or_else(|| EsError::illegal_argument(format!("[{what}] must be an object")))
}

fn only_keys(map: &serde_json::Map<String, Value>, allowed: &[&str], owner: &str) -> Result<(), EsError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(EsError::illegal_argument(format!("unknown setting [{key}] of [{owner}]"))),
        None => Ok(()),
    }
}

impl Analysis {
    /// Reads `settings.analysis` (or `settings.index.analysis`); `None` gives the built-ins.
    pub fn parse(analysis: Option<&Value>) -> Result<Self, EsError> {
        let mut out = Analysis::default();
        let Some(analysis) = analysis else { return Ok(out) };
        let analysis = object(analysis, "analysis")?;
        only_keys(analysis, &["analyzer", "filter", "normalizer", "tokenizer"], "analysis")?;
        let mut filters: BTreeMap<String, Filter> = BTreeMap::new();
        if let Some(defs) = analysis.get("filter") {
            for (name, def) in object(defs, "analysis.filter")? {
                filters.insert(name.clone(), Self::filter_definition(name, def)?);
            }
        }
        if let Some(defs) = analysis.get("tokenizer")
            && let Some(name) = object(defs, "analysis.tokenizer")?.keys().next()
        {
            return Err(EsError::illegal_argument(format!(
                "custom tokenizer [{name}] is not supported: use standard, whitespace, keyword or letter"
            )));
        }
        if let Some(defs) = analysis.get("analyzer") {
            for (name, def) in object(defs, "analysis.analyzer")? {
                let recipe = Self::analyzer_definition(name, def, &filters)?;
                out.analyzers.insert(name.clone(), recipe);
            }
        }
        if let Some(defs) = analysis.get("normalizer") {
            for (name, def) in object(defs, "analysis.normalizer")? {
                let def = object(def, name)?;
                only_keys(def, &["type", "filter", "char_filter"], name)?;
                let mut recipe = Recipe { tokenizer: Tokenizer::Keyword, filters: Vec::new() };
                for filter in def.get("filter").and_then(Value::as_array).into_iter().flatten() {
                    let filter_name = filter.as_str().unwrap_or_default();
                    match builtin_filter(filter_name).or_else(|| filters.get(filter_name).cloned()) {
                        Some(f @ (Filter::Lowercase | Filter::AsciiFolding)) => recipe.filters.push(f),
                        _ => {
                            return Err(EsError::illegal_argument(format!(
                                "Custom normalizer [{name}] may not use filter [{filter_name}]"
                            )));
                        }
                    }
                }
                out.normalizers.insert(name.clone(), recipe);
            }
        }
        Ok(out)
    }

    fn filter_definition(name: &str, def: &Value) -> Result<Filter, EsError> {
        let def = object(def, name)?;
        let kind = def.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "lowercase" => Ok(Filter::Lowercase),
            "asciifolding" => Ok(Filter::AsciiFolding),
            "stop" => Ok(Filter::Stop(stop_words(def.get("stopwords"), StopWords::Listed(Vec::new()), name)?)),
            "stemmer" | "snowball" => {
                let wanted =
                    def.get("language").or_else(|| def.get("name")).and_then(Value::as_str).unwrap_or_default();
                language(wanted).map(Filter::Stem).ok_or_else(|| {
                    EsError::illegal_argument(format!("unknown stemmer language [{wanted}] of filter [{name}]"))
                })
            }
            other => Err(EsError::illegal_argument(format!("unknown filter type [{other}] for [{name}]"))),
        }
    }

    fn analyzer_definition(name: &str, def: &Value, filters: &BTreeMap<String, Filter>) -> Result<Recipe, EsError> {
        let def = object(def, name)?;
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("custom");
        match kind {
            "spanish" | "standard" => {
                only_keys(def, &["type", "stopwords"], name)?;
                let mut recipe = builtin_analyzer(kind).unwrap_or_else(fallback_recipe);
                if def.contains_key("stopwords") {
                    let words = stop_words(def.get("stopwords"), StopWords::Listed(Vec::new()), name)?;
                    recipe.filters.retain(|f| !matches!(f, Filter::Stop(_)));
                    let at = if kind == "spanish" { 2 } else { recipe.filters.len() };
                    recipe.filters.insert(at, Filter::Stop(words));
                }
                Ok(recipe)
            }
            "simple" | "whitespace" | "keyword" => {
                only_keys(def, &["type"], name)?;
                Ok(builtin_analyzer(kind).unwrap_or_else(fallback_recipe))
            }
            "custom" => {
                only_keys(def, &["type", "tokenizer", "filter", "char_filter", "position_increment_gap"], name)?;
                if def.get("char_filter").and_then(Value::as_array).is_some_and(|c| !c.is_empty()) {
                    return Err(EsError::illegal_argument(format!(
                        "char_filter of analyzer [{name}] is not supported"
                    )));
                }
                let tokenizer = match def.get("tokenizer").and_then(Value::as_str) {
                    Some("standard" | "letter" | "lowercase") => Tokenizer::Standard,
                    Some("whitespace") => Tokenizer::Whitespace,
                    Some("keyword") => Tokenizer::Keyword,
                    Some(other) => {
                        return Err(EsError::illegal_argument(format!(
                            "failed to find tokenizer under name [{other}] for analyzer [{name}]"
                        )));
                    }
                    None => {
                        return Err(EsError::illegal_argument(format!(
                            "analyzer [{name}] must specify either an analyzer type, or a tokenizer"
                        )));
                    }
                };
                let mut recipe = Recipe { tokenizer, filters: Vec::new() };
                for filter in def.get("filter").and_then(Value::as_array).into_iter().flatten() {
                    let filter_name = filter.as_str().unwrap_or_default();
                    let found = filters.get(filter_name).cloned().or_else(|| builtin_filter(filter_name));
                    recipe.filters.push(found.ok_or_else(|| {
                        EsError::illegal_argument(format!(
                            "failed to find filter under name [{filter_name}] for analyzer [{name}]"
                        ))
                    })?);
                }
                Ok(recipe)
            }
            other => Err(EsError::illegal_argument(format!("Unknown analyzer type [{other}] for [{name}]"))),
        }
    }

    pub fn has_analyzer(&self, name: &str) -> bool {
        self.analyzers.contains_key(name) || builtin_analyzer(name).is_some()
    }

    pub fn has_normalizer(&self, name: &str) -> bool {
        self.normalizers.contains_key(name)
    }

    /// Registers every analyzer the index may use under `tokenizer_name`'s names.
    pub fn register(&self, manager: &TokenizerManager) {
        for name in ["standard", "simple", "whitespace", "keyword", "spanish"] {
            if let Some(recipe) = builtin_analyzer(name) {
                manager.register(&analyzer_name(name), build(&recipe));
            }
        }
        for (name, recipe) in &self.analyzers {
            manager.register(&analyzer_name(name), build(recipe));
        }
        manager.register(&normalizer_name(None), build(&Recipe { tokenizer: Tokenizer::Keyword, filters: vec![] }));
        for (name, recipe) in &self.normalizers {
            manager.register(&normalizer_name(Some(name)), build(recipe));
        }
    }
}

fn fallback_recipe() -> Recipe {
    Recipe { tokenizer: Tokenizer::Standard, filters: vec![Filter::Lowercase] }
}

/// The tokenizer-manager name of an analyzer.
pub fn analyzer_name(name: &str) -> String {
    format!("analyzer:{name}")
}

/// The tokenizer-manager name of a keyword field's normalizer (`None`: the value as is).
pub fn normalizer_name(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("normalizer:{name}"),
        None => "normalizer:".to_owned(),
    }
}

fn build(recipe: &Recipe) -> TextAnalyzer {
    let mut builder = match recipe.tokenizer {
        Tokenizer::Standard => TextAnalyzer::builder(SimpleTokenizer::default()).dynamic(),
        Tokenizer::Whitespace => TextAnalyzer::builder(WhitespaceTokenizer::default()).dynamic(),
        Tokenizer::Keyword => TextAnalyzer::builder(RawTokenizer::default()).dynamic(),
    };
    if recipe.tokenizer != Tokenizer::Keyword {
        builder = builder.filter_dynamic(RemoveLongFilter::limit(MAX_TOKEN_CHARS));
    }
    for filter in &recipe.filters {
        builder = match filter {
            Filter::Lowercase => builder.filter_dynamic(LowerCaser),
            Filter::AsciiFolding => builder.filter_dynamic(AsciiFoldingFilter),
            Filter::Stop(StopWords::Spanish) => match StopWordFilter::new(Language::Spanish) {
                Some(stop) => builder.filter_dynamic(stop),
                None => builder,
            },
            Filter::Stop(StopWords::Listed(words)) => {
                // Matched after the filters before it, so fold the words the same way.
                let folds = recipe.filters.iter().take_while(|f| *f != filter).any(|f| *f == Filter::AsciiFolding);
                let words = words.iter().map(|w| if folds { fold(w) } else { w.to_lowercase() }).collect::<Vec<_>>();
                builder.filter_dynamic(StopWordFilter::remove(words))
            }
            Filter::Stem(language) => builder.filter_dynamic(Stemmer::new(*language)),
        };
    }
    builder.build()
}

/// Lower case without accents, as `lowercase` + `asciifolding` leave a word.
pub fn fold(text: &str) -> String {
    let mut analyzer =
        build(&Recipe { tokenizer: Tokenizer::Keyword, filters: vec![Filter::Lowercase, Filter::AsciiFolding] });
    let mut stream = analyzer.token_stream(text);
    let mut out = String::new();
    while stream.advance() {
        out.push_str(&stream.token().text);
    }
    out
}

/// Runs `text` through a registered analyzer.
pub fn analyze(manager: &TokenizerManager, name: &str, text: &str) -> Vec<String> {
    let Some(mut analyzer) = manager.get(name) else { return Vec::new() };
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}
