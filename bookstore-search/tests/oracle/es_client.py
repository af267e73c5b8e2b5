"""The official Elasticsearch Python client against bookstore-search: seed 001's index,
helpers.bulk, searches with fuzziness, filters and aggregations, completion suggestions,
errors. Every answer goes through the client's own response and error classes."""

import sys

import elasticsearch
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError, helpers

url, index = sys.argv[1], sys.argv[2]
major = int(elasticsearch.__versionstr__.split(".")[0])
es = Elasticsearch(url, request_timeout=10)

assert es.ping(), "HEAD / answered"
info = es.info()
assert info["tagline"] == "You Know, for Search", info.body
assert es.cluster.health()["status"] == "green"

es.indices.create(
    index=index,
    settings={"analysis": {"analyzer": {"spanish_custom": {"type": "spanish", "stopwords": ["el", "la", "de", "que", "y", "a"]}}}},
    mappings={
        "properties": {
            "title": {"type": "text", "analyzer": "spanish_custom",
                      "fields": {"keyword": {"type": "keyword"}, "suggest": {"type": "completion"}}},
            "author": {"type": "text", "analyzer": "spanish_custom"},
            "description": {"type": "text", "analyzer": "spanish_custom"},
            "category": {"type": "keyword"},
            "price": {"type": "double"},
            "rating": {"type": "double"},
            "publication_year": {"type": "integer"},
        }
    },
)
assert es.indices.exists(index=index)
mapping = es.indices.get_mapping(index=index)
assert mapping[index]["mappings"]["properties"]["category"]["type"] == "keyword"

books = [
    ("Cien años de soledad", "Gabriel García Márquez", "Ficción", 19.90, 4.8, 1967),
    ("Programación en Rust", "Lucía Fernández", "Programación", 39.95, 4.5, 2021),
    ("El amor en los tiempos del cólera", "Gabriel García Márquez", "Ficción", 17.50, 4.6, 1985),
    ("Historia de la programación", "José Núñez", "Historia", 25.00, 3.9, 2010),
    ("Rayuela", "Julio Cortázar", "Ficción", 15.00, 4.4, 1963),
]
actions = [
    {"_index": index, "_id": str(n), "_source": {"title": t, "author": a, "description": f"Un libro de {c}", "category": c,
                                                  "price": p, "rating": r, "publication_year": y}}
    for n, (t, a, c, p, r, y) in enumerate(books, start=1)
]
indexed, errors = helpers.bulk(es, actions, refresh="wait_for")
assert (indexed, errors) == (5, []), (indexed, errors)

try:
    helpers.bulk(es, [{"_index": index, "_id": "bad", "_source": {"title": "x", "price": "cheap"}}])
    raise AssertionError("a document that does not fit the mapping was accepted")
except helpers.BulkIndexError as failure:
    assert failure.errors[0]["index"]["error"]["type"] == "mapper_parsing_exception", failure.errors

found = es.search(
    index=index,
    query={"bool": {
        "must": [{"multi_match": {"query": "solidad", "fields": ["title^3", "author^2", "description"], "fuzziness": "AUTO"}}],
        "filter": [{"range": {"price": {"gte": 10, "lte": 100}}}, {"term": {"category": "Ficción"}}],
    }},
    sort=[{"_score": {"order": "desc"}}, {"rating": {"order": "desc"}}],
    highlight={"fields": {"title": {}}},
)
assert found["hits"]["total"]["value"] == 1, found.body
assert found["hits"]["hits"][0]["_source"]["title"] == "Cien años de soledad"

spanish = es.search(index=index, query={"match": {"title": "programacion"}})
assert {h["_id"] for h in spanish["hits"]["hits"]} == {"2", "4"}, spanish.body

facets = es.search(
    index=index,
    size=0,
    query={"range": {"publication_year": {"gte": 1960, "lt": 2000}}},
    aggs={
        "categories": {"terms": {"field": "category"}},
        "average_price": {"avg": {"field": "price"}},
        "revenue": {"sum": {"field": "price"}},
        "price_bands": {"range": {"field": "price", "ranges": [{"to": 18}, {"from": 18}]}},
    },
)
aggs = facets["aggregations"]
assert aggs["categories"]["buckets"] == [{"key": "Ficción", "doc_count": 3}], aggs
assert abs(aggs["average_price"]["value"] - (19.90 + 17.50 + 15.00) / 3) < 1e-9, aggs
assert abs(aggs["revenue"]["value"] - 52.40) < 1e-9, aggs
assert [b["doc_count"] for b in aggs["price_bands"]["buckets"]] == [2, 1], aggs

suggested = es.search(index=index, size=0, suggest={"titles": {"prefix": "cien", "completion": {"field": "title.suggest"}}})
options = suggested["suggest"]["titles"][0]["options"]
assert [o["text"] for o in options] == ["Cien años de soledad"], options

assert es.count(index=index, query={"term": {"category": "Ficción"}})["count"] == 3
assert es.get(index=index, id="5")["_source"]["title"] == "Rayuela"
try:
    es.get(index=index, id="missing")
    raise AssertionError("a missing document was found")
except NotFoundError:
    pass

es.index(index=index, id="v", document={"title": "Versión"}, version=5, version_type="external", refresh="wait_for")
try:
    es.index(index=index, id="v", document={"title": "Vieja"}, version=4, version_type="external")
    raise AssertionError("an older external version was accepted")
except ConflictError as conflict:
    assert conflict.error == "version_conflict_engine_exception", conflict.info

try:
    es.indices.create(index=f"{index}-geo", mappings={"properties": {"where": {"type": "geo_point"}}})
    raise AssertionError("an unsupported mapping was accepted")
except BadRequestError as refused:
    assert refused.error == "mapper_parsing_exception", refused.info

es.indices.delete(index=index)
assert not es.indices.exists(index=index)
print(f"elasticsearch-py {elasticsearch.__versionstr__} (major {major}): every call answered")
