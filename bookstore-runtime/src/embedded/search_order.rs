//! How a book search's matches are ordered, paged and counted on tantivy: relevance by
//! scores, every other order by fast fields, ties broken by title and then book id.

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
    pub facets: FacetCounts,
}

/// Matches, their count and category facets, one page of them in the request's order
/// (scores only where the order is relevance). Ties break by title, then by book id.
pub(super) fn ordered_search(
    searcher: &Searcher,
    query: &dyn Query,
    request: &SearchRequest,
    scored: bool,
) -> Result<Matches, SearchError> {
    use tantivy::Order::{Asc, Desc};
    use tantivy::collector::sort_key::{SortByStaticFastValue, SortByString};
    let top = TopDocs::with_limit(request.limit.max(1)).and_offset(request.offset);
    let title = || ((SortByString::for_field("title_key"), Asc), (SortByString::for_field("book_id"), Asc));
    match request.order {
        SearchOrder::Relevance => {
            let by_relevance = top.tweak_score(move |segment: &tantivy::SegmentReader| {
                let ratings = segment.fast_fields().u64("rating_tenths").ok();
                move |doc: tantivy::DocId, score: tantivy::Score| {
                    let rating = ratings.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
                    (if scored { score } else { 0.0 }, rating)
                }
            });
            collect(searcher, query, by_relevance, |(score, _)| *score)
        }
        SearchOrder::Title => collect(searcher, query, top.order_by(title()), |_| 0.0),
        SearchOrder::PriceAsc | SearchOrder::PriceDesc => {
            let direction = if request.order == SearchOrder::PriceAsc { Asc } else { Desc };
            let key = ((SortByStaticFastValue::<u64>::for_field("price_cents"), direction), title());
            collect(searcher, query, top.order_by(key), |_| 0.0)
        }
        SearchOrder::Rating => {
            let key = ((SortByStaticFastValue::<u64>::for_field("rating_tenths"), Desc), title());
            collect(searcher, query, top.order_by(key), |_| 0.0)
        }
        SearchOrder::Newest => {
            let key = ((SortByStaticFastValue::<i64>::for_field("created_micros"), Desc), title());
            collect(searcher, query, top.order_by(key), |_| 0.0)
        }
        SearchOrder::Year => {
            let key = ((SortByStaticFastValue::<i64>::for_field("year"), Desc), title());
            collect(searcher, query, top.order_by(key), |_| 0.0)
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
) -> Result<Matches, SearchError> {
    let mut facets = FacetCollector::for_field("category_facet");
    facets.add_facet(Facet::root());
    let (found, total, counts) = searcher.search(query, &(top, Count, facets)).map_err(unavailable)?;
    let page = found.into_iter().map(|(key, address)| (score(&key), address)).collect();
    Ok(Matches { page, total, facets: counts })
}
