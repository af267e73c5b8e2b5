//! How a book search's matches are ordered, paged and counted on tantivy: relevance by
//! scores, every other order by fast fields. Title order breaks ties by book id; the
//! numeric orders break them by when the book was added, oldest first, so they compare
//! numbers only (turning a string key back into its text costs a dictionary lookup per
//! hit and segment, tantivy#2776, which at 100k books was most of a sorted page).

use tantivy::collector::{Collector, Count, FacetCollector, FacetCounts, TopDocs};
use tantivy::query::Query;
use tantivy::schema::Facet;
use tantivy::{DocAddress, Searcher};

use super::search::unavailable;
use crate::search::{SearchError, SearchOrder, SearchRequest};

/// One page of matches (each with its score where the order is relevance), how many
/// matched, and their category counts.
pub(super) struct Matches {
    pub page: Vec<(f32, DocAddress)>,
    pub total: usize,
    /// `None` unless the request asked for facets.
    pub facets: Option<FacetCounts>,
}

/// Matches, their count and category facets, one page of them in the request's order
/// (scores only where the order is relevance).
/// A request for no hits only counts.
pub(super) fn ordered_search(
    searcher: &Searcher,
    query: &dyn Query,
    request: &SearchRequest,
    scored: bool,
) -> Result<Matches, SearchError> {
    use tantivy::Order::{Asc, Desc};
    if request.limit == 0 {
        let (total, facets) = searcher.search(query, &(Count, facet_collector(request.facets))).map_err(unavailable)?;
        return Ok(Matches { page: Vec::new(), total, facets });
    }
    use tantivy::collector::sort_key::{SortByStaticFastValue, SortByString};
    let top = TopDocs::with_limit(request.limit).and_offset(request.offset);
    let title = ((SortByString::for_field("title_key"), Asc), (SortByString::for_field("book_id"), Asc));
    let arrival = || (SortByStaticFastValue::<i64>::for_field("created_micros"), Asc);
    match request.order {
        SearchOrder::Relevance => {
            let by_relevance = top.tweak_score(move |segment: &tantivy::SegmentReader| {
                let ratings = segment.fast_fields().u64("rating_tenths").ok();
                move |doc: tantivy::DocId, score: tantivy::Score| {
                    let rating = ratings.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
                    (if scored { score } else { 0.0 }, rating)
                }
            });
            collect(searcher, query, by_relevance, |(score, _)| *score, request.facets)
        }
        SearchOrder::Title => collect(searcher, query, top.order_by(title), |_| 0.0, request.facets),
        SearchOrder::PriceAsc | SearchOrder::PriceDesc => {
            let direction = if request.order == SearchOrder::PriceAsc { Asc } else { Desc };
            let key = ((SortByStaticFastValue::<u64>::for_field("price_cents"), direction), arrival());
            collect(searcher, query, top.order_by(key), |_| 0.0, request.facets)
        }
        SearchOrder::Rating => {
            let key = ((SortByStaticFastValue::<u64>::for_field("rating_tenths"), Desc), arrival());
            collect(searcher, query, top.order_by(key), |_| 0.0, request.facets)
        }
        SearchOrder::Newest => {
            let key = (SortByStaticFastValue::<i64>::for_field("created_micros"), Desc);
            collect(searcher, query, top.order_by(key), |_| 0.0, request.facets)
        }
        SearchOrder::Year => {
            let key = ((SortByStaticFastValue::<i64>::for_field("year"), Desc), arrival());
            collect(searcher, query, top.order_by(key), |_| 0.0, request.facets)
        }
    }
}

/// Runs a query with a top-documents collector, counting matches and their categories;
/// `score` reads a hit's score off its sort key.
fn collect<K>(
    searcher: &Searcher,
    query: &dyn Query,
    top: impl Collector<Fruit = Vec<(K, DocAddress)>>,
    score: impl Fn(&K) -> f32,
    facets: bool,
) -> Result<Matches, SearchError> {
    let (found, total, counts) = searcher.search(query, &(top, Count, facet_collector(facets))).map_err(unavailable)?;
    let page = found.into_iter().map(|(key, address)| (score(&key), address)).collect();
    Ok(Matches { page, total, facets: counts })
}

/// Counts the matches per category, when asked.
fn facet_collector(wanted: bool) -> Option<FacetCollector> {
    wanted.then(|| {
        let mut collector = FacetCollector::for_field("category_facet");
        collector.add_facet(Facet::root());
        collector
    })
}
