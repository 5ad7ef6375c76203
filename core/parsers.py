"""The API's JSON parser: DRF's, with JSON nested deeper than Python's recursion limit (a 10 KB
body can hold thousands of levels) answered as malformed JSON instead of a crash."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ApiJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
