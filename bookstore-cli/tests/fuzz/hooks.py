"""schemathesis hooks for the fuzz test (bookstore-cli/tests/it/fuzz.rs).

Teaches the fuzzer what the OpenAPI document states but no JSON Schema keyword can
generate: an ISBN's check digit (the document's `format: isbn`).
"""

import schemathesis
from hypothesis import strategies as st


def isbn13(body: str) -> str:
    """An ISBN-13 from its first twelve digits: the check digit makes the weighted sum 0 mod 10."""
    total = sum(int(digit) * (1 if i % 2 == 0 else 3) for i, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


schemathesis.openapi.format("isbn", st.from_regex(r"\A97[89][0-9]{9}\Z").map(isbn13))


@schemathesis.hook
def map_case(context, case):
    """A page cursor is valid only if this server signed it for this query and caller: no
    schema can describe one, so a generated cursor is never positive data. Positive
    cases drop it (and ask for a first page); negative ones keep it, to be refused."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and case.query and "cursor" in case.query:
        case.query = {name: value for name, value in case.query.items() if name != "cursor"}
    return case
